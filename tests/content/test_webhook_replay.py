"""The customer-voice webhook against replays: the signature covers the query string (which
picks the source, so it changes what is stored) and a signed request is taken once. Before, one
captured request resent five times with new ``?source=`` values stored five copies and posted
five more urgent alerts."""

from __future__ import annotations

import json
import logging
import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.app import Application
from bot.storage.models import VoiceItem
from bot.web import build_web_app
from content.voice.webhook import PATH
from tests.content import test_voice
from tests.content.test_voice import signed
from tests.fakes import RemotePlatform

voice_server = test_voice.voice_server  # the signed webhook on a real server

URGENT = json.dumps(
    {"id": "T-77", "comment": "Third outage this week, we will cancel", "rating": 1}
).encode()


async def post(server: TestServer, query: str, headers: dict[str, str]) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{server.port}{PATH}{query}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=URGENT, headers={"Content-Type": "application/json", **headers}
        ) as response,
    ):
        return response.status, await response.json()


async def stored(app: Application) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count(VoiceItem.id))) or 0)


async def test_a_captured_request_replayed_with_other_sources_is_refused(
    voice_server: tuple[Application, TestServer],
    remote: RemotePlatform,
) -> None:
    app, server = voice_server
    headers = signed(URGENT, query="source=helpdesk")
    status, answer = await post(server, "?source=helpdesk", headers)
    assert status == 200 and (answer["imported"], answer["alerts"]) == (1, 1)
    for source in ("a", "b", "c", "d", "e"):
        status, answer = await post(server, f"?source={source}", headers)
        assert status == 401 and "signature" in answer["error"]
    status, _ = await post(server, "", headers)  # the query string dropped
    assert status == 401
    assert await stored(app) == 1


async def test_a_signed_request_is_taken_once(
    voice_server: tuple[Application, TestServer],
    remote: RemotePlatform,
) -> None:
    app, server = voice_server
    headers = signed(URGENT, query="")
    status, _ = await post(server, "", headers)
    assert status == 200
    for _ in range(5):
        status, answer = await post(server, "", headers)
        assert status == 409 and answer["already_received"] is True
    assert await stored(app) == 1
    # The same items, signed again by the sender (a deliberate resend), are one request more:
    # taken, and already there.
    status, answer = await post(server, "", signed(URGENT, query="", at=time.time() + 1))
    assert status == 200 and (answer["imported"], answer["already_there"]) == (0, 1)
    await app.worker.drain(wait_for_retries=False)
    assert len(remote.sent) == 1, "one urgent alert, however often the request was sent"


async def test_a_nul_byte_rejects_its_item_alone(
    voice_server: tuple[Application, TestServer], remote: RemotePlatform
) -> None:
    """PostgreSQL refuses text with a NUL byte: one such item in a batch of 100 was a 500 and
    nothing was stored. Now that item is rejected by number and the other 99 are kept."""
    app, server = voice_server
    items = [{"id": f"N-{n}", "comment": f"Comment number {n}"} for n in range(100)]
    items[41]["comment"] = "Broken \x00 comment"
    body = json.dumps({"items": items}).encode()
    url = f"http://127.0.0.1:{server.port}{PATH}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=body, headers={"Content-Type": "application/json", **signed(body, query="")}
        ) as response,
    ):
        status, answer = response.status, await response.json()
    assert status == 200
    assert answer["imported"] == 99
    assert answer["rejected"] == [{"item": 42, "reason": "the comment field contains a NUL byte"}]
    assert await stored(app) == 99


async def test_a_flood_of_forged_calls_is_one_log_line_not_one_each(
    voice_server: tuple[Application, TestServer], caplog: pytest.LogCaptureFixture
) -> None:
    _, server = voice_server
    forged = {"X-Advocacy-Timestamp": str(int(time.time())), "X-Advocacy-Signature": "sha256=00"}
    with caplog.at_level(logging.WARNING, logger="content.voice.webhook"):
        for _ in range(200):
            status, _ = await post(server, "", forged)
            assert status == 401
    lines = [r for r in caplog.records if r.name == "content.voice.webhook"]
    assert 1 <= len(lines) <= 2, [r.getMessage() for r in lines]
    assert "signature does not match" in lines[0].getMessage()


async def test_with_no_secret_even_an_unsigned_call_hears_that_the_webhook_is_off(
    app: Application,
) -> None:
    server = TestServer(build_web_app(app, run_scheduler=False, run_jobs=False), host="127.0.0.1")
    await server.start_server()
    try:
        status, answer = await post(server, "", {})
    finally:
        await server.close()
    assert status == 503 and "VOICE_WEBHOOK_SECRET" in answer["error"]
