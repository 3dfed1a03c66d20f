"""Proactive messages posted to the Bot Connector with aiohttp on one shared session.

botbuilder's Connector client sends through msrest and ``requests``, each call in the event
loop's default thread pool: profiled during a digest run, those threads (urllib3, http.client,
fighting the loop for the GIL) and msrest's serialization of the whole Adaptive Card were about
half of the sending process's CPU. Here the activity goes out on the loop itself, over kept-alive
connections, with the same Bearer token the Connector client would attach (none without an app
id: a local emulator's set-up), and a failure is raised in the shapes ``errors.delivery_error``
and ``errors.http_status`` read."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticationConstants
from multidict import CIMultiDictProxy

from adapters.teams.auth import CONNECTOR_TIMEOUT
from adapters.teams.errors import DroppedConnection

SENT = frozenset({200, 201, 202})  # what botbuilder's send_to_conversation accepts


class ConnectorResponse:
    """The refused call's status and headers, where ``http_status`` looks for them."""

    def __init__(self, status: int, headers: CIMultiDictProxy[str], body: str) -> None:
        self.status = status
        self.headers = headers
        self.text = body


class ConnectorRefused(Exception):
    """The Connector answered with a status other than 200, 201 or 202."""

    def __init__(self, response: ConnectorResponse) -> None:
        super().__init__(f"HTTP {response.status}: {response.text[:200]}")
        self.response = response


class ActivityPoster:
    """One aiohttp session for every proactive send, opened on first use, closed by ``close``."""

    def __init__(self, timeout: float = CONNECTOR_TIMEOUT) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def send(
        self, credentials: Any, service_url: str, conversation_id: str, activity: Activity
    ) -> str:
        """Post ``activity`` to the end of the conversation (sendToConversation); its id."""
        conversation = quote(conversation_id, safe="")
        url = f"{service_url.rstrip('/')}/v3/conversations/{conversation}/activities"
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        token = await _token(credentials)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(activity_body(activity))
        try:
            async with self._open().post(url, data=body, headers=headers) as response:
                text = await response.text()
                if response.status not in SENT:
                    raise ConnectorRefused(
                        ConnectorResponse(response.status, response.headers, text)
                    )
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as error:
            raise DroppedConnection(str(error) or type(error).__name__) from error
        answer = json.loads(text) if text else {}
        # A 202 may come without a body: sent, but with no id to update it by later.
        return str((answer.get("id") if isinstance(answer, dict) else None) or "")

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env: HTTPS_PROXY and NO_PROXY apply, as they did to requests.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trust_env=True,
                connector=aiohttp.TCPConnector(ssl=_certificates()),
            )
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def activity_body(activity: Activity) -> dict[str, Any]:
    """The activity as JSON, the cards' content put in as it is: msrest would walk every value
    of every card (a few KB of nested dicts) to copy it unchanged."""
    attachments = activity.attachments
    activity.attachments = None
    try:
        body: dict[str, Any] = activity.serialize()
    finally:
        activity.attachments = attachments
    if attachments:
        body["attachments"] = [
            {
                key: value
                for key, value in (
                    ("contentType", item.content_type),
                    ("contentUrl", item.content_url),
                    ("content", item.content),
                    ("name", item.name),
                    ("thumbnailUrl", item.thumbnail_url),
                )
                if value is not None
            }
            for item in attachments
        ]
    return body


async def _token(credentials: Any) -> str | None:
    """The Connector client's own token (MSAL, cached until it must be renewed), or None where
    it would send none: no app id, an emulator's set-up. MSAL asks Azure AD synchronously when
    its cache is empty, so it is asked in a thread, as msrest did."""
    app_id = getattr(credentials, "microsoft_app_id", None)
    if not app_id or app_id == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID:
        return None
    return await asyncio.to_thread(credentials.get_access_token)


def _certificates() -> ssl.SSLContext | bool:
    """A CA bundle named the way requests reads it (REQUESTS_CA_BUNDLE, a company's TLS
    inspection proxy) still applies to these posts; otherwise the system's store."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return ssl.create_default_context(cafile=bundle) if bundle else True
