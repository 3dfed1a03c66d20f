"""The Google Chat adapter's configuration, read from the environment.

Google Chat signs each request with a bearer token whose audience is what the app's
configuration page calls the "Authentication Audience": the HTTP endpoint URL (an OIDC ID token
from accounts.google.com, for chat@system.gserviceaccount.com) or the project number (a JWT that
chat@system.gserviceaccount.com signs itself). Sends go through the Chat API as the app's
service account, whose key file the operator names here.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.platform import AdapterStatus

EVENTS_PATH = "/google-chat/events"
# Reactions: Workspace Events pushed by a Pub/Sub push subscription.
PUBSUB_PATH = "/google-chat/pubsub"
CHAT_API = "https://chat.googleapis.com"
CHAT_ISSUER = "chat@system.gserviceaccount.com"
# Where Google publishes the keys of each kind of token (google-auth's own defaults).
OIDC_CERTS = "https://www.googleapis.com/oauth2/v1/certs"
CHAT_CERTS = f"https://www.googleapis.com/service_accounts/v1/metadata/x509/{CHAT_ISSUER}"
OIDC_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
ENDPOINT_URL, PROJECT_NUMBER = "endpoint_url", "project_number"
AUDIENCE_TYPES = (ENDPOINT_URL, PROJECT_NUMBER)
DEFAULT_TIMEOUT_SECONDS = 15.0
# Every setting this adapter reads: any other GOOGLE_CHAT_* variable is a typo worth naming.
SETTINGS = (
    "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE",
    "GOOGLE_CHAT_AUDIENCE_TYPE",
    "GOOGLE_CHAT_AUDIENCE",
    "GOOGLE_CHAT_API_URL",
    "GOOGLE_CHAT_CERTS_URL",
    "GOOGLE_CHAT_PUBSUB_SERVICE_ACCOUNT",
    "GOOGLE_CHAT_PUBSUB_AUDIENCE",
)


@dataclass(frozen=True)
class GoogleChatConfig:
    service_account_file: str | None = None
    audience_type: str = ENDPOINT_URL
    audience: str = ""
    api_url: str = CHAT_API
    # Where the request tokens' keys are read; tests point it at a local token issuer.
    certs_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    # The service account a Pub/Sub push subscription signs its pushes as: with it, reactions
    # (Workspace Events) are taken at PUBSUB_PATH; the audience is that subscription's.
    pubsub_account: str | None = None
    pubsub_audience: str = ""
    # GOOGLE_CHAT_* variables set but not read (misspelt), said in the start-up status.
    unknown_settings: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str], public_url: str) -> GoogleChatConfig:
        def value(key: str) -> str | None:
            return (env.get(key) or "").strip() or None

        given = (value("GOOGLE_CHAT_AUDIENCE_TYPE") or ENDPOINT_URL).lower().replace("-", "_")
        if given not in AUDIENCE_TYPES:
            raise ValueError(
                f"GOOGLE_CHAT_AUDIENCE_TYPE must be {' or '.join(AUDIENCE_TYPES)}, not '{given}'."
            )
        audience = value("GOOGLE_CHAT_AUDIENCE")
        if audience is None and given == ENDPOINT_URL:
            audience = public_url.rstrip("/") + EVENTS_PATH
        if audience is None:
            raise ValueError(
                "GOOGLE_CHAT_AUDIENCE_TYPE=project_number needs GOOGLE_CHAT_AUDIENCE (the "
                "Google Cloud project number shown on the app's configuration page)."
            )
        _check_audience(given, audience)
        return cls(
            service_account_file=value("GOOGLE_CHAT_SERVICE_ACCOUNT_FILE"),
            audience_type=given,
            audience=audience,
            api_url=(value("GOOGLE_CHAT_API_URL") or CHAT_API).rstrip("/"),
            certs_url=value("GOOGLE_CHAT_CERTS_URL"),
            pubsub_account=value("GOOGLE_CHAT_PUBSUB_SERVICE_ACCOUNT"),
            pubsub_audience=value("GOOGLE_CHAT_PUBSUB_AUDIENCE")
            or public_url.rstrip("/") + PUBSUB_PATH,
            unknown_settings=tuple(
                sorted(k for k in env if k.startswith("GOOGLE_CHAT_") and k not in SETTINGS)
            ),
        )

    @property
    def issuer(self) -> tuple[str, ...]:
        return OIDC_ISSUERS if self.audience_type == ENDPOINT_URL else (CHAT_ISSUER,)

    @property
    def keys_url(self) -> str:
        if self.certs_url:
            return self.certs_url
        return OIDC_CERTS if self.audience_type == ENDPOINT_URL else CHAT_CERTS

    def service_account(self) -> dict[str, Any]:
        """The service account's key, read from its JSON file (ValueError when unusable)."""
        if not self.service_account_file:
            raise ValueError("GOOGLE_CHAT_SERVICE_ACCOUNT_FILE is not set")
        try:
            info = json.loads(Path(self.service_account_file).read_text())
        except (OSError, ValueError) as error:
            raise ValueError(
                f"GOOGLE_CHAT_SERVICE_ACCOUNT_FILE cannot be read as a key file: {error}"
            ) from None
        missing = {"client_email", "private_key", "token_uri"} - set(
            info if isinstance(info, dict) else ()
        )
        if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
            raise ValueError(
                "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE is not a service account key (JSON with "
                "type service_account, client_email, private_key and token_uri)"
            )
        _check_private_key(info["private_key"])
        return dict(info)

    def status(self) -> AdapterStatus:
        typos = _typos(self.unknown_settings)
        if not self.service_account_file:
            return AdapterStatus(
                False,
                "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE is not set (the Chat app's key)" + typos,
                warning=bool(typos),
            )
        try:
            account = self.service_account()
        except ValueError as error:
            return AdapterStatus(False, str(error) + typos, warning=True)
        return AdapterStatus(
            True,
            typos.removeprefix("; ")
            + ("; " if typos else "")
            + f"service account {account['client_email']}; every request's token is checked "
            f"for audience {self.audience} ({self.audience_type.replace('_', ' ')}); "
            f"endpoint {EVENTS_PATH}; "
            + (
                f"reactions pushed by Pub/Sub as {self.pubsub_account} at {PUBSUB_PATH}"
                if self.pubsub_account
                else "no reactions (GOOGLE_CHAT_PUBSUB_SERVICE_ACCOUNT is not set)"
            ),
            warning=bool(typos),
        )


