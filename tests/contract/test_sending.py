"""Outbound sends: a sent card keeps a reference, and failures map to ``DeliveryError``."""

from __future__ import annotations

import pytest

from bot.messages import Message
from bot.platform import DeliveryError
from tests.contract.harness import RATE_LIMITS, PlatformSession


async def test_a_sent_message_is_shown_and_keeps_a_reference(platform: PlatformSession) -> None:
    result = await platform.send("alice", Message.text("Your digest is ready"))
    assert result.platform_ref
    [shown] = [s for s in platform.shown("alice") if s.ref == result.platform_ref]
    assert "Your digest is ready" in shown.text


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
