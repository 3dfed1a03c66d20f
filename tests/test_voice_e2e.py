"""The issue's proof against the real ``advocacy serve`` process: a signed webhook item with alert
words reaches the alert channel (the shell adapter's mailbox for channel ``alerts``) without any
other prompt, scrubbed; an unsigned one is refused and stored nowhere."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from content.webhook import PATH, sign

SECRET = "webhook-secret-for-tests"


@asynccontextmanager
async def serve(env: dict[str, str], cwd: Path) -> AsyncIterator[tuple[str, list[str]]]:
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
    )
    assert process.stderr is not None
    log: list[str] = []
    while True:
        line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
        assert line, "serve exited:\n" + "".join(log)
        log.append(line)
        if match := re.search(r"listening on http://127\.0\.0\.1:(\d+)", line):
            break

    async def drain() -> None:  # a full stderr pipe would stall the server
        assert process.stderr is not None
        while await process.stderr.readline():
            pass

    draining = asyncio.create_task(drain())
    try:
        yield f"http://127.0.0.1:{match.group(1)}", log
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
        await draining
    assert process.returncode == 0


async def post(base: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            base + PATH, data=body, headers={"Content-Type": "application/json", **headers}
        ) as response,
    ):
        return response.status, await response.json()


async def test_a_signed_alert_reaches_the_alert_channel_of_a_running_server(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
        "ADVOCACY_DATA_DIR": str(tmp_path / "data"),
        "ADVOCACY_SECRET_KEY": "test-secret-key",
        "VOICE_WEBHOOK_SECRET": SECRET,
        "VOICE_ALERT_CHANNELS": "shell:alerts",
    }
    for variable in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "MICROSOFT_APP_ID", "LOG_LEVEL"):
        env.pop(variable, None)
    mailbox = tmp_path / "data" / "shell" / "alerts.jsonl"
    item = {
        "id": "Z-1",
        "comment": "Third outage this week. We will cancel; write to cfo@acme.example",
        "customer": "Acme",
        "rating": 1,
    }
    async with serve(env, tmp_path) as (base, log):
        [started] = [line for line in log if "plugin content:" in line]
        assert "webhook on at /voice/webhook" in started
        assert "urgent alerts to shell:alerts" in started
        unsigned = json.dumps({**item, "id": "Z-0"}).encode()
        status, answer = await post(base, unsigned, {})
        assert (status, answer["error"]) == (401, "the request is not signed")

        body = json.dumps(item).encode()
        stamp = str(int(time.time()))
        headers = {"X-Advocacy-Timestamp": stamp, "X-Advocacy-Signature": sign(SECRET, stamp, body)}
        status, answer = await post(base, body, headers)
        assert (status, answer["imported"], answer["alerts"]) == (200, 1, 1)

        deadline = time.monotonic() + 20
        while not mailbox.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert mailbox.exists(), "the alert never reached the alert channel"

    [entry] = [json.loads(line) for line in mailbox.read_text().splitlines()]
    shown = json.dumps(entry["message"])
    assert "cancel" in shown and "outage" in shown and "Acme" in shown
    assert "cfo@acme.example" not in shown and "[email]" in shown
    with sqlite3.connect(tmp_path / "advocacy.db") as database:
        stored = [row[0] for row in database.execute("SELECT external_id FROM voice_items")]
    assert stored == ["Z-1"]  # the unsigned item was not kept
