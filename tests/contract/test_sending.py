"""Outbound sends: a sent card keeps a reference, failures map to ``DeliveryError`` (a 429 says
when to retry, a refusal is permanent), a reply survives a failed part, and a sealed delivery
(an anonymous author's notice) never names its recipient."""

from __future__ import annotations

import contextlib
import logging

import pytest

from bot.events import ActionInvoked, MessageReceived, Reply
from bot.messages import Message
from bot.platform import DeliveryError
from tests.contract.harness import (
    MESSAGE,
    PRESS,
    RATE_LIMITS,
    UPDATE,
    UPDATE_BY_API,
    PlatformSession,
)
from tests.contract.helpers import accepted, answer_with, sent_card


async def test_a_sent_message_is_shown_and_keeps_a_reference(platform: PlatformSession) -> None:
    result = await platform.send("alice", Message.text("Your digest is ready"))
    assert result.platform_ref
    [shown] = [s for s in platform.shown("alice") if s.ref == result.platform_ref]
    assert "Your digest is ready" in shown.text
    assert not [s for s in platform.shown("bob") if "Your digest is ready" in s.text]


async def test_each_sent_message_has_its_own_reference(platform: PlatformSession) -> None:
    first = await sent_card(platform)
    second = await sent_card(platform)
    to_bob = await sent_card(platform, "bob")
    assert len({first.platform_ref, second.platform_ref, to_bob.platform_ref}) == 3


@pytest.mark.needs(RATE_LIMITS)
async def test_a_429_says_when_to_retry_and_a_refusal_is_permanent(
    platform: PlatformSession,
) -> None:
    platform.fail_next(429, retry_after=7)
    with pytest.raises(DeliveryError) as limited:
        await platform.send("alice", Message.text("too fast"))
    assert limited.value.retry_after == 7
    assert not limited.value.permanent
    platform.fail_next(403)
    with pytest.raises(DeliveryError) as refused:
        await platform.send("alice", Message.text("not allowed"))
    assert refused.value.permanent
    result = await platform.send("alice", Message.text("fine again"))
    assert result.platform_ref
    assert [s.text for s in platform.shown("alice") if s.ref == result.platform_ref]
    assert not [s for s in platform.shown("alice") if "not allowed" in s.text]


@pytest.mark.needs(RATE_LIMITS)
async def test_a_server_error_is_retried_later_not_dead_lettered(
    platform: PlatformSession,
) -> None:
    platform.fail_next(500)
    with pytest.raises(DeliveryError) as failed:
        await platform.send("alice", Message.text("try me later"))
    assert not failed.value.permanent
    assert (await platform.send("alice", Message.text("try me later"))).platform_ref


@pytest.mark.needs(RATE_LIMITS)
async def test_a_refused_credential_holds_the_platform_instead_of_failing_each_send(
    platform: PlatformSession,
) -> None:
    """A wrong or revoked token (401): ``platform_down``, so the outbox holds the workspace's
    deliveries until an operator acts, rather than dead-lettering or retrying each one."""
    platform.fail_next(401)
    with pytest.raises(DeliveryError) as refused:
        await platform.send("alice", Message.text("with a revoked token"))
    assert refused.value.platform_down
    assert (await platform.send("alice", Message.text("with the token mended"))).platform_ref


async def _warm_up(platform: PlatformSession) -> str:
    """Alice has written once (so nothing about her first contact calls the platform's API
    later), and a card was sent to her: its reference."""
    platform.recorder.script = answer_with(Reply())
    assert accepted(await platform.say("alice", "hello"))
    await platform.settle()
    sent = await sent_card(platform)
    platform.forget()
    return sent.platform_ref or ""


@pytest.mark.needs(MESSAGE, PRESS, UPDATE, RATE_LIMITS)
async def test_an_update_that_meets_a_short_429_is_retried_once_and_shown(
    platform: PlatformSession,
) -> None:
    ref = await _warm_up(platform)
    platform.recorder.script = lambda event: (
        Reply(update=Message.text("voted, after a wait"))
        if isinstance(event, ActionInvoked)
        else Reply()
    )
    platform.fail_next(429, retry_after=1)
    assert accepted(await platform.press("alice", ref, "Vote for it"))
    await platform.settle()
    updates = [s for s in platform.shown("alice") if s.kind == "update"]
    assert [u.text for u in updates if "voted, after a wait" in u.text]


@pytest.mark.needs(MESSAGE, PRESS, UPDATE_BY_API, RATE_LIMITS)
async def test_a_refused_part_of_a_reply_does_not_stop_the_rest(
    platform: PlatformSession,
) -> None:
    ref = await _warm_up(platform)
    platform.recorder.script = lambda event: (
        Reply(update=Message.text("never shown"), messages=[Message.text("still told")])
        if isinstance(event, ActionInvoked)
        else Reply()
    )
    platform.fail_next(403)
    assert accepted(await platform.press("alice", ref, "Vote for it"))
    await platform.settle()
    shown = platform.shown("alice")
    assert not [s for s in shown if "never shown" in s.text]
    assert [s for s in shown if "still told" in s.text]
    assert len(platform.recorder.of_type(ActionInvoked)) == 1


def _recipient_ids(platform: PlatformSession, person: str) -> set[str]:
    ids = {s.to for s in platform.shown(person)}
    with contextlib.suppress(NotImplementedError):
        ids.add(platform.user_id(person))
    return {i for i in ids if i}


@pytest.mark.needs(MESSAGE)
async def test_a_sealed_delivery_never_names_its_recipient_in_the_logs(
    platform: PlatformSession, caplog: pytest.LogCaptureFixture
) -> None:
    # Carol is known to the platform first (as an author is), then sent her notice sealed.
    platform.recorder.script = answer_with(Reply())
    assert accepted(await platform.say("carol", "an idea, anonymously"))
    await platform.settle()
    assert platform.recorder.of_type(MessageReceived)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = await platform.send("carol", Message.text("Your idea was answered"), sealed=True)
    assert [s for s in platform.shown("carol") if "Your idea was answered" in s.text]
    ids = _recipient_ids(platform, "carol")
    assert ids
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    for recipient in ids:
        assert recipient not in logged
    assert result is not None


@pytest.mark.needs(MESSAGE, RATE_LIMITS)
async def test_a_failed_sealed_delivery_names_no_recipient_in_its_error(
    platform: PlatformSession, caplog: pytest.LogCaptureFixture
) -> None:
    platform.recorder.script = answer_with(Reply())
    assert accepted(await platform.say("carol", "an idea, anonymously"))
    await platform.settle()
    await platform.send("carol", Message.text("a first notice"))
    ids = _recipient_ids(platform, "carol")
    assert ids
    caplog.clear()
    for status in (403, 429, 500):
        platform.fail_next(status, retry_after=3 if status == 429 else None)
        with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as failed:
            await platform.send("carol", Message.text("Your idea was answered"), sealed=True)
        for recipient in ids:
            assert recipient not in str(failed.value), status
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    for recipient in ids:
        assert recipient not in logged
