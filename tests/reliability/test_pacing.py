"""Pacing to a platform's cap: the in-memory pacer under a stalled event loop, a 429 taking back
the burst credit, the shared pacer's blocks of slots, and two instances sharing one cap through
PostgreSQL. Time is injected (a virtual clock) wherever an assertion depends on it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import uuid
from collections.abc import Awaitable, Callable

import pytest

from bot.ratelimit import Pacer
from bot.shared_pacing import Block, PacingUnavailable, SharedPacer, pacer_for
from bot.storage.database import Database
from bot.storage.models import PacingSlot
from tests.conftest import POSTGRES_URL, _postgres


class VirtualTime:
    """A clock and a sleep for the pacer, driven by ``run``: whenever every task is blocked,
    time jumps to the earliest sleeper's deadline plus ``stall`` (a busy event loop waking its
    timers late), and every sleeper due by then wakes together, as asyncio would wake them."""

    def __init__(self, stall: float = 0.0) -> None:
        self.now = 0.0
        self.stall = stall
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    async def run(self, *work: Awaitable[None]) -> None:
        tasks = [asyncio.ensure_future(w) for w in work]
        while not all(task.done() for task in tasks):
            for _ in range(20):  # let everything runnable run until it blocks
                await asyncio.sleep(0)
            if not self._sleepers:
                continue
            self.now = max(self.now, self._sleepers[0][0]) + self.stall
            while self._sleepers and self._sleepers[0][0] <= self.now:
                heapq.heappop(self._sleepers)[2].set_result(None)
        await asyncio.gather(*tasks)


def most_in_a_window(times: list[float], rate: float) -> float:
    """The largest excess over the rate in any window: max of (count - rate * length)."""
    times = sorted(times)
    return max(
        (j - i + 1) - rate * (times[j] - times[i])
        for i in range(len(times))
        for j in range(i, len(times))
    )


async def sends_through(
    pacer: Pacer | SharedPacer, time: VirtualTime, senders: int, each: int
) -> list[float]:
    """``senders`` concurrent callers (the outbox's concurrency), ``each`` sends apiece, all to
    one key; returns the virtual times the sends left at."""
    left: list[float] = []

    async def sender() -> None:
        for _ in range(each):
            await pacer.wait("workspace")
            left.append(time.now)

    await time.run(*(sender() for _ in range(senders)))
    return left


@pytest.mark.parametrize("stall", [0.0, 0.004, 0.05])
async def test_a_late_waking_event_loop_never_sends_more_than_the_burst_at_once(
    stall: float,
) -> None:
    """Slots reserved ahead all leave together when the loop wakes late (the fake Slack's 429s
    in the 100/s digest); slots taken at the moment of sending cannot."""
    time = VirtualTime(stall)
    pacer = Pacer(rate=100, burst=3, clock=time.clock, sleep=time.sleep)
    left = await sends_through(pacer, time, senders=8, each=25)
    assert len(left) == 200
    assert most_in_a_window(left, 100) <= 3 + 1e-9


async def test_the_pacer_keeps_the_rate_when_nothing_stalls() -> None:
    time = VirtualTime()
    pacer = Pacer(rate=100, burst=3, clock=time.clock, sleep=time.sleep)
    left = await sends_through(pacer, time, senders=8, each=25)
    # 200 sends at 100 a second, the first 3 at once: the last leaves at 1.97 s.
    assert max(left) == pytest.approx((200 - 3) / 100)


def test_a_refusal_takes_back_the_burst_credit() -> None:
    time = VirtualTime()
    pacer = Pacer(rate=10, burst=4, clock=time.clock)
    assert pacer.delay("workspace") == 0.0  # idle: a burst of 4 may go
    asyncio.run(pacer.refused("workspace"))
    assert pacer.delay("workspace") == pytest.approx(0.1)
    time.now = 0.1
    pacer.take("workspace")
    # No burst now: the next slot is one interval later, not at once.
    assert pacer.delay("workspace") == pytest.approx(0.1)
    assert pacer.delay("another workspace") == 0.0


def test_a_reserved_slot_is_used_neither_before_it_opens_nor_after_it_closes() -> None:
    pacer = SharedPacer(Database("sqlite+aiosqlite://"), "test", 100, 3)
    # Slot i opens at 1.000 + i/100 (read as if the answer took no time: never early) and
    # closes the burst tolerance (20 ms) later.
    block = Block(early=0.998, late=1.0, count=4, interval=0.01)
    assert not pacer._spend(block, 0.999)
    assert pacer._spend(block, 1.0) and block.used == 1
    # Slot 1 closed at 1.030: dropped unused; slot 2 (open 1.020 to 1.040) is taken.
    assert pacer._spend(block, 1.0395) and block.used == 3
    assert pacer._spend(block, 1.0399) and block.used == 4  # slot 3: open from 1.030
    assert not pacer._spend(block, 1.2)  # the block is spent


async def test_a_database_slower_than_the_burst_tolerance_still_lets_sends_through() -> None:
    """A round trip longer than the tolerance must not make every slot look stale (which would
    reserve and drop blocks forever, sending nothing)."""
    time = VirtualTime()
    pacer = SharedPacer(
        Database("sqlite+aiosqlite://"), "t", 100, 3, clock=time.clock, sleep=time.sleep
    )

    async def slow_reserve(key: str, count: int) -> Block:
        await asyncio.sleep(0)
        time.now += 0.1  # the answer took 100 ms; the block starts at the database's "now"
        return Block(early=time.now - 0.1, late=time.now, count=count, interval=0.01)

    pacer._reserve_once = slow_reserve  # type: ignore[method-assign]
    async with asyncio.timeout(10):
        left = await sends_through(pacer, time, senders=4, each=10)
    assert len(left) == 40


def test_sqlite_paces_in_memory_and_postgresql_through_the_database() -> None:
    sqlite = Database("sqlite+aiosqlite://")
    assert isinstance(pacer_for(sqlite, "slack.workspace", 50, 3), Pacer)
    postgres = Database("postgresql+asyncpg://user@127.0.0.1:1/none")
    assert isinstance(pacer_for(postgres, "slack.workspace", 50, 3), SharedPacer)


async def test_a_database_that_does_not_answer_stops_sends_and_never_holds_them_forever() -> None:
    # Nothing listens on port 1: every try fails at once, and patience runs out.
    database = Database("postgresql+asyncpg://user@127.0.0.1:1/none")
    pacer = SharedPacer(database, "slack.workspace", 100, 3, patience=0.3)
    try:
        with pytest.raises(PacingUnavailable):
            await pacer.wait("T1")
    finally:
        await database.dispose()


# ----- two instances, one cap, on PostgreSQL --------------------------------------------------


@pytest.mark.skipif(not POSTGRES_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
async def test_two_instances_on_postgresql_together_keep_one_cap() -> None:
    """Two Database handles (two instances) send to one workspace at once, each with the
    outbox's concurrency. The slots they took form one line, one interval apart, and the moments
    they sent at never exceed the cap plus the burst in any window."""
    assert POSTGRES_URL
    schema = f"pacing_{uuid.uuid4().hex[:10]}"
    await _postgres(f'CREATE SCHEMA "{schema}"')
    instances = [Database(POSTGRES_URL, search_path=schema) for _ in range(2)]
    try:
        async with instances[0].engine.begin() as connection:
            await connection.run_sync(PacingSlot.__table__.create)
        rate, burst = 200.0, 3
        blocks: list[Block] = []
        sent: list[float] = []
        pacers = [SharedPacer(db, "slack.workspace", rate, burst) for db in instances]
        for pacer in pacers:
            record(pacer, blocks, sent)

        async def sender(pacer: SharedPacer) -> None:
            for _ in range(40):
                await pacer.wait("T1")

        await asyncio.gather(*(sender(p) for p in pacers for _ in range(8)))
        assert len(sent) == 640
        slots = sorted(b.first_slot + i / rate for b in blocks for i in range(b.count))
        # One line of slots for both instances: none closer than one interval to the next.
        assert all(
            later - earlier >= 1 / rate - 1e-6 for earlier, later in itertools.pairwise(slots)
        )
        # The cap plus the burst, plus one round trip's slots (the database's moment is known
        # only that closely).
        round_trip = max(b.late - b.early for b in blocks)
        assert most_in_a_window(sent, rate) <= burst + round_trip * rate + 1e-6
    finally:
        for db in instances:
            await db.dispose()
        await _postgres(f'DROP SCHEMA "{schema}" CASCADE')


def record(pacer: SharedPacer, blocks: list[Block], sent: list[float]) -> None:
    """Keep every block ``pacer`` reserves, and the moment (by its clock) each slot is spent."""
    reserve: Callable[[str, int], Awaitable[Block]] = pacer._reserve_once
    spend = pacer._spend

    async def reserve_and_keep(key: str, count: int) -> Block:
        block = await reserve(key, count)
        blocks.append(block)
        return block

    def spend_and_note(block: Block, now: float) -> bool:
        if spent := spend(block, now):
            sent.append(now)
        return spent

    pacer._reserve_once = reserve_and_keep  # type: ignore[method-assign]
    pacer._spend = spend_and_note  # type: ignore[method-assign]
