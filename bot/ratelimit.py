"""Pacing for platform rate limits: at most ``rate`` operations a second per key (a channel, a
conversation, a workspace, a tenant), with bursts of up to ``burst``. Callers wait their turn
instead of being refused by the platform.

It is the generic cell rate algorithm: each key keeps the theoretical time of its next slot, so
the state is one float per key. A burst lets time lost between batches (database writes) be made
up, so a long send runs at the rate, not below it.

A slot is taken when the send may go, by the clock at that moment, and the callers of one key go
one at a time in arrival order. Reserving slots ahead (each caller takes the next free slot and
sleeps until it) looks the same on paper, but a busy event loop wakes the sleepers late and
together: ten slots reserved 10 ms apart all leave at once after a 100 ms stall, and the
platform, which counts arrivals, answers 429. Taken at the moment of sending, a stall lets at
most ``burst`` go at once.

Several instances sharing one cap (PostgreSQL) use ``bot.shared_pacing.SharedPacer`` instead.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from bot.keyed_locks import KeyedLocks

MAX_KEYS = 100_000


class Pacer:
    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.clock = clock
        self.sleep = sleep
        # Each key's theoretical arrival time; old keys are forgotten first.
        self._next: OrderedDict[str, float] = OrderedDict()
        self._turns = KeyedLocks()

    def delay(self, key: str, now: float | None = None) -> float:
        """Seconds until ``key`` may take a slot (0 when it may now); takes nothing."""
        now = self.clock() if now is None else now
        theoretical = self._next.get(key, now)
        return max(0.0, theoretical - self.tolerance - now)

    def take(self, key: str, now: float | None = None) -> None:
        """Charge ``key`` one slot at ``now`` (the caller checked ``delay`` is 0)."""
        now = self.clock() if now is None else now
        self._next[key] = max(now, self._next.get(key, now)) + self.interval
        self._next.move_to_end(key)
        if len(self._next) > MAX_KEYS:
            self._next.popitem(last=False)

    def reserve(self, key: str) -> float:
        """Take the key's next slot ahead; returns how long to wait for it (0 when free now).
        For a caller that cannot wait in ``wait``: one that can should, see the module's note."""
        now = self.clock()
        wait = self.delay(key, now)
        self.take(key, now)
        return wait

    async def wait(self, key: str) -> None:
        """Wait for ``key``'s next slot and take it, in the order callers arrived."""
        async with self._turns.hold(key):
            while (delay := self.delay(key)) > 0:
                await self.sleep(delay)
            self.take(key)

    async def refused(self, key: str) -> None:
        """The platform refused a send under ``key`` (a 429): its count and ours disagree, so the
        key loses its burst credit and the next slot waits one interval, giving the platform's
        bucket time to refill. The refused send itself is retried after its Retry-After."""
        now = self.clock()
        self._next[key] = max(self._next.get(key, now), now + self.tolerance + self.interval)
        self._next.move_to_end(key)
