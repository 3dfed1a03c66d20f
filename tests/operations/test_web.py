"""The aiohttp application over real HTTP on loopback, and ``advocacy serve`` as users run it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot.app import Application
from bot.domain import Role
from bot.events import CommandInvoked
from bot.web import build_web_app
from tests.conftest import actor, make_member
from tests.ideas.test_chat import send_digest, useful_press

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def server(app: Application) -> AsyncIterator[TestServer]:
    test_server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


async def get(server: TestServer, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, await response.text()


async def test_healthz_checks_the_database(server: TestServer, app: Application) -> None:
    status, body = await get(server, "/healthz")
    assert status == 200 and '"status": "ok"' in body
    async with app.db.transaction() as session:
        await session.execute(text("DELETE FROM alembic_version"))
    status, body = await get(server, "/healthz")
    assert status == 503 and "expected" in body


async def test_metrics_count_what_was_recorded(
    server: TestServer, app: Application, remote
) -> None:
    press = useful_press(*await send_digest(app, remote))
    await app.router.handle(press)
    await app.router.handle(press)  # ignored repeat: must not count
    await app.router.handle(CommandInvoked(actor("alice"), command="suggest", text="An idea"))
    status, body = await get(server, "/metrics")
    assert status == 200
    assert 'advocacy_deliveries_total{platform="remote",status="sent"} 1.0' in body
    assert 'advocacy_feedback_recorded_total{kind="useful",platform="remote"} 1.0' in body
    assert 'advocacy_suggestions_total{platform="remote"} 1.0' in body
    assert "# TYPE advocacy_delivery_latency_seconds histogram" in body


async def test_the_outbox_drains_in_the_background_while_serving(
    server: TestServer, app: Application, remote
) -> None:
    await make_member(app, "mgr", role=Role.MANAGER)
    await make_member(app, "writer", manager="mgr")
    await app.router.handle(CommandInvoked(actor("writer"), command="suggest", text="Idea"))
    await app.router.handle(CommandInvoked(actor("mgr"), command="answer", text="1 planned Yes"))
    for _ in range(100):  # the router woke the worker; no explicit drain here
        if remote.sent:
            break
        await asyncio.sleep(0.05)
    assert [s.target.recipient for s in remote.sent] == ["writer"]


def test_advocacy_serve_answers_healthz_on_a_new_sqlite_file(tmp_path: Path) -> None:
    """The README's run command: a fresh directory, no configuration, a real process."""
    env = {**os.environ, "ADVOCACY_SECRET_KEY": "", "DATABASE_URL": "", "LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        lines: list[str] = []
        port = None
        while port is None:
            line = process.stderr.readline()
            assert line, "serve exited early:\n" + "".join(lines)
            lines.append(line)
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            port = int(match.group(1)) if match else None

        async def probe() -> tuple[int, str]:
            url = f"http://127.0.0.1:{port}/healthz"
            async with aiohttp.ClientSession() as client, client.get(url) as response:
                return response.status, await response.text()

        status, body = asyncio.run(probe())
        assert status == 200 and '"database": "sqlite"' in body
        assert (tmp_path / "advocacy.db").is_file()
        log = "".join(lines)
        assert "adapter shell: enabled" in log
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0


async def test_a_tracked_share_link_counts_once_per_member_and_network_then_redirects(
    server: TestServer, app: Application, remote
) -> None:
    await send_digest(app, remote)
    card = remote.sent[0].message.cards[1]
    linkedin = next(b.url for b in card.buttons if getattr(b, "label", "") == "Share on LinkedIn")
    path = linkedin.removeprefix(app.settings.public_url)
    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            url = f"http://127.0.0.1:{server.port}{path}"
            async with client.get(url, allow_redirects=False) as response:
                assert response.status == 302
                assert response.headers["Location"].startswith("https://www.linkedin.com/")
        forged = f"http://127.0.0.1:{server.port}{path[:-3]}abc"
        async with client.get(forged, allow_redirects=False) as response:
            assert response.status == 404
    async with app.db.transaction() as session:
        shared = (await session.execute(text("SELECT kind, detail FROM feedback"))).all()
    assert [tuple(row) for row in shared] == [("shared", "linkedin")]
    _, body = await get(server, "/metrics")
    assert 'advocacy_share_clicks_total{network="linkedin",platform="remote"} 2.0' in body
    assert 'advocacy_feedback_recorded_total{kind="shared",platform="remote"} 1.0' in body


async def test_every_answer_carries_the_security_headers_refusals_included(
    server: TestServer,
) -> None:
    """Not only the console: health checks, metrics, and refusals made before any handler (an
    unsigned webhook call is refused before its body is read) say nosniff and no framing."""
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as session:
        answers = []
        for method, path in (
            ("GET", "/healthz"),
            ("GET", "/metrics"),
            ("GET", "/no-such-page"),
            ("POST", "/voice/webhook"),
            ("POST", "/slack/events"),
        ):
            async with session.request(method, base + path, data=b"{}") as response:
                answers.append((path, response.status, response.headers))
    for path, status, headers in answers:
        assert headers.get("X-Content-Type-Options") == "nosniff", (path, status)
        assert headers.get("X-Frame-Options") == "DENY", (path, status)
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), path
