"""Connections to ``advocacy serve``: how many at once, how long a request's headers may take,
how long an idle connection is kept, and one log line a minute about what was refused.

Every socket costs a file descriptor; past the process's file limit the server can neither
accept a health check nor open its database. So the cap on connections stays below that limit
(raised to the hard limit at start), with room kept for the database, outbound HTTP and logs. At
the cap, the connection that has waited longest for a request (idle, or still sending its
headers) is closed to make room: a flood of idle or slow sockets then churns among itself while
a health check or a platform's request, which sends its request at once, is served. A request's
headers must arrive within ``header_timeout`` of their first byte (slowloris); an idle
connection is closed after ``idle_timeout``.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import enum
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.config import Settings

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no file limit to read
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

ACCEPT_BACKLOG = 100  # also how many sockets one accept round may take before any is checked
FILE_HEADROOM = 64  # descriptors kept for the database pool, outbound HTTP and log files
FEWEST_CONNECTIONS = 8
REPORT_SECONDS = 60.0
CALM_SECONDS = 2.0  # after the last refusal, freed memory is given back to the system
ACCEPT_OUT_OF_FILES = "socket.accept() out of system resource"  # asyncio's message


class Refusal(enum.Enum):
    """Why a connection or a request was closed or refused, as the log line says it."""

    MADE_ROOM = "waiting connections closed to make room"
    ALL_BUSY = "connections refused (every connection busy in a request)"
    SLOW_HEADERS = "connections closed for slow request headers"
    SLOW_BODY = "requests closed for a slow body"
    BODY_BUDGET = "requests refused while other bodies used the body budget"
    UNSIGNED = "unsigned requests to signed endpoints refused"
    ACCEPT_FAILED = "accepts failed: too many open files"


class ProtectionReport:
    """Counts of refusals since the last log line; the guard writes at most one line a minute."""

    def __init__(self) -> None:
        self.counts: Counter[Refusal] = Counter()
        self.last_at = float("-inf")
        self.memory_to_return = False  # refusals since memory was last given back

    def add(self, refusal: Refusal) -> None:
        self.counts[refusal] += 1
        self.last_at = time.monotonic()
        self.memory_to_return = True

    def take_line(self) -> str | None:
        if not self.counts:
            return None
        line = "; ".join(f"{n:,} {refusal.value}" for refusal, n in self.counts.items())
        self.counts.clear()
        return line


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    idle_timeout: float
    max_connections: int
    file_limit: int | None  # None where the system has no per-process limit to read
    reserved_files: int

    def describe(self) -> str:
        files = (
            f"file limit {self.file_limit:,}, {self.reserved_files:,} kept for the database, "
            "outbound HTTP and logs"
            if self.file_limit is not None
            else "no file limit read"
        )
        return (
            f"request headers within {self.header_timeout:g} s, idle connections closed after "
            f"{self.idle_timeout:g} s, at most {self.max_connections:,} connections ({files})"
        )


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


MALLOC_TRIM = _malloc_trim()  # glibc only; elsewhere freed memory is left to the allocator


def return_freed_memory() -> None:
    """Give the heap's free pages back to the system. Without it glibc keeps what an attack's
    buffers used (300 refused 1 MiB bodies left ~20 MiB resident for good)."""
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)


def raise_file_limit() -> int | None:
    """The soft limit on open files, first raised to the hard limit where that is allowed."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # e.g. macOS refuses RLIM_INFINITY: keep the soft limit
    return None if soft == resource.RLIM_INFINITY else int(soft)


def open_files() -> int:
    for listing in ("/proc/self/fd", "/dev/fd"):
        if Path(listing).is_dir():
            return len(os.listdir(listing))
    return 16


def plan_connections(settings: Settings) -> ConnectionLimits:
    """The limits in force: the configured cap, lowered to fit the file limit with room kept
    for what is already open, one accept round and the database, outbound HTTP and logs."""
    file_limit = raise_file_limit()
    cap = settings.http_max_connections
    reserved = 0
    if file_limit is not None:
        reserved = open_files() + ACCEPT_BACKLOG + FILE_HEADROOM
        fitting = file_limit - reserved
        if fitting < FEWEST_CONNECTIONS:
            log.warning(
                "the file limit (%d) leaves room for only %d connections; raise it (ulimit -n)",
                file_limit,
                max(fitting, 0),
            )
        cap = max(FEWEST_CONNECTIONS, min(cap, fitting))
    return ConnectionLimits(
        settings.http_header_timeout, settings.http_idle_timeout, cap, file_limit, reserved
    )


