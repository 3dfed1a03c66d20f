"""What one request may cost the server before a handler sees it: requests to a signed endpoint
that lack the signature's headers are refused before their body is read, and every body is read
here, within a time limit and a budget shared by all requests, so that slow or never-finished
bodies cannot hold the server's memory or a handler.

The connection-level limits (headers, idle connections, how many at once) are in
``bot/connection_guard.py``; its middleware is first in the list :func:`request_limits` returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.config import Settings
from bot.connection_guard import ConnectionLimits, Refusal, guarded_connection, track_requests
from bot.platform.contract import SignedEndpoint

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# What aiohttp buffers of a body nobody has asked for yet (it stops reading the socket at twice
# this). Its default, 64 KiB, let 240 never-finished bodies, refused by the middlewares below,
# briefly take +95 MiB; with 16 KiB, +30 MiB. A body being read is read in larger pieces.
READ_BUFFER = 16 * 1024
SHUTDOWN_SECONDS = 3.0


# The core's own signed webhooks; adapters declare theirs (bot.platform.SignedRequests).
SIGNED_ENDPOINTS = (
    # While VOICE_WEBHOOK_SECRET is unset the webhook itself answers 503 "the webhook is off".
    SignedEndpoint(
        "/voice/webhook",
        ("X-Advocacy-Signature", "X-Advocacy-Timestamp"),
        unless_unset="VOICE_WEBHOOK_SECRET",
    ),
    SignedEndpoint(
        "/webhooks/kpi",
        ("X-Advocacy-Signature", "X-Advocacy-Timestamp"),
        unless_unset="KPI_WEBHOOK_SECRET",
    ),
)


@dataclass(frozen=True)
class BodyLimits:
    """How long a body may take to arrive (from the end of its headers) and how many bytes of
    bodies may be read or held by handlers at once, all requests together."""

    timeout: float
    budget: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(settings.http_body_timeout, int(settings.http_body_budget_mb * MIB))

    def describe(self) -> str:
        return (
            f"request bodies within {self.timeout:g} s, {self.budget / MIB:g} MiB of bodies "
            "at once; unsigned requests to signed endpoints refused before their body"
        )


class BodyBudget:
    """Bytes of request bodies being read or handled now. A request reserves its declared size
    (or the largest allowed, when it declares none) before a byte is read, and gives it back
    when its handler is done."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0

    def reserve(self, size: int) -> bool:
        if self.in_use + size > self.capacity:
            return False
        self.in_use += size
        return True

    def release(self, size: int) -> None:
        self.in_use -= size


def refuse_unsigned(
    settings: Settings, adapters_endpoints: Iterable[SignedEndpoint] = ()
) -> Middleware:
    """401 for a POST to a signed endpoint without the signature's headers, before the body:
    the core's webhooks and the endpoints the enabled adapters declare."""
    endpoints = {
        endpoint.path: endpoint.headers
        for endpoint in (*SIGNED_ENDPOINTS, *adapters_endpoints)
        if not endpoint.unless_unset or (settings.env.get(endpoint.unless_unset) or "").strip()
    }

    @web.middleware
    async def refuse_unsigned_requests(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        wanted = endpoints.get(request.path)
        if (
            wanted
            and request.method == "POST"
            and request.match_info.http_exception is None  # the endpoint is mounted
            and not all(request.headers.get(name, "").strip() for name in wanted)
        ):
            _note(request, Refusal.UNSIGNED)
            return _closing(401, "the request is not signed")
        return await handler(request)

    return refuse_unsigned_requests


def read_bodies_within_limits(limits: BodyLimits) -> Middleware:
    """Read each request's body before its handler, within ``limits``; the handler's own
    ``request.read()`` (``text()``, ``json()``, ``post()``) then returns the body already read."""
    budget = BodyBudget(limits.budget)

    @web.middleware
    async def read_body(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.can_read_body or request.match_info.http_exception is not None:
            return await handler(request)  # nothing to read, or a 404/405 that will not read it
        largest = request.client_max_size
        size = request.content_length if request.content_length is not None else largest
        if size > largest:
            return _closing(413, f"the body is over {largest // MIB} MB")
        if not budget.reserve(size):
            _note(request, Refusal.BODY_BUDGET)
            response = _closing(503, "the server is busy reading other requests; try again")
            response.headers["Retry-After"] = "5"
            return response
        try:
            try:
                async with asyncio.timeout(limits.timeout):
                    await request.read()
            except TimeoutError:
                _note(request, Refusal.SLOW_BODY)
                return _closing(408, f"the body did not arrive within {limits.timeout:g} s")
            except web.HTTPRequestEntityTooLarge:
                return _closing(413, f"the body is over {largest // MIB} MB")
            return await handler(request)
        finally:
            budget.release(size)

    return read_body


def request_limits(
    settings: Settings, adapters_endpoints: Iterable[SignedEndpoint] = ()
) -> list[Middleware]:
    """The middlewares that protect the server, outermost first."""
    return [
        track_requests,
        refuse_unsigned(settings, adapters_endpoints),
        read_bodies_within_limits(BodyLimits.from_settings(settings)),
    ]


def server_options(limits: ConnectionLimits) -> dict[str, Any]:
    """aiohttp's own settings for ``advocacy serve`` (``web.AppRunner``'s keyword arguments)."""
    return {
        "keepalive_timeout": limits.idle_timeout,
        # No lingering: a request refused before its body was read is closed at once, instead
        # of reading (and dropping) the rest of an unwanted body for up to 10 s.
        "lingering_time": 0,
        "read_bufsize": READ_BUFFER,
        # On SIGTERM, requests still running get this long (an acknowledgement takes
        # milliseconds; a client dripping a body is not waited for): a deploy's stop must fit
        # in a container's grace period (Docker's is 10 s).
        "shutdown_timeout": SHUTDOWN_SECONDS,
    }


def _closing(status: int, error: str) -> web.Response:
    """An error after which the connection closes: what is left of the body is not wanted."""
    response = web.json_response({"error": error}, status=status)
    response.force_close()
    return response


def _note(request: web.Request, refusal: Refusal) -> None:
    connection = guarded_connection(request)
    if connection is not None:
        connection.guard.report.add(refusal)
    else:
        log.debug("refused a request to %s: %s", request.path, refusal.value)
