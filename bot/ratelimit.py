"""Pacing for platform rate limits: at most ``rate`` operations a second per key (a channel, a
conversation, a workspace, a tenant), with bursts of up to ``burst``. Callers wait their turn
instead of being refused by the platform.

It is the generic cell rate algorithm: each key keeps the theoretical time of its next slot, so
the state is one float per key and a reservation is O(1). A burst lets time lost between batches
(database writes) be made up, so a long send runs at the rate, not below it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

MAX_KEYS = 100_000


class Pacer:
    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.interval = 1.0 / rate
        self._tolerance = (burst - 1) * self.interval
        # Each key's theoretical arrival time; old keys are forgotten first.
        self._next: OrderedDict[str, float] = OrderedDict()

    def reserve(self, key: str) -> float:
        """Take the key's next slot; returns how long to wait for it (0 when free now)."""
        now = time.monotonic()
        theoretical = max(now, self._next.get(key, now))
        wait = max(0.0, theoretical - self._tolerance - now)
        self._next[key] = theoretical + self.interval
        self._next.move_to_end(key)
        if len(self._next) > MAX_KEYS:
            self._next.popitem(last=False)
        return wait

    async def wait(self, key: str) -> None:
        delay = self.reserve(key)
        if delay > 0:
            await asyncio.sleep(delay)
