"""Slow and idle clients against a real `advocacy serve`: what each attack costs the server, and
whether /healthz still answers meanwhile.

- slowloris: connections that send their request headers one byte a second; how many the server
  has closed after a while, and /healthz latency meanwhile.
- bodies: never-finished ~1 MiB bodies to /voice/webhook, unsigned and with (wrong) signature
  headers; the server's resident memory before, at the peak, and after the clients give up.
- idle flood: more idle connections than the server's file limit allows (the child runs with a
  low RLIMIT_NOFILE); /healthz answers and latency, and how many bytes the server logged.

    python benchmarks/slow_clients.py                     # every scenario, the tree's code
    python benchmarks/slow_clients.py --code /tmp/old     # the same against another checkout
    python benchmarks/slow_clients.py --scenario bodies --connections 300

``--code DIR`` runs ``python -m bot serve`` with DIR as its working directory, so DIR's ``bot``
and ``content`` packages are the ones imported (e.g. ``git archive HEAD~3 | tar -x -C DIR``).
Figures vary with the machine; they are printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
PROBE_TIMEOUT = 5.0  # a /healthz answer slower than this counts as a failure


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: list[bytes] = field(default_factory=list)

    @property
    def log_bytes(self) -> int:
        return sum(len(line) for line in self.log)

    def rss_mib(self, key: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
        return 0.0


@contextmanager
def running_server(code: Path, nofile: int | None, extra_env: dict[str, str]) -> Iterator[Server]:
    """`advocacy serve --port 0` on a scratch SQLite file, its stderr drained on a thread."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'advocacy.db'}",
            "ADVOCACY_DATA_DIR": str(work / "data"),
            "ADVOCACY_SECRET_KEY": "slow-clients-key-b2cfc29ba034090aada60437",
            "VOICE_WEBHOOK_SECRET": "benchmark-webhook-secret",
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(code),
            **extra_env,
        }
        for variable in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "MICROSOFT_APP_ID"):
            env.pop(variable, None)

        def limit_files() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", "0"],
            cwd=code,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=limit_files,
        )
        server = Server(process, 0)
        listening = threading.Event()

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                server.log.append(line)
                if b"listening on http://" in line and not listening.is_set():
                    server.port = int(line.rsplit(b":", 1)[1].split()[0])
                    listening.set()

        threading.Thread(target=read, name="serve-log", daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not listening.wait(0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("serve did not start:\n" + b"".join(server.log).decode())
        try:
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ----- clients ---------------------------------------------------------------------------------


async def healthz(port: int) -> float | None:
    """Seconds /healthz took on a new connection, or None when it failed or took too long."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return None
    return time.monotonic() - started if answer.startswith(b"HTTP/1.1 200") else None


@dataclass
class Probes:
    latencies: list[float | None] = field(default_factory=list)

    def summary(self) -> str:
        good = [t for t in self.latencies if t is not None]
        failed = len(self.latencies) - len(good)
        if not good:
            return f"0/{len(self.latencies)} answered"
        median = statistics.median(good) * 1000
        return (
            f"{len(good)}/{len(self.latencies)} answered, median {median:.0f} ms, slowest "
            f"{max(good) * 1000:.0f} ms, {failed} failed or over {PROBE_TIMEOUT:.0f} s"
        )


async def probe_while(port: int, stop: asyncio.Event, probes: Probes) -> None:
    while not stop.is_set():
        probes.latencies.append(await healthz(port))
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def open_many(
    port: int, count: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``count`` connections (fewer if the server or the system refuses some)."""
    opened = []
    for _ in range(count):
        try:
            opened.append(await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2))
        except (OSError, TimeoutError):
            continue
    return opened


def closed_by_server(reader: asyncio.StreamReader) -> bool:
    return reader.at_eof() or reader.exception() is not None


async def still_open(
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
) -> int:
    """How many connections the server has not closed: a read sees EOF or a reset on the others."""
    await asyncio.sleep(0.2)
    count = 0
    for reader, writer in connections:
        if writer.is_closing():
            continue
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.01)
        except TimeoutError:
            count += 1  # nothing to read and no EOF: open
            continue
        except OSError:
            continue
        if data:  # an answer (408, 503...) is on its way; the connection closes after it
            count += 0 if reader.at_eof() else 1
    return count


