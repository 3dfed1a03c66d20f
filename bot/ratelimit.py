"""Pacing for platform rate limits: at most ``rate`` operations a second per key (a channel, a
conversation, a tenant). Callers wait their turn instead of being refused by the platform."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

MAX_KEYS = 100_000


class Pacer:
    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        # When each key may next go; old keys are forgotten first.
        self._next: OrderedDict[str, float] = OrderedDict()

    def reserve(self, key: str) -> float:
        """Take the key's next slot; returns how long to wait for it (0 when free now)."""
        now = time.monotonic()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + self.interval
        self._next.move_to_end(key)
        if len(self._next) > MAX_KEYS:
            self._next.popitem(last=False)
        return slot - now

    async def wait(self, key: str) -> None:
        delay = self.reserve(key)
        if delay > 0:
            await asyncio.sleep(delay)
