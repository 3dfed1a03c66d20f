"""How many failed sign-in attempts a client, and everyone together, may make in a minute.

Kept in memory, per server process, on purpose. A sign-in secret has 256 random bits, so no rate
of guessing finds one; the limit is there so that nobody can make the server look up tokens at
will. Refusing from memory costs no database work at all, where a count kept in the database
would make every attempt a write (on SQLite, a turn of the one writer lock that the webhook and
chat need). With several instances behind a load balancer the ceiling is this limit times the
number of instances, still nothing against 256 bits.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
PER_CLIENT = 10
EVERYONE = 300
MAX_CLIENTS = 10_000


class SignInAttempts:
    """Failed attempts in the last ``window`` seconds, per client address and in total."""

    def __init__(
        self,
        *,
        per_client: int = PER_CLIENT,
        everyone: int = EVERYONE,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.everyone = everyone
        self.window = window
        self.clock = clock
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def wait_before_next(self, client: str) -> int:
        """Seconds this client must wait before another attempt is looked at; 0 when it may go
        on now."""
        now = self.clock()
        waits = [
            self._wait(self._all, self.everyone, now),
            self._wait(self._clients.get(client, deque()), self.per_client, now),
        ]
        return max(waits)

    def attempt(self, client: str) -> None:
        """Count an attempt as failed before it is looked up, so that many sent at once cannot
        all pass the check; ``succeeded`` takes it back."""
        now = self.clock()
        self._all.append(now)
        times = self._clients.setdefault(client, deque())
        times.append(now)
        self._clients.move_to_end(client)
        if len(self._clients) > MAX_CLIENTS:  # the longest-quiet client is forgotten first
            self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        if self._all:
            self._all.pop()
        times = self._clients.get(client)
        if times:
            times.pop()

    def _wait(self, times: deque[float], limit: int, now: float) -> int:
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return 0
        return max(1, math.ceil(times[0] + self.window - now))