def close_all(connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, writer in connections:
        writer.transport.abort()


# ----- scenarios -------------------------------------------------------------------------------


async def slowloris(server: Server, connections: int, seconds: float) -> list[str]:
    opened = await open_many(server.port, connections)
    stop = asyncio.Event()
    probes = Probes()
    prober = asyncio.create_task(probe_while(server.port, stop, probes))
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
    started = time.monotonic()
    open_at: dict[int, int] = {}
    for second in range(int(seconds)):
        for _, writer in opened:
            if not writer.is_closing():
                with suppress(OSError):
                    writer.write(request[second : second + 1])
        await asyncio.sleep(max(0.0, started + second + 1 - time.monotonic()))
        if second + 1 in (5, 15, int(seconds)):
            open_at[second + 1] = await still_open(opened)
    stop.set()
    await prober
    close_all(opened)
    return [
        f"{len(opened)} connections sending headers one byte a second",
        "still open after " + ", ".join(f"{s} s: {n}" for s, n in sorted(open_at.items())),
        f"/healthz meanwhile: {probes.summary()}",
        f"RSS {server.rss_mib():.0f} MiB; log {server.log_bytes:,} bytes",
    ]


async def send_body(
    port: int, headers: dict[str, str], size: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """A POST /voice/webhook announcing ``size`` bytes and sending all but the last one."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, TimeoutError):
        return None
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        (
            f"POST /voice/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n{head}\r\n"
        ).encode()
    )
    chunk = b" " * 65536
    sent = 0
    try:
        while sent < size - 1:
            piece = chunk[: min(len(chunk), size - 1 - sent)]
            writer.write(piece)
            sent += len(piece)
            await asyncio.wait_for(writer.drain(), 10)
    except (OSError, TimeoutError):
        pass  # the server stopped reading or closed: what it does with an unwanted body
    return reader, writer


async def bodies(server: Server, connections: int, hold: float, signed: bool) -> list[str]:
    headers = (
        {
            "X-Advocacy-Timestamp": str(int(time.time())),
            "X-Advocacy-Signature": "sha256=" + "0" * 64,
        }
        if signed
        else {}
    )
    await asyncio.sleep(1)
    before = server.rss_mib()
    stop = asyncio.Event()
    probes = Probes()
    prober = asyncio.create_task(probe_while(server.port, stop, probes))
    sent = await asyncio.gather(
        *(send_body(server.port, headers, 1024 * 1024) for _ in range(connections))
    )
    opened = [pair for pair in sent if pair is not None]
    await asyncio.sleep(2)
    during = server.rss_mib()
    held = hold
    await asyncio.sleep(held)
    left_open = await still_open(opened)
    after_hold = server.rss_mib()
    close_all(opened)
    await asyncio.sleep(5)
    stop.set()
    await prober
    after = server.rss_mib()
    return [
        f"{len(opened)} never-finished 1 MiB bodies to /voice/webhook, "
        + ("with (wrong) signature headers" if signed else "unsigned"),
        f"RSS before {before:.0f} MiB, 2 s after sending {during:.0f} MiB, "
        f"peak {server.rss_mib('VmHWM'):.0f} MiB",
        f"after {held:.0f} s more: {left_open} connections still open, RSS {after_hold:.0f} MiB",
        f"5 s after the clients gave up: RSS {after:.0f} MiB",
        f"/healthz meanwhile: {probes.summary()}",
    ]


async def idle_flood(server: Server, connections: int, seconds: float, nofile: int) -> list[str]:
    log_before = server.log_bytes
    lines_before = len(server.log)
    stop = asyncio.Event()
    probes = Probes()
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def flood() -> None:
        # Keep ``connections`` open for the whole time: re-open the ones the server closes.
        while not stop.is_set():
            opened[:] = [pair for pair in opened if not closed_by_server(pair[0])]
            missing = connections - len(opened)
            opened.extend(await open_many(server.port, missing))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    flooder = asyncio.create_task(flood())
    await asyncio.sleep(2)
    prober = asyncio.create_task(probe_while(server.port, stop, probes))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(flooder, prober)
    close_all(opened)
    logged = [line for line in server.log[lines_before:] if b" INFO " not in line]
    sample = next((line.decode(errors="replace").strip() for line in logged), "")
    return [
        f"{connections} idle connections kept open for {seconds:.0f} s, file limit {nofile}",
        f"/healthz meanwhile: {probes.summary()}",
        f"log: {server.log_bytes - log_before:,} bytes; {len(logged):,} lines other than "
        "start-up INFO" + (f"; first: {sample[24:200]}" if sample else ""),
        f"RSS {server.rss_mib():.0f} MiB",
    ]


# ----- entry point -----------------------------------------------------------------------------


def run(title: str, scenario: Callable[[Server], object], code: Path, nofile: int | None) -> None:
    with running_server(code, nofile, {}) as server:
        started = next((x.decode().strip() for x in server.log if b"HTTP limits" in x), "")
        lines = asyncio.run(scenario(server))  # type: ignore[arg-type]
    print(f"\n{title}")
    if started:
        print(f"  start-up: {started[:200]}")
    for line in lines:  # type: ignore[attr-defined]
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose bot/ is served")
    parser.add_argument("--scenario", choices=["slowloris", "bodies", "idle", "all"], default="all")
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--idle-connections", type=int, default=1100)
    parser.add_argument("--nofile", type=int, default=1024, help="the server's file limit (idle)")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    code = args.code.resolve()
    print(f"serving {code}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    if args.scenario in ("slowloris", "all"):
        run(
            "slowloris",
            lambda s: slowloris(s, args.connections, args.seconds),
            code,
            None,
        )
    if args.scenario in ("bodies", "all"):
        for signed in (False, True):
            run(
                "never-finished bodies" + (" (signature headers)" if signed else " (unsigned)"),
                lambda s, signed=signed: bodies(s, args.connections, args.seconds, signed),
                code,
                None,
            )
    if args.scenario in ("idle", "all"):
        run(
            "idle-connection flood",
            lambda s: idle_flood(s, args.idle_connections, args.seconds, args.nofile),
            code,
            args.nofile,
        )


if __name__ == "__main__":
    main()
