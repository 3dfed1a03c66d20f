"""Slow and idle clients against the real ``advocacy serve`` over real sockets: request headers
sent a byte at a time are cut off, never-finished bodies hold no memory, and a flood of idle
connections past the file limit leaves /healthz answering and the log quiet."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from contextlib import suppress
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.slack.config import EVENTS_PATH
from adapters.teams.config import MESSAGES_PATH
from bot.config import Settings
from bot.connection_guard import ConnectionGuard, ConnectionLimits, GuardedSite
from bot.http_limits import SIGNED_ENDPOINTS
from content.voice.webhook import PATH as WEBHOOK_PATH
from content.voice.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.serve_process import RunningServer, running_serve, wait_for

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
MIB = 1024 * 1024


def serve_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "ADVOCACY_DATA_DIR": str(tmp_path / "data"),
        "ADVOCACY_SECRET_KEY": "slow-clients-key-be244438e3249db4230e1931",
        "VOICE_WEBHOOK_SECRET": "webhook-secret-for-tests",
        **extra,
    }
    if settings.database_schema:
        env["DATABASE_SCHEMA"] = settings.database_schema
    for variable in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "MICROSOFT_APP_ID", "LOG_LEVEL"):
        env.pop(variable, None)
    return env


def port_of(server: RunningServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def resident_mib(server: RunningServer) -> float:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    [line] = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024


async def healthz(server: RunningServer) -> int:
    """/healthz on a new connection; a generous deadline, as a load balancer's check has one."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(server.base_url + "/healthz") as response,
    ):
        return response.status


def closed_by_server(reader: asyncio.StreamReader) -> bool:
    return reader.at_eof() or reader.exception() is not None


async def watch_for_close(reader: asyncio.StreamReader) -> None:
    """Reads (and drops) whatever the server sends until it closes the connection."""
    with suppress(OSError):
        while await reader.read(65536):
            pass


def test_the_core_s_signed_endpoints_are_the_webhooks_own() -> None:
    """The middleware refuses requests without these headers: they must be the ones the
    webhook really checks (adapters declare their own: tests/contract/test_signed.py)."""
    table = {endpoint.path: endpoint.headers for endpoint in SIGNED_ENDPOINTS}
    assert table[WEBHOOK_PATH] == (SIGNATURE_HEADER, TIMESTAMP_HEADER)
    assert EVENTS_PATH not in table and MESSAGES_PATH not in table