def _check_audience(audience_type: str, audience: str) -> None:
    """A project number is digits and an endpoint is a URL: the other way round, every
    request's token would be refused, so say which setting is wrong."""
    if audience_type == PROJECT_NUMBER and not audience.isdigit():
        raise ValueError(
            f"GOOGLE_CHAT_AUDIENCE must be the project number (digits) with "
            f"GOOGLE_CHAT_AUDIENCE_TYPE=project_number, not '{audience}'"
        )
    if audience_type == ENDPOINT_URL and not audience.startswith(("https://", "http://")):
        raise ValueError(
            f"GOOGLE_CHAT_AUDIENCE '{audience}' is not the endpoint URL; for a project number "
            "set GOOGLE_CHAT_AUDIENCE_TYPE=project_number"
        )


def _check_private_key(pem: object) -> None:
    """The key's private_key loads (else the server would stop at the adapter's creation)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(str(pem).encode(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(
            "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE's private_key is not a usable private key "
            f"({str(error).split('. ')[0]})"
        ) from None


def _typos(unknown: tuple[str, ...]) -> str:
    said = []
    for name in unknown:
        meant = difflib.get_close_matches(name, SETTINGS, n=1)
        said.append(f"{name} is not a setting" + (f" (did you mean {meant[0]}?)" if meant else ""))
    return "; " + "; ".join(said) if said else ""
