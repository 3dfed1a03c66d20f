"""One rate limit kept by several instances together: a Slack workspace's cap or a Teams tenant's
is the platform's, not each process's, so two instances pacing alone send at twice the cap.

On PostgreSQL the limit's state is one row (``pacing_slots``): the theoretical time of its next
free slot, by the database's clock, so hosts whose clocks differ still agree. An instance takes a
block of slots (as many as it has sends waiting, up to a tenth of a second's worth) with one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, then spends them from memory: a few round
trips a second per instance, none inside another transaction, and the row is locked only for
that one statement. The slots of all instances form one line spaced ``1 / rate`` apart. Each slot
is used no earlier than its time (read as if the answer had taken no time to come back, so it is
never early) and at most the burst tolerance after that (a slot kept past it is dropped, never
spent late), so any window of T seconds sees at most ``rate * T + burst`` sends from all
instances together, plus the slots of one database round trip when the database is slow (the
answer's moment is known only that closely: at 100/s and 2 ms, a fifth of a slot). Slots an
instance reserved but did not use are lost, which only ever sends less.

When the database is slow or away, a send waits for its block (each try bounded by a timeout)
up to ``patience`` seconds, then gives up with ``PacingUnavailable``: the outbox hands the
delivery back to be tried again shortly, attempt not counted. Nothing is sent without a slot, so
the cap holds; nothing waits forever.

On SQLite one process sends (the outbox is drained by the one instance the file allows), so
``pacer_for`` gives the in-memory ``Pacer`` there and nothing is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.keyed_locks import KeyedLocks
from bot.ratelimit import Pacer
from bot.storage.database import Database

log = logging.getLogger(__name__)

# A block covers at most this long at the rate: a busy instance makes about ten round trips a
# second per limit, and an instance that stops sending wastes at most this much of the cap.
BLOCK_SECONDS = 0.1
TRY_TIMEOUT_SECONDS = 2.0
PATIENCE_SECONDS = 10.0
MAX_KEYS = 10_000

# The row's next free slot moves on by ``span`` (the block); the block starts at that slot, or
# at "now less the catch-up" when the limit was idle, so an idle limit may burst. Both times are
# the database's (clock_timestamp(): the statement's own moment, not the transaction's start).
RESERVE = text(
    """
    INSERT INTO pacing_slots AS p (key, next_slot)
    VALUES (:key, EXTRACT(EPOCH FROM clock_timestamp())::float8 - :catch_up + :span)
    ON CONFLICT (key) DO UPDATE
    SET next_slot = GREATEST(p.next_slot, EXTRACT(EPOCH FROM clock_timestamp())::float8
                             - :catch_up) + :span
    RETURNING p.next_slot, EXTRACT(EPOCH FROM clock_timestamp())::float8
    """
)
# After a 429: no slot before "now plus a slot and the tolerance" (see Pacer.refused).
PUSH_BACK = text(
    """
    UPDATE pacing_slots
    SET next_slot = GREATEST(next_slot, EXTRACT(EPOCH FROM clock_timestamp())::float8 + :gap)
    WHERE key = :key
    """
)


class PacingUnavailable(RuntimeError):
    """No send slot could be had from the database in time; nothing was sent."""


@dataclass
class Block:
    """Slots reserved for this instance, in its own clock: slot ``i`` may be used from
    ``late + i * interval`` (it cannot be early, however long the round trip took) for the
    burst tolerance. ``late - early`` is the round trip: how uncertain the mapping is."""

    early: float
    late: float
    count: int
    interval: float
    first_slot: float = 0.0  # the first slot by the database's clock (seconds since the epoch)
    used: int = 0

    def opens(self, index: int) -> float:
        return self.late + index * self.interval

    def closes(self, index: int, tolerance: float) -> float:
        return self.opens(index) + tolerance


class SharedPacer:
    """``Pacer``'s interface (``wait``, ``refused``) for a limit shared through PostgreSQL."""

    def __init__(
        self,
        db: Database,
        name: str,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        block_seconds: float = BLOCK_SECONDS,
        try_timeout: float = TRY_TIMEOUT_SECONDS,
        patience: float = PATIENCE_SECONDS,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 2:
            # A slot must be usable for a moment after its time, or a round trip spoils it.
            raise ValueError("a shared pacer needs a burst of at least 2")
        self.db = db
        self.name = name
        self.rate = rate
        self.burst = burst
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.clock = clock
        self.sleep = sleep
        self.max_block = max(1, int(rate * block_seconds))
        self.try_timeout = try_timeout
        self.patience = patience
        self._blocks: OrderedDict[str, Block] = OrderedDict()
        self._turns = KeyedLocks()
        self._complained = 0.0

    def _row_key(self, key: str) -> str:
        return f"{self.name}:{key}"[:255]

    async def wait(self, key: str) -> None:
        """Wait for ``key``'s next slot and take it, in the order this instance's callers came."""
        async with self._turns.hold(key):
            while True:
                block = self._blocks.get(key)
                if block is not None and self._spend(block, self.clock()):
                    return
                if block is not None and block.used < block.count:
                    await self.sleep(max(0.0, block.opens(block.used) - self.clock()))
                    continue
                wanted = min(self.max_block, 1 + self._turns.waiting(key))
                self._blocks[key] = await self._reserve(key, wanted)
                self._blocks.move_to_end(key)
                if len(self._blocks) > MAX_KEYS:
                    self._blocks.popitem(last=False)

    def _spend(self, block: Block, now: float) -> bool:
        """Take the block's next slot if it is open ``now``; drop the slots that closed unused."""
        while block.used < block.count and now > block.closes(block.used, self.tolerance):
            block.used += 1
        if block.used < block.count and block.opens(block.used) <= now:
            block.used += 1
            return True
        return False

    async def _reserve(self, key: str, count: int) -> Block:
        """A block of ``count`` slots from the database, trying until ``patience`` runs out."""
        deadline = self.clock() + self.patience
        pause = 0.1
        while True:
            try:
                return await self._reserve_once(key, count)
            except (DBAPIError, SQLAlchemyError, OSError, TimeoutError) as error:
                if self.clock() + pause > deadline:
                    raise PacingUnavailable(
                        f"no send slot for {self.name} from the database in "
                        f"{self.patience:g}s ({type(error).__name__})"
                    ) from None
                self._complain(error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def _reserve_once(self, key: str, count: int) -> Block:
        span = count * self.interval
        parameters = {"key": self._row_key(key), "catch_up": self.tolerance / 2, "span": span}
        async with asyncio.timeout(self.try_timeout):
            sent = self.clock()
            # One statement on its own (autocommit): the row is locked only while it runs.
            async with self.db.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                next_slot, database_now = (await autocommit.execute(RESERVE, parameters)).one()
            received = self.clock()
        first = next_slot - span - database_now  # the block's first slot, from the database's now
        return Block(
            early=sent + first,
            late=received + first,
            count=count,
            interval=self.interval,
            first_slot=next_slot - span,
        )

    async def refused(self, key: str) -> None:
        """The platform refused a send (429): drop this instance's reserved slots, and push the
        shared next slot back one slot plus the tolerance, so every instance slows a moment."""
        self._blocks.pop(key, None)
        try:
            async with asyncio.timeout(self.try_timeout), self.db.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                gap = self.tolerance + self.interval
                await autocommit.execute(PUSH_BACK, {"key": self._row_key(key), "gap": gap})
        except (DBAPIError, SQLAlchemyError, OSError, TimeoutError) as error:
            self._complain(error)

    def _complain(self, error: Exception) -> None:
        """One warning a minute at most, however many sends wait."""
        now = self.clock()
        if now - self._complained >= 60.0:
            self._complained = now
            log.warning(
                "shared pacing for %s: the database did not answer (%s); sends wait for it",
                self.name,
                type(error).__name__,
            )


def pacer_for(db: Database | None, name: str, rate: float, burst: int) -> Pacer | SharedPacer:
    """The pacer for a platform-wide limit: shared through the database on PostgreSQL, where
    several instances may send; in memory on SQLite, where one process sends."""
    if db is None or db.is_sqlite:
        return Pacer(rate, burst=burst)
    return SharedPacer(db, name, rate, burst)
