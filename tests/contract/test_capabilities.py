"""What an adapter declares it can do agrees with what its platform does."""

from __future__ import annotations

from bot.platform import ChatAdapter, HomeSurface, MessageActions, capabilities_of
from bot.platform.actions import SUGGEST_OPEN, VOICE_OPEN
from tests.contract.harness import HOME, PlatformHarness, PlatformSession


def _adapter(harness: PlatformHarness, platform: PlatformSession) -> ChatAdapter:
    adapter = platform.app.adapters[harness.platform]
    assert isinstance(adapter, ChatAdapter)
    assert adapter.platform == harness.platform
    return adapter


async def test_a_home_is_declared_exactly_where_the_platform_has_one(
    harness: PlatformHarness, platform: PlatformSession
) -> None:
    adapter = _adapter(harness, platform)
    assert isinstance(adapter, HomeSurface) == (HOME in harness.supports)
    assert ("home" in capabilities_of(adapter)) == (HOME in harness.supports)


async def test_message_actions_offer_only_what_the_core_opens(
    harness: PlatformHarness, platform: PlatformSession
) -> None:
    adapter = _adapter(harness, platform)
    if isinstance(adapter, MessageActions):
        assert adapter.message_actions
        assert set(adapter.message_actions) <= {SUGGEST_OPEN, VOICE_OPEN}