class GuardedConnection(asyncio.Protocol):
    """One client connection: aiohttp's protocol inside, the guard's bookkeeping around it."""

    __slots__ = (
        "admitted",
        "busy",
        "counted",
        "first_byte_at",
        "guard",
        "inner",
        "transport",
        "waiting_since",
    )

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.busy = False  # in a request: from its headers to its handler's answer
        self.waiting_since = 0.0  # when it last started waiting for a request
        self.first_byte_at: float | None = None  # of the request being received
        self.admitted = False  # aiohttp's protocol was told of it (and must be told it ended)
        self.counted = False  # in the guard's count: admitted, and not yet closed by anyone

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.guard.admit(self):
            transport.abort()
            return
        self.admitted = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy and self.first_byte_at is None:
            self.first_byte_at = self.guard.now()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def request_started(self) -> None:
        self.guard.started(self)

    def request_finished(self) -> None:
        self.guard.finished(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ConnectionGuard:
    """Admits, times and closes connections; see the module's docstring for the rules."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.report = ProtectionReport()
        self.count = 0  # admitted and not yet closed
        # Connections not in a request, longest waiting first: the first to make room.
        self._waiting: dict[GuardedConnection, None] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_report = float("-inf")
        self._previous_handler: Any = None

    def now(self) -> float:
        return time.monotonic()

    def protocol_factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], Any]:
        return lambda: GuardedConnection(self, make())

    # ----- the connection's life ----------------------------------------------------------

    def admit(self, connection: GuardedConnection) -> bool:
        if self.count >= self.limits.max_connections:
            if not self._waiting:
                self.report.add(Refusal.ALL_BUSY)
                return False
            self._close(next(iter(self._waiting)), Refusal.MADE_ROOM)
        self.count += 1
        connection.counted = True
        connection.waiting_since = self.now()
        self._waiting[connection] = None
        return True

    def started(self, connection: GuardedConnection) -> None:
        connection.busy = True
        connection.first_byte_at = None
        self._waiting.pop(connection, None)

    def finished(self, connection: GuardedConnection) -> None:
        connection.busy = False
        connection.first_byte_at = None
        connection.waiting_since = self.now()
        if connection.counted:
            self._waiting.pop(connection, None)
            self._waiting[connection] = None  # now the most recent to wait

    def forget(self, connection: GuardedConnection) -> None:
        if connection.counted:
            connection.counted = False
            self.count -= 1
            self._waiting.pop(connection, None)

    def _close(self, connection: GuardedConnection, refusal: Refusal | None) -> None:
        if refusal is not None:
            self.report.add(refusal)
        self.forget(connection)  # its file is free once the loop closes it, within this turn
        connection.close()

    # ----- time-outs and the report -------------------------------------------------------

    def sweep(self) -> None:
        now = self.now()
        headers_due = now - self.limits.header_timeout
        idle_due = now - self.limits.idle_timeout
        for connection in list(self._waiting):
            if connection.first_byte_at is not None:
                if connection.first_byte_at < headers_due:
                    self._close(connection, Refusal.SLOW_HEADERS)
            elif connection.waiting_since < idle_due:
                self._close(connection, None)  # an idle connection's normal end
        if self.report.counts and now - self._last_report >= REPORT_SECONDS:
            self._write_report(now)

    def _write_report(self, now: float) -> None:
        line = self.report.take_line()
        if line:
            self._last_report = now
            log.warning(
                "HTTP protection: %s (%d connections open, cap %d)",
                line,
                self.count,
                self.limits.max_connections,
            )

    async def _sweep_forever(self) -> None:
        every = min(1.0, self.limits.header_timeout / 2)
        while True:
            await asyncio.sleep(every)
            self.sweep()
            report = self.report
            if report.memory_to_return and self.now() - report.last_at >= CALM_SECONDS:
                report.memory_to_return = False
                await asyncio.to_thread(return_freed_memory)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Counts asyncio's "out of files" accept errors, which it would log with a traceback
        many times a second; anything else goes to the handler that was there before."""
        if context.get("message") == ACCEPT_OUT_OF_FILES:
            self.report.add(Refusal.ACCEPT_FAILED)
        elif self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._previous_handler = self._loop.get_exception_handler()
        self._loop.set_exception_handler(self._on_loop_error)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="connection guard")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        self._write_report(self.now())
        if self._loop is not None:
            self._loop.set_exception_handler(self._previous_handler)
            self._loop = None


class GuardedSite(web.BaseSite):
    """A TCP site whose connections all pass through a :class:`ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard):
        super().__init__(runner, backlog=ACCEPT_BACKLOG)
        self._host = host
        self._port = port
        self.guard = guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.guard.protocol_factory(server), self._host, self._port, backlog=self._backlog
        )
        self.guard.start()

    async def stop(self) -> None:
        await self.guard.stop()
        await super().stop()


def guarded_connection(request: web.BaseRequest) -> GuardedConnection | None:
    """The request's connection, when a guard watches it (``advocacy serve``; not test servers)."""
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, GuardedConnection) else None


@web.middleware
async def track_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Marks the connection busy from a request's headers to its answer, and waiting after."""
    connection = guarded_connection(request)
    if connection is None:
        return await handler(request)
    connection.request_started()
    try:
        return await handler(request)
    finally:
        connection.request_finished()
