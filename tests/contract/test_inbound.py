"""Inbound: each kind of event reaches the core once, as the neutral event, with its ids."""

from __future__ import annotations

import pytest

from bot.events import MessageReceived
from tests.contract.harness import MESSAGE, RETRIES, SIGNED, PlatformSession


@pytest.mark.needs(MESSAGE)
async def test_a_message_reaches_the_core_as_written(platform: PlatformSession) -> None:
    status = await platform.say("alice", "hello there, bot")
    assert 200 <= status < 300
    await platform.settle()
    [event] = platform.recorder.of_type(MessageReceived)
    assert event.text == "hello there, bot"
    assert event.actor.platform == platform.app.adapters[event.actor.platform].platform
    assert event.event_id


@pytest.mark.needs(MESSAGE, RETRIES)
async def test_a_redelivered_message_counts_once(platform: PlatformSession) -> None:
    for _ in range(3):
        status = await platform.say("alice", "said once", delivery_id="delivery-1")
        assert 200 <= status < 300
    await platform.settle()
    assert [e.text for e in platform.recorder.of_type(MessageReceived)] == ["said once"]


@pytest.mark.needs(MESSAGE, SIGNED)
async def test_forged_and_expired_requests_are_refused_and_reach_nothing(
    platform: PlatformSession,
) -> None:
    assert await platform.forged() in (401, 403)
    assert await platform.expired() in (401, 403)
    await platform.settle()
    assert platform.recorder.events == []
