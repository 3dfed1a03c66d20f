"""Outbound rendering: people's text is shown as written and never pings or links."""

from __future__ import annotations

from bot.messages import Card, Fact, Message
from tests.contract.harness import PlatformSession

HOSTILE = (
    "@channel @here <!channel> <!everyone> <at>Everyone</at> <users/all> "
    "[click](http://evil.example) <b>bold</b> *star* _under_ `tick` & done"
)


def test_peoples_text_never_pings_or_links(platform: PlatformSession) -> None:
    message = Message(
        fallback=HOSTILE,
        cards=(Card(title=HOSTILE, text=HOSTILE, facts=(Fact(HOSTILE, HOSTILE),), footer=HOSTILE),),
    )
    native = platform.render(message)
    assert platform.pings(native) == []
    assert platform.limit_problems(native) == []
    # Shown as written: the words survive escaping (entities are decoded by readable_text).
    assert "<at>Everyone</at>" in platform.readable_text(native)
