"""Slack over Socket Mode: the same Bolt app and listeners as over HTTP, fed by a WebSocket the
bot opens with the app-level token (``SLACK_APP_TOKEN``), so no public URL is needed.

Acknowledged means durable here too: slack-bolt's Socket Mode handler sends an envelope's ack
only once the Bolt app has answered, and the app answers (``process_before_response``) only once
the listener has written the envelope to the inbox; a listener that fails (the database away,
the server stopping) answers 500, no ack is sent, and Slack delivers the envelope again, which
the inbox counts once. A modal's ``response_action`` rides in the ack's payload, as it rides in
the HTTP answer.

slack_sdk reconnects by itself (Slack's ``disconnect`` message, a dropped socket, failing
pings); its own lines are held at WARNING like every library's, so this module says in the log
what happened: each connection, each reconnect and why.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
from aiohttp import WSMessage, web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError

from adapters.slack.adapter import SlackAdapter
from adapters.slack.config import INSTALL_PATH, REDIRECT_PATH, SlackConfig
from adapters.slack.errors import TOKEN_ERRORS
from adapters.slack.errors import reason as _reason
from bot.platform import AdapterContext, SignedEndpoint

log = logging.getLogger(__name__)

# Seconds between pings (slack_sdk reconnects after four unanswered ones).
PING_INTERVAL = 5.0
# A disconnect message this recent explains the close and the reconnect that follow it (Slack
# closes a connection about 10 s after asking for a refresh).
ANNOUNCED_SECONDS = 60.0
# Waits between attempts to open the first connection while Slack cannot be reached.
FIRST_CONNECT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


class SlackSocketAdapter(SlackAdapter):
    """Slack with ``SLACK_APP_TOKEN``: envelopes over Socket Mode instead of HTTP requests
    (``SocketConnection``); every flow is the HTTP adapter's."""

    # Slack signs nothing over Socket Mode, and no Slack request reaches this server.
    signed_endpoints: tuple[SignedEndpoint, ...] = ()

    def __init__(self, context: AdapterContext, config: SlackConfig) -> None:
        assert config.app_token is not None
        super().__init__(context, config)
        self._handler: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._connections = 0  # hellos received: the first is a connection, later ones reconnects
        # Slack's last disconnect message: its reason, and when (the loop's clock).
        self._announced: tuple[str, float] | None = None

    def mount(self, app: web.Application) -> None:
        # Only the OAuth install pages, which the installing admin's browser opens.
        if self.app.oauth_flow is not None:
            app.router.add_get(INSTALL_PATH, self._handle_install)
            app.router.add_get(REDIRECT_PATH, self._handle_oauth_redirect)

    @property
    def connected(self) -> bool:
        """Whether the Socket Mode connection is up now (``SocketConnection``)."""
        if self._handler is None:
            return False
        client = self._handler.client
        session = client.current_session
        return not client.closed and not client.stale and session is not None and not session.closed

    async def start(self) -> None:
        await super().start()  # checks the bot token (or counts the installs)
        log.info("slack: Socket Mode (SLACK_APP_TOKEN set), no public URL needed; connecting")
        handler = AsyncSocketModeHandler(
            self.app,
            app_token=self.config.app_token,
            web_client=self._client(None),  # the Web API URL tests point at a fake
            ping_interval=PING_INTERVAL,
        )
        client = handler.client
        client.on_message_listeners.append(self._on_socket_message)
        client.on_close_listeners.append(self._on_socket_closed)
        self._handler = handler
        # Not awaited: the server starts while Slack is unreachable, and says so in the log.
        self._connecting = asyncio.create_task(self._first_connection())

    async def stop(self) -> None:
        """Close the connection: an envelope not yet acknowledged is sent again by Slack (to
        another instance, or to this one when it is back); acknowledged ones wait in the inbox."""
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
            self._connecting = None
        if self._handler is not None:
            handler, self._handler = self._handler, None
            try:
                await handler.close_async()
            except (aiohttp.ClientError, OSError, RuntimeError) as error:
                log.warning("slack: the Socket Mode connection did not close cleanly: %s", error)
            log.info("slack: Socket Mode connection closed")
        await super().stop()

    async def _first_connection(self) -> None:
        """Open the first connection, saying why when Slack refuses the app token (retrying
        cannot mend it) or cannot be reached (tried again, less and less often)."""
        assert self._handler is not None
        client = self._handler.client
        attempt = 0
        while True:
            try:
                client.wss_uri = await client.issue_new_wss_url()
                break
            except SlackApiError as error:
                reason = _reason(error)
                if reason in TOKEN_ERRORS or reason == "not_allowed_token_type":
                    log.error(
                        "slack: Slack refused SLACK_APP_TOKEN (%s): use the app-level token "
                        "(xapp-…) of this app, with the connections:write scope (Basic "
                        "Information → App-Level Tokens), and check that Socket Mode is on in "
                        "the app's settings; no Slack event arrives until it is fixed",
                        reason,
                    )
                    return
                failure = reason
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                failure = _reason(error)
            wait = FIRST_CONNECT_BACKOFF[min(attempt, len(FIRST_CONNECT_BACKOFF) - 1)]
            log.warning(
                "slack: Socket Mode could not connect (%s); trying again in %g s", failure, wait
            )
            attempt += 1
            await asyncio.sleep(wait)
        await client.connect()  # slack_sdk retries from here, and reconnects from then on

    # ----- what the connection says -------------------------------------------------------

    def _announced_reason(self) -> str | None:
        """The reason of Slack's disconnect message, if one came just now."""
        if self._announced is None:
            return None
        reason, at = self._announced
        recent = asyncio.get_running_loop().time() - at < ANNOUNCED_SECONDS
        return reason if recent else None

    async def _on_socket_message(self, message: WSMessage) -> None:
        """Slack's own messages on the socket (``hello``, ``disconnect``), for the log; the
        envelopes go on to Bolt."""
        try:
            data: Any = json.loads(message.data)
        except (TypeError, ValueError):
            return
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        if kind == "hello":
            self._connections += 1
            others = int(data.get("num_connections") or 1) - 1
            shared = f"; {others} other connection(s) share this app" if others > 0 else ""
            if self._connections == 1:
                log.info("slack: Socket Mode connected%s", shared)
            else:
                reason = self._announced_reason()
                why = f"Slack asked: {reason}" if reason else "the connection was lost"
                log.info("slack: Socket Mode reconnected (%s)%s", why, shared)
        elif kind == "disconnect":
            reason = str(data.get("reason") or "unknown")
            self._announced = (reason, asyncio.get_running_loop().time())
            log.info("slack: Slack asked to reconnect (%s); opening a new connection", reason)

    async def _on_socket_closed(self, message: WSMessage) -> None:
        """Slack closed the socket; slack_sdk has opened a new one already."""
        if self._announced_reason() is None:
            log.warning("slack: Slack closed the Socket Mode connection unannounced; reconnected")


__all__ = ["SlackSocketAdapter"]
