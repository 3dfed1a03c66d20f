"""Per-card order: holders of one key go one at a time, in the order they asked; others do not
wait; a key's lock is dropped once nobody holds or waits for it (a busy server sees many cards)."""

from __future__ import annotations

import asyncio

from bot.keyed_locks import KeyedLocks


async def test_one_key_is_held_in_turn_and_forgotten_after() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    seen_waiting: dict[str, int] = {}

    async def press(name: str, key: str) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            seen_waiting[name] = locks.waiting(key)  # as the adapter asks, before showing
            order.append(f"{name} out")

    await asyncio.gather(press("a", "card-1"), press("b", "card-1"), press("c", "card-2"))
    assert order.index("a out") < order.index("b in")  # same card: one after the other
    assert order.index("c in") < order.index("a out")  # another card: no wait
    # a, done, sees b queued behind it (b will show the newer card); b, last, sees nobody.
    assert seen_waiting == {"a": 1, "b": 0, "c": 0}
    assert len(locks) == 0


async def test_no_key_holds_nothing() -> None:
    locks = KeyedLocks()
    async with locks.hold(None):
        assert len(locks) == 0 and locks.waiting(None) == 0
