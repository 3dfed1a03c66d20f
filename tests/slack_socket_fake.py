"""Slack's Socket Mode, faked on loopback: FakeSlack's Web API plus ``apps.connections.open``
and the WebSocket it hands out.

As Slack publishes it (docs.slack.dev, "Using Socket Mode"): ``apps.connections.open`` takes the
app-level token (``xapp-``) as a Bearer token and answers ``{"ok": true, "url": "wss://…"}``
(here ``ws://127.0.0.1:PORT/link/?ticket=…``, each URL good for one connection); a bot token
is refused ``not_allowed_token_type``, any other ``invalid_auth``, and the app token opens
nothing but connections. On a connection Slack first sends ``hello`` (``num_connections``,
``connection_info.app_id``, ``debug_info``), then envelopes::

    {"envelope_id": "…", "type": "events_api" | "slash_commands" | "interactive",
     "payload": {…}, "accepts_response_payload": bool, "retry_attempt": 0, "retry_reason": ""}

each acknowledged by ``{"envelope_id": "…"}`` on the socket, with a ``payload`` where the
envelope accepts one (a modal's ``response_action``). Slack sends each envelope to one of the
app's connections; one not acknowledged when its connection goes is sent again, on another or
the next connection, with ``retry_attempt`` counted up. ``{"type": "disconnect", "reason":
"refresh_requested" | "warning" | "link_disabled"}`` announces that Slack closes the connection.

Test helpers: ``send_envelope`` (returns its id), ``acknowledged`` (waits for an ack, returns its
payload), ``redeliver`` (Slack's retry of an envelope, acknowledged or not), ``disconnect``
(the announced close), ``drop`` (a close without notice), ``on_ack`` (called with the envelope
id as each ack arrives, before it is recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.slack_fake import FakeSlack, _error

APP_TOKEN = "xapp-1-A0001-1-fakeapptoken"


@dataclass
class Envelope:
    """One envelope as Slack keeps it: what it sent, on which socket, and its acks."""

    body: dict[str, Any]
    socket: web.WebSocketResponse | None = None  # where it was last sent; None: waiting
    acks: list[dict[str, Any] | None] = field(default_factory=list)  # each ack's payload
    acked: asyncio.Event = field(default_factory=asyncio.Event)


class FakeSlackSocketMode(FakeSlack):
    """FakeSlack with Socket Mode: ``app_token`` opens connections to ``/link/``."""

    def __init__(self, *, app_token: str = APP_TOKEN, app_id: str = "A0001", **kwargs: Any):
        super().__init__(**kwargs)
        self.app_token = app_token
        self.app_id = app_id
        self.hellos = 0  # connections that got their hello
        self.closed_by_slack = 0  # connections this fake closed (drop, or left after disconnect)
        self.disconnects_sent = 0
        self.envelopes: dict[str, Envelope] = {}
        self.on_ack: Callable[[str], None] | None = None
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        # Each connection's handler: set once the connection is gone.
        self._handled: dict[web.WebSocketResponse, asyncio.Event] = {}
        self._envelope_counter = itertools.count(1)
        self._turn = itertools.count()
        self._connected = asyncio.Condition()

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.router.add_get("/link/", self._link)
        return app

    async def close(self) -> None:
        await self.drop(count=False)
        await super().close()

    # -- apps.connections.open -----------------------------------------------------------------

    async def _answer(
        self,
        method: str,
        request: web.Request,
        args: dict[str, Any],
        token: str | None,
        basic: dict[str, str],
    ) -> web.Response:
        if method != "apps.connections.open":
            if token == self.app_token:  # an app-level token opens connections, nothing else
                return _error("not_allowed_token_type")
            return await super()._answer(method, request, args, token, basic)
        failure = self._take_failure(method)
        if failure is not None:
            return failure
        if token is None:
            return _error("not_authed")
        if token in self.tokens:
            return _error("not_allowed_token_type")
        if token != self.app_token:
            return _error("invalid_auth")
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        ws_base = self.base_url.replace("http://", "ws://", 1)
        return web.json_response(
            {"ok": True, "url": f"{ws_base}/link/?ticket={ticket}&app_id={self.app_id}"}
        )

    # -- the WebSocket -------------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        done = self._handled[socket] = asyncio.Event()
        try:
            self._sockets.append(socket)
            await socket.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {
                        "host": "applink-fake",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            self.hellos += 1
            async with self._connected:
                self._connected.notify_all()
            await self._send_waiting(socket)
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._received(message.data)
        finally:
            if socket in self._sockets:
                self._sockets.remove(socket)
            done.set()
        return socket

    def _received(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            return
        envelope = (
            self.envelopes.get(str(data.get("envelope_id"))) if isinstance(data, dict) else None
        )
        if envelope is None:
            return
        if self.on_ack is not None:
            self.on_ack(data["envelope_id"])
        envelope.acks.append(data.get("payload"))
        envelope.acked.set()

    async def _send_waiting(self, socket: web.WebSocketResponse) -> None:
        """Envelopes left unacknowledged by a connection that went, or sent while there was
        none: to this new connection, as retries where they had been sent before."""
        for envelope in self.envelopes.values():
            if envelope.acked.is_set():
                continue
            if envelope.socket is None or envelope.socket not in self._sockets:
                if envelope.socket is not None:
                    envelope.body["retry_attempt"] += 1
                    envelope.body["retry_reason"] = "timeout"
                await self._send(envelope, socket)

    async def _send(self, envelope: Envelope, socket: web.WebSocketResponse) -> None:
        envelope.socket = socket
        try:
            await socket.send_json(envelope.body)
        except (ConnectionError, RuntimeError):
            envelope.socket = None  # sent again on the next connection

    def _live_socket(
        self, besides: web.WebSocketResponse | None = None
    ) -> web.WebSocketResponse | None:
        """An open connection, each in turn; another than ``besides`` where there is one."""
        live = [s for s in self._sockets if not s.closed]
        others = [s for s in live if s is not besides]
        live = others or live
        return live[next(self._turn) % len(live)] if live else None

    # -- test helpers --------------------------------------------------------------------------

    async def connected(self, hellos: int = 1, timeout: float = 20) -> None:
        """Wait until ``hellos`` connections in all have been greeted and one is open."""

        def ready() -> bool:
            return self.hellos >= hellos and any(not s.closed for s in self._sockets)

        async with self._connected:
            await asyncio.wait_for(self._connected.wait_for(ready), timeout)

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Send an envelope to one open connection (or to the next one); its id."""
        envelope_id = f"fake-{next(self._envelope_counter):06d}-{secrets.token_hex(4)}"
        envelope = Envelope(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": copy.deepcopy(payload),
                "accepts_response_payload": accepts_response_payload,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        self.envelopes[envelope_id] = envelope
        socket = self._live_socket()
        if socket is not None:
            await self._send(envelope, socket)
        return envelope_id

    async def acknowledged(self, envelope_id: str, timeout: float = 20) -> dict[str, Any] | None:
        """The payload of the envelope's first ack (None: an ack without one), once it came."""
        envelope = self.envelopes[envelope_id]
        await asyncio.wait_for(envelope.acked.wait(), timeout)
        return envelope.acks[0]

    async def redeliver(self, envelope_id: str, reason: str = "timeout") -> None:
        """Slack's retry of an envelope (an ack it did not see in time): the same envelope again,
        ``retry_attempt`` counted up, on another connection where there is one."""
        envelope = self.envelopes[envelope_id]
        envelope.body["retry_attempt"] += 1
        envelope.body["retry_reason"] = reason
        envelope.acked.clear()
        socket = self._live_socket(besides=envelope.socket)
        if socket is not None:
            await self._send(envelope, socket)
        else:
            envelope.socket = None

    async def disconnect(self, reason: str = "refresh_requested", grace: float = 10.0) -> None:
        """Slack's announced close: a ``disconnect`` message on each connection; Slack closes
        a connection the app has not left within ``grace`` seconds (about 10 s for a refresh)."""
        sockets = [socket for socket in self._sockets if not socket.closed]
        for socket in sockets:
            self.disconnects_sent += 1
            await socket.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
            )
        for socket in sockets:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._handled[socket].wait(), grace)
        await self.drop()

    async def drop(self, *, count: bool = True) -> None:
        """Close every open connection, with no notice."""
        sockets, self._sockets = [s for s in self._sockets if not s.closed], []
        for socket in sockets:
            if count:
                self.closed_by_slack += 1
            await socket.close(code=1001, message=b"closed by the fake")
