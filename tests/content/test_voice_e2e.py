"""The issue's proof against the real ``advocacy serve`` process: a signed webhook item with alert
words reaches the alert channel (the shell adapter's mailbox for channel ``alerts``) without any
other prompt, scrubbed; an unsigned one is refused and stored nowhere."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import aiohttp

from content.voice.webhook import PATH, sign
from tests.serve_process import running_serve, wait_for

SECRET = "webhook-secret-for-tests"


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
        "ADVOCACY_SECRET_KEY": "voice-e2e-key-36af9d9202a62719e7277d52",
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
    async with running_serve(env, tmp_path) as server:
        base = server.base_url
        [started] = [line for line in server.log if "plugin content:" in line]
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

        await wait_for(mailbox.exists, "the alert in the alert channel")

    [entry] = [json.loads(line) for line in mailbox.read_text().splitlines()]
    shown = json.dumps(entry["message"])
    assert "cancel" in shown and "outage" in shown and "Acme" in shown
    assert "cfo@acme.example" not in shown and "[email]" in shown
    with sqlite3.connect(tmp_path / "advocacy.db") as database:
        stored = [row[0] for row in database.execute("SELECT external_id FROM voice_items")]
    assert stored == ["Z-1"]  # the unsigned item was not kept
