"""The Chat API's REST surface, as the app's service account: create and update messages, find
(or set up) a person's direct-message space. Failures become ``DeliveryError``s the outbox
understands: a 429 says when to retry, 400/403/404 are permanent, a refused token stops sends
until an operator acts, 5xx and timeouts are retried."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from google.auth import exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from bot.platform import DeliveryError

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/chat.bot"
# A 429 without Retry-After: Google asks for exponential backoff; the outbox adds its own.
DEFAULT_RETRY_AFTER = 10.0


class ChatApi:
    def __init__(
        self,
        api_url: str,
        account: dict[str, Any],
        *,
        timeout: float,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        # token_uri comes from the key file: Google's, or a local issuer in tests.
        self._credentials = service_account.Credentials.from_service_account_info(
            account, scopes=[SCOPE]
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._lock = asyncio.Lock()

    def use(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def token(self) -> str:
        """The service account's access token, kept until it nears expiry; refreshed in a thread
        (google-auth's refresh is blocking)."""
        async with self._lock:
            if not self._credentials.valid:
                try:
                    await asyncio.to_thread(self._credentials.refresh, Request())
                except exceptions.TransportError as error:
                    raise DeliveryError(f"Google's token service did not answer: {error}") from None
                except exceptions.RefreshError as error:
                    raise DeliveryError(
                        f"Google refused the service account's key ({_first_line(error)}): fix "
                        "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE",
                        platform_down=True,
                    ) from None
            return str(self._credentials.token)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        assert self._session is not None, "the Chat API needs a session (start the adapter)"
        headers = {"Authorization": f"Bearer {await self.token()}"}
        try:
            async with self._session.request(
                method,
                f"{self.api_url}/v1/{path}",
                json=json,
                params=params,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                if response.status >= 400:
                    raise await _delivery_error(response)
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DeliveryError(
                f"the Chat API did not answer: {error or type(error).__name__}"
            ) from None
        return answer if isinstance(answer, dict) else {}

    async def create_message(
        self, space: str, body: dict[str, Any], request_id: str | None = None
    ) -> str:
        """The new message's name. With ``request_id``, a repeat of the request (the outbox
        sending again a delivery whose answer was lost in a crash) returns the message already
        created instead of creating a second one."""
        params = {"requestId": request_id} if request_id else None
        answer = await self.call("POST", f"{space}/messages", json=body, params=params)
        return str(answer.get("name") or "")

    async def update_message(self, name: str, body: dict[str, Any]) -> None:
        mask = ",".join(key for key in ("text", "cardsV2") if key in body) or "cardsV2"
        await self.call("PATCH", name, json=body, params={"updateMask": mask})

    async def direct_space(self, user: str) -> str | None:
        """The app's DM space with ``user``; None when there is none yet."""
        try:
            answer = await self.call("GET", "spaces:findDirectMessage", params={"name": user})
        except DeliveryError as error:
            if getattr(error, "status", None) == 404:
                return None
            raise
        return str(answer.get("name") or "") or None

    async def set_up_direct_space(self, user: str) -> str:
        answer = await self.call(
            "POST",
            "spaces:setup",
            json={
                "space": {"spaceType": "DIRECT_MESSAGE", "singleUserBotDm": True},
                "memberships": [{"member": {"name": user, "type": "HUMAN"}}],
            },
        )
        return str(answer.get("name") or "")


async def _delivery_error(response: aiohttp.ClientResponse) -> DeliveryError:
    status = response.status
    try:
        detail = (
            ((await response.json(content_type=None)) or {}).get("error", {}).get("message", "")
        )
    except (ValueError, AttributeError, aiohttp.ClientError):
        detail = ""
    reason = f"HTTP {status}" + (f": {detail[:200]}" if detail else "")
    if status == 429:
        given = response.headers.get("Retry-After", "")
        retry_after = float(given) if given.replace(".", "", 1).isdigit() else DEFAULT_RETRY_AFTER
        error = DeliveryError(
            f"Chat API rate limit (429), retry after {retry_after:.0f}s", retry_after=retry_after
        )
    elif status == 401:
        error = DeliveryError(
            f"the Chat API refused the app's token ({reason}): check the service account and "
            "that the Chat API is enabled in its project",
            platform_down=True,
        )
    elif status >= 500:
        error = DeliveryError(f"the Chat API failed ({reason})")
    else:
        error = DeliveryError(
            f"the Chat API refused the request ({reason})", permanent=status in (400, 403, 404)
        )
    error.status = status  # type: ignore[attr-defined]
    return error


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
