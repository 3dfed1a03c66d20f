"""Checking that a request comes from Google Chat: its bearer token is signed by one of Google's
published keys, issued to Chat, for this app's audience, and not expired (google-auth's JWT
checks; the keys are read with aiohttp and kept as long as Google's Cache-Control allows)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

import aiohttp
from google.auth import exceptions, jwt

from adapters.google_chat.config import (
    CHAT_ISSUER,
    ENDPOINT_URL,
    OIDC_CERTS,
    OIDC_ISSUERS,
    GoogleChatConfig,
)

log = logging.getLogger(__name__)

# Without a Cache-Control max-age the keys are read again after this long.
DEFAULT_KEYS_SECONDS = 3600.0
# An unknown key id reads the keys again (Google rotated them), at most this often.
REFRESH_AT_MOST_EVERY = 60.0
CLOCK_SKEW_SECONDS = 30


class RequestVerifier:
    """Checks one kind of Google-signed token: its keys' URL, audience, issuers, and the
    account (``email``) it must be issued for, when it is an OIDC ID token."""

    def __init__(
        self,
        *,
        keys_url: str,
        audience: str,
        issuers: tuple[str, ...],
        email: str | None,
        timeout: float,
    ) -> None:
        self.keys_url = keys_url
        self.audience = audience
        self.issuers = issuers
        self.email = email
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._keys: dict[str, str] = {}
        self._expires = 0.0
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def for_chat(cls, config: GoogleChatConfig) -> RequestVerifier:
        """Google Chat's own requests, per the app's authentication audience."""
        return cls(
            keys_url=config.keys_url,
            audience=config.audience,
            issuers=config.issuer,
            email=CHAT_ISSUER if config.audience_type == ENDPOINT_URL else None,
            timeout=config.timeout,
        )

    @classmethod
    def for_pubsub(cls, config: GoogleChatConfig) -> RequestVerifier:
        """Pub/Sub's pushes: an OIDC ID token for the subscription's service account."""
        return cls(
            keys_url=config.certs_url or OIDC_CERTS,
            audience=config.pubsub_audience,
            issuers=OIDC_ISSUERS,
            email=config.pubsub_account,
            timeout=config.timeout,
        )

    def use(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def claims(self, authorization: str) -> dict[str, Any] | None:
        """The token's claims when the request is Google Chat's own; None for anything else
        (no token, forged, another audience or issuer, expired)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        token = token.strip()
        try:
            kid = _key_id(token)
            keys = await self._keys_for(kid)
            claims = jwt.decode(
                token,
                certs=keys,
                audience=self.audience,
                clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )
        except (ValueError, exceptions.GoogleAuthError, aiohttp.ClientError, TimeoutError) as e:
            log.info("google_chat: a request's token was refused: %s", _short(e))
            return None
        if claims.get("iss") not in self.issuers:
            log.info("google_chat: a request's token has the wrong issuer")
            return None
        if self.email is not None and (
            claims.get("email") != self.email or claims.get("email_verified") is False
        ):
            log.info("google_chat: a request's ID token is for another account")
            return None
        return dict(claims)

    async def _keys_for(self, kid: str | None) -> dict[str, str]:
        now = time.monotonic()
        stale = now >= self._expires
        rotated = (
            kid is not None
            and kid not in self._keys
            and now - self._read_at > REFRESH_AT_MOST_EVERY
        )
        if stale or rotated:
            async with self._lock:
                if time.monotonic() >= self._expires or rotated:
                    await self._read_keys()
        return self._keys

    async def _read_keys(self) -> None:
        assert self._session is not None, "the verifier needs a session (start the adapter)"
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with self._session.get(self.keys_url, timeout=timeout) as response:
            response.raise_for_status()
            keys = json.loads(await response.text())
            max_age = _max_age(response.headers.get("Cache-Control", ""))
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            raise ValueError("the token keys are not a map of key ids to certificates")
        self._keys = keys
        self._read_at = time.monotonic()
        self._expires = self._read_at + (max_age if max_age is not None else DEFAULT_KEYS_SECONDS)


def _key_id(token: str) -> str | None:
    header = jwt.decode_header(token)
    kid = header.get("kid") if isinstance(header, dict) else None
    return str(kid) if kid else None


def _max_age(cache_control: str) -> float | None:
    if "no-store" in cache_control or "no-cache" in cache_control:
        return 0.0
    found = re.search(r"max-age=(\d+)", cache_control)
    return float(found.group(1)) if found else None


def _short(error: BaseException) -> str:
    return (str(error) or type(error).__name__)[:200]
