"""The real ``advocacy`` command in child processes, for end-to-end tests: one-off CLI calls and
``advocacy serve`` on a free loopback port, stopped with SIGTERM as a service manager would."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT = 30
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


async def wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """``check()``'s first truthy value; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def run_cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    """``advocacy ARGS`` to completion; its standard output. Fails the test on a non-zero exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"advocacy {' '.join(args)} failed:\n{err.decode()}"
    return out.decode()


@dataclass
class RunningServer:
    base_url: str
    log: list[str] = field(default_factory=list)  # every stderr line so far, start-up first
    process: asyncio.subprocess.Process | None = None
    killed: bool = False

    def kill(self) -> None:
        """``kill -9``: no clean-up, no last write; what a crash or the OOM killer does."""
        assert self.process is not None
        self.process.kill()
        self.killed = True

    def said(self, text: str) -> bool:
        return any(text in line for line in self.log)


@asynccontextmanager
async def running_serve(
    env: dict[str, str], cwd: Path, preexec_fn: Callable[[], None] | None = None
) -> AsyncIterator[RunningServer]:
    """``advocacy serve --port 0`` until it says where it listens; on exit it must stop cleanly.
    ``preexec_fn`` runs in the child before it starts (e.g. to lower its file limit)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--port",
        "0",
        cwd=cwd,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=preexec_fn,
    )
    assert process.stderr is not None
    stderr = process.stderr
    log: list[str] = []
    try:
        while True:
            line = (await asyncio.wait_for(stderr.readline(), START_TIMEOUT)).decode()
            assert line, "serve exited:\n" + "".join(log)
            log.append(line)
            if match := LISTENING.search(line):
                break
    except BaseException:
        process.kill()
        await process.wait()
        raise

    async def keep_reading() -> None:  # a full stderr pipe would stall the server
        while line := await stderr.readline():
            log.append(line.decode())

    reader = asyncio.create_task(keep_reading())
    server = RunningServer(f"http://127.0.0.1:{match.group(1)}", log, process)
    try:
        yield server
    except BaseException:
        # pytest shows this under "Captured stderr": what the server said before the failure.
        print("advocacy serve said:\n" + "".join(log), file=sys.stderr)
        raise
    finally:
        if not server.killed:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
        await reader
    if not server.killed:
        assert process.returncode == 0, "serve did not stop cleanly:\n" + "".join(log[-20:])