async def test_connections_closed_to_make_room_are_let_go_by_aiohttp_too() -> None:
    """At a cap of 5, 30 idle connections: the 25 oldest are closed, and aiohttp's own list of
    connections agrees with the guard's count (it once kept every connection the guard closed,
    5 KiB each, for good: +100 MiB after a minute's flood). A request still gets through."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    limits = ConnectionLimits(
        header_timeout=10, idle_timeout=75, max_connections=5, file_limit=None, reserved_files=0
    )
    guard = ConnectionGuard(limits)
    await GuardedSite(runner, "127.0.0.1", 0, guard).start()
    flood: list[Connection] = []
    try:
        port = runner.addresses[0][1]
        flood = [await asyncio.open_connection("127.0.0.1", port) for _ in range(30)]
        await wait_for(
            lambda: sum(closed_by_server(reader) for reader, _ in flood) == 25,
            "the 25 oldest to be closed",
        )
        server = runner.server
        assert server is not None
        await wait_for(
            lambda: len(server.connections) == guard.count == 5, "aiohttp to let them go"
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            assert await response.text() == "hello"
        assert closed_by_server(flood[5][0]) and not closed_by_server(flood[-1][0])
    finally:
        for _, writer in flood:
            writer.transport.abort()
        await runner.cleanup()


async def test_request_headers_sent_a_byte_at_a_time_are_cut_off(
    settings: Settings, tmp_path: Path
) -> None:
    """Slowloris: 60 connections each sending one header byte every 0.2 s are all closed by the
    server (they would never finish), and /healthz answers meanwhile."""
    env = serve_env(settings, tmp_path, HTTP_HEADER_TIMEOUT="2")
    async with running_serve(env, tmp_path) as server:
        port = port_of(server)
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(60)]
        headers = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100_000
        stop = asyncio.Event()

        async def trickle(writer: asyncio.StreamWriter) -> None:
            for byte in headers:
                if stop.is_set() or writer.is_closing():
                    return
                with suppress(OSError):
                    writer.write(bytes([byte]))
                await asyncio.sleep(0.2)

        watchers = [asyncio.create_task(watch_for_close(r)) for r, _ in connections]
        tricklers = [asyncio.create_task(trickle(w)) for _, w in connections]
        try:
            assert await healthz(server) == 200
            await wait_for(
                lambda: all(w.done() for w in watchers), "the server to close them", timeout=60
            )
            assert await healthz(server) == 200
            await wait_for(
                lambda: server.said("connections closed for slow request headers"),
                "one log line counting them",
            )
        finally:
            stop.set()
            for _, writer in connections:
                writer.transport.abort()
            await asyncio.gather(*watchers, *tricklers, return_exceptions=True)


async def never_finished_body(port: int, headers: dict[str, str]) -> Connection:
    """A POST to the webhook announcing 1 MiB and sending all of it but the last byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MIB}\r\n{head}\r\n".encode()
    )
    with suppress(OSError, TimeoutError):
        for piece in range(16):
            writer.write(b" " * (MIB // 16 - (1 if piece == 15 else 0)))
            await asyncio.wait_for(writer.drain(), 20)
    return reader, writer


async def test_never_finished_bodies_hold_no_memory(settings: Settings, tmp_path: Path) -> None:
    """240 bodies of 1 MiB that never finish, half without signature headers and half with
    wrong ones: the server's memory stays within a bound while they hang, every one of them is
    closed, and the memory comes back. (Before: all held for good, +300 MiB.)"""
    env = serve_env(settings, tmp_path, HTTP_BODY_TIMEOUT="3")
    async with running_serve(env, tmp_path) as server:
        port = port_of(server)
        assert await healthz(server) == 200
        before = resident_mib(server)
        peak = before
        sampling = True

        async def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, resident_mib(server))
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        signature = {
            TIMESTAMP_HEADER: str(int(time.time())),
            SIGNATURE_HEADER: "sha256=" + "0" * 64,
        }
        attack = await asyncio.gather(
            *(never_finished_body(port, {} if n % 2 else signature) for n in range(240))
        )
        watchers = [asyncio.create_task(watch_for_close(reader)) for reader, _ in attack]
        try:
            assert await healthz(server) == 200
            await wait_for(
                lambda: all(w.done() for w in watchers), "every body to be given up", timeout=60
            )
            sampling = False
            await sampler
            assert peak - before < 120, f"{before:.0f} MiB before, {peak:.0f} MiB at the peak"
            await wait_for(
                lambda: resident_mib(server) - before < 16, "the memory to come back", timeout=30
            )
            assert await healthz(server) == 200
        finally:
            sampling = False
            for _, writer in attack:
                writer.transport.abort()
            await asyncio.gather(sampler, *watchers, return_exceptions=True)


def low_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


async def test_an_idle_flood_past_the_file_limit_leaves_healthz_answering(
    settings: Settings, tmp_path: Path
) -> None:
    """With a file limit of 256, 400 idle connections (and 400 more while /healthz is asked):
    every health check is answered, and the log says so in a line or two, not a flood of
    "Too many open files". (Before: /healthz timed out, 30 MB of log in 30 s.)"""
    env = serve_env(settings, tmp_path)
    async with running_serve(env, tmp_path, preexec_fn=low_file_limit) as server:
        [limits] = [line for line in server.log if "HTTP limits" in line]
        assert "file limit 256" in limits
        port = port_of(server)
        logged_before = len(server.log)
        flood: list[Connection] = []

        async def open_one() -> None:
            # A server that no longer accepts leaves connects to the kernel's backlog, then to
            # SYN retries: give up on those after a while.
            with suppress(OSError, TimeoutError):
                opening = asyncio.open_connection("127.0.0.1", port)
                flood.append(await asyncio.wait_for(opening, 10))

        async def open_idle(count: int) -> None:
            await asyncio.gather(*(open_one() for _ in range(count)))

        try:
            await open_idle(400)
            for _ in range(3):
                assert await healthz(server) == 200
            _, *answers = await asyncio.gather(open_idle(400), *(healthz(server) for _ in range(3)))
            assert answers == [200, 200, 200]
            await wait_for(
                lambda: server.said("waiting connections closed to make room"),
                "a line counting the connections closed",
            )
            assert sum(closed_by_server(reader) for reader, _ in flood) >= 400
            # Start-up may still be saying what it started; anything else is about the flood.
            logged = [line for line in server.log[logged_before:] if " INFO " not in line]
            assert len(logged) < 5, "".join(logged[:20])
        finally:
            for _, writer in flood:
                writer.transport.abort()
