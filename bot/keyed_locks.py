"""One asyncio lock per key (a card, say), kept only while someone holds or waits for it.

Two people pressing buttons on the same channel card at once must update it in the order their
presses were recorded, or the card can end up showing the earlier count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        """Hold ``key``'s lock for the block; ``None`` holds nothing."""
        if key is None:
            yield
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def waiting(self, key: str | None) -> int:
        """How many others wait for ``key`` besides its holder."""
        return max(0, self._locks.get(key, (None, 0))[1] - 1) if key is not None else 0

    def __len__(self) -> int:
        return len(self._locks)
