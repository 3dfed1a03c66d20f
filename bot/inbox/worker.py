"""The inbox's worker: accepting events (many per commit), handing them to their handlers with
leases and per-kind slots, retrying, setting aside, purging, and stopping cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import worker_identity
from bot.inbox.items import (
    DONE,
    FAILED,
    PENDING,
    Accepted,
    InboxClosed,
    InboxItem,
    Receipt,
    RetryLater,
    Waiter,
)
from bot.keyed_locks import KeyedLocks
from bot.metrics import Metrics
from bot.sealing import Sealer, SealError
from bot.storage.database import Database
from bot.storage.models import InboxEvent
from bot.storage.types import utcnow

log = logging.getLogger("bot.inbox")

DEFAULT_LEASE = timedelta(seconds=15)
# Slack retries an event three times within about five minutes; Teams redelivers within its own
# request time-outs. An hour covers both with a wide margin; after it only the work remains.
DEFAULT_KEEP = timedelta(hours=1)
UNREADABLE_RETRY = timedelta(minutes=1)
MAX_ACCEPT_BATCH = 500
# Events handed straight to this process's workers; beyond it they wait in the database for a
# worker to claim them (so a burst does not pile decrypted payloads up in memory).
LOCAL_QUEUE_LIMIT = 2000
CLAIM_BATCH = 100
# Events arrive here directly; the database is asked for others (a dead worker's, another
# instance's overflow) at most this often.
CLAIM_EVERY_SECONDS = 0.5
STOP_GRACE_SECONDS = 3.0
PURGE_EVERY_SECONDS = 300.0
BASE_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0


Handler = Callable[[InboxItem, Receipt], Awaitable[Any]]
OrderKey = Callable[[dict[str, Any]], str | None]


@dataclass
class _Incoming:
    row: dict[str, Any]
    payload: dict[str, Any]
    future: asyncio.Future[Accepted]
    waiter: Waiter | None


@dataclass
class _Registered:
    handler: Handler
    order_key: OrderKey | None = None


@dataclass
class InboxStats:
    handled: int = 0
    retried: int = 0
    failed: int = 0
    resumed: int = 0


def backoff_seconds(attempts: int) -> float:
    exponential = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return exponential * random.uniform(0.5, 1.0)


class Inbox:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        metrics: Metrics,
        *,
        lease: timedelta = DEFAULT_LEASE,
        keep: timedelta = DEFAULT_KEEP,
        max_attempts: int = 5,
        concurrency: int = 8,
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.metrics = metrics
        self.lease = lease
        self.keep = keep
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.owner = f"inbox:{worker_identity()}"
        self.stats = InboxStats()
        self._handlers: dict[str, _Registered] = {}
        self._incoming: list[_Incoming] = []
        self._flushing: asyncio.Task[None] | None = None
        self._ready = _ReadyQueues()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._busy: dict[str, int] = {}  # events in hand, by kind
        self._unreadable_logged_at = 0.0
        self._in_hand: set[int] = set()
        self._order = KeyedLocks()
        self._accepting = True
        self._worker_running = False

    # ----- registration --------------------------------------------------------------------

    def register(self, kind: str, handler: Handler, *, order_key: OrderKey | None = None) -> None:
        """``handler`` takes the events of ``kind``; events with the same ``order_key`` (one
        person's clicks, say) are handled one after another, in the order they arrived."""
        self._handlers[kind] = _Registered(handler, order_key)

    # ----- accepting -----------------------------------------------------------------------

    async def accept(
        self,
        platform: str,
        kind: str,
        event_id: str | None,
        payload: dict[str, Any],
        *,
        wait: bool = False,
    ) -> Accepted:
        """Write the event durably; return once it is committed (tell the platform then).

        ``event_id`` is the platform's id for the event (a retried delivery carries the same);
        None when the platform gives none (the event is then never taken for a repeat).
        ``wait`` asks for a Waiter on the handler's result."""
        if not self._accepting:
            raise InboxClosed("the server is stopping; the platform will send this again")
        now = utcnow()
        key = self.sealer.event_key(platform, event_id or f"unique:{uuid.uuid4()}")
        row = {
            "event_key": key,
            "platform": platform,
            "kind": kind,
            "payload": self.sealer.seal(payload),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
        }
        incoming = _Incoming(
            row,
            payload,
            asyncio.get_running_loop().create_future(),
            Waiter() if wait else None,
        )
        self._incoming.append(incoming)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="inbox-accept")
        return await asyncio.shield(incoming.future)

    async def _flush(self) -> None:
        """Write what arrived, in as few transactions as the burst allows: while one commit
        runs, the next batch gathers."""
        while self._incoming:
            batch = self._incoming[:MAX_ACCEPT_BATCH]
            del self._incoming[: len(batch)]
            try:
                inserted = await self._insert(batch)
            except Exception as error:
                log.exception("inbox: %d event(s) could not be written", len(batch))
                for incoming in batch:
                    if not incoming.future.done():
                        incoming.future.set_exception(error)
                continue
            for incoming in batch:
                item_id = inserted.pop(incoming.row["event_key"], None)
                if item_id is None:
                    platform = incoming.row["platform"]
                    self.metrics.inbox.labels(platform=platform, outcome="duplicate").inc()
                    incoming.future.set_result(Accepted(None, True))
                    continue
                self.metrics.inbox.labels(
                    platform=incoming.row["platform"], outcome="accepted"
                ).inc()
                if incoming.row.get("lease_owner") == self.owner:
                    item = InboxItem(
                        item_id,
                        incoming.row["platform"],
                        incoming.row["kind"],
                        incoming.payload,
                        0,
                        incoming.row["received_at"],
                    )
                    self._ready.append((item, incoming.waiter))
                if not incoming.future.done():
                    incoming.future.set_result(Accepted(item_id, False, incoming.waiter))
            self._wake.set()

    async def _insert(self, batch: list[_Incoming]) -> dict[str, int]:
        """Insert the batch, skipping keys already there; returns the new ids by key."""
        # Keep work in this process when its workers run and are not swamped; leave it unleased
        # for whichever worker claims it otherwise.
        local = self._worker_running and len(self._ready) < LOCAL_QUEUE_LIMIT
        lease_until = utcnow() + self.lease if local else None
        rows = []
        seen: set[str] = set()
        for incoming in batch:
            incoming.row["lease_owner"] = self.owner if local else None
            incoming.row["lease_until"] = lease_until
            if incoming.row["event_key"] not in seen:  # a double delivery within one batch
                seen.add(incoming.row["event_key"])
                rows.append(incoming.row)
        table = InboxEvent.__table__
        insert = postgresql_insert if not self.db.is_sqlite else sqlite_insert
        # One statement for every batch, its parameters given as a list: SQLAlchemy compiles it
        # once and writes the rows as multi-row VALUES ("insertmanyvalues"); compiling a new
        # VALUES clause for each batch took half the writer's time under a burst.
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(table.c.id, table.c.event_key)
        )

        def write(connection: Connection) -> dict[str, int]:
            result = connection.execute(statement, rows)
            return {key: item_id for item_id, key in result.all()}

        return await self.db.write_in_one_hop(write, urgent=True)

    # ----- handling ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        """The server's inbox worker, until ``stop`` is set (then see ``_stop``)."""
        self._worker_running = True
        self._accepting = True
        await self._say_what_waits()
        log.info("inbox worker started for %s", ", ".join(sorted(self._handlers)) or "nothing")
        renewing = asyncio.create_task(self._renew_forever(), name="inbox-leases")
        purging = asyncio.create_task(self._purge_forever(), name="inbox-purge")
        try:
            claimed_at = -CLAIM_EVERY_SECONDS
            while not stop.is_set():
                hungry = [k for k in self._handlers if self._ready.size(k) < self.concurrency]
                clock = asyncio.get_running_loop().time()
                if hungry and clock - claimed_at >= CLAIM_EVERY_SECONDS:
                    claimed_at = clock
                    try:
                        await self._claim(hungry)
                    except Exception:
                        log.exception("inbox: claiming events failed; retrying")
                self._wake.clear()
                self._start_what_fits()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=poll_interval)
        finally:
            await self._stop()
            renewing.cancel()
            purging.cancel()
            for task in (renewing, purging):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def wake(self) -> None:
        self._wake.set()

    def _start_what_fits(self) -> None:
        """Start every waiting event whose kind has a free slot. Each kind (each platform) has
        its own slots, so a platform that answers slowly, or not at all, holds up only its own
        events: a hung Teams service must not keep a Slack click from being recorded."""
        for kind in self._ready.kinds():
            while self._busy.get(kind, 0) < self.concurrency:
                taken = self._ready.pop(kind)
                if taken is None:
                    break
                self._start(*taken)

    def _start(self, item: InboxItem, waiter: Waiter | None) -> None:
        self._in_hand.add(item.id)
        self._busy[item.kind] = self._busy.get(item.kind, 0) + 1

        async def work() -> None:
            try:
                registered = self._handlers.get(item.kind)
                key = (
                    registered.order_key(item.payload)
                    if registered and registered.order_key
                    else None
                )
                async with self._order.hold(key):
                    await self._handle(item, waiter)
            finally:
                self._in_hand.discard(item.id)
                self._busy[item.kind] -= 1
                self._wake.set()  # a slot is free: start what waits for it

        task = asyncio.create_task(work(), name=f"inbox-{item.id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _say_what_waits(self) -> None:
        """At start: how many events this instance resumes, and which wait for a platform that
        is not enabled here (they are handled where it is, or once it is enabled again)."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(InboxEvent.kind, func.count(InboxEvent.id))
                    .where(InboxEvent.status == PENDING)
                    .group_by(InboxEvent.kind)
                )
            ).all()
        resumed = sum(count for kind, count in rows if kind in self._handlers)
        if resumed:
            self.stats.resumed = resumed
            log.info("inbox: resuming %d event(s) received before the last stop", resumed)
        for kind, count in rows:
            if kind not in self._handlers:
                log.warning(
                    "inbox: %d event(s) of kind '%s' wait for an adapter that is not enabled "
                    "here; they are handled once it is (see advocacy inbox status)",
                    count,
                    kind,
                )

    async def _handle(self, item: InboxItem, waiter: Waiter | None) -> None:
        attempt = item.attempts + 1
        receipt = Receipt(
            item.id, self.owner, attempt, last_attempt=attempt >= self.max_attempts, waiter=waiter
        )
        registered = self._handlers.get(item.kind)
        try:
            if registered is None:
                raise RetryLater(f"no handler for inbox events of kind '{item.kind}' here")
            await registered.handler(item, receipt)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if receipt.done:  # the work is recorded; only showing the result failed
                log.warning("inbox: event %d handled, but its reply failed: %s", item.id, error)
                self._count(item, "handled")
                return
            if not isinstance(error, RetryLater):
                log.exception("inbox: event %d (%s) failed", item.id, item.kind)
            await self._failed(item, attempt, error)
            return
        if receipt.failed and not receipt.done:
            await self._failed(item, attempt, RuntimeError("the handler gave up"), final=True)
            return
        if not receipt.done:  # nothing to record (a bot's own message, a link button...)
            await self._finish(item.id)
        self._count(item, "handled")

    def _count(self, item: InboxItem, outcome: str) -> None:
        if outcome == "handled":
            self.stats.handled += 1
        self.metrics.inbox.labels(platform=item.platform, outcome=outcome).inc()

    async def _finish(self, item_id: int) -> None:
        async with self.db.transaction() as session:
            await Receipt(item_id, self.owner, 0, False).mark_done(session)

    async def _failed(
        self, item: InboxItem, attempt: int, error: BaseException, *, final: bool = False
    ) -> None:
        reason = (str(error) or type(error).__name__)[:2000]
        values: dict[str, Any] = {
            "attempts": attempt,
            "last_error": reason,
            "lease_owner": None,
            "lease_until": None,
        }
        if final or attempt >= self.max_attempts:
            values["status"] = FAILED
            values["handled_at"] = utcnow()
            self.stats.failed += 1
            self._count(item, "failed")
            log.error(
                "inbox: event %d (%s) failed %d time(s) and is set aside: %s "
                "(advocacy inbox retry %d)",
                item.id,
                item.kind,
                attempt,
                reason,
                item.id,
            )
        else:
            delay = backoff_seconds(attempt)
            values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
            self.stats.retried += 1
            self._count(item, "retried")
            log.info("inbox: event %d will be tried again in %.1f s: %s", item.id, delay, reason)
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(InboxEvent)
                    .where(InboxEvent.id == item.id, InboxEvent.lease_owner == self.owner)
                    .values(**values)
                )
        except Exception:
            # The lease runs out and the event is tried again: nothing is lost.
            log.exception("inbox: could not record the failure of event %d", item.id)

    async def _claim(self, kinds: list[str]) -> int:
        """Take pending events nobody holds (arrived while every worker was busy, or left by a
        worker that died or stopped)."""
        if not kinds:
            return 0
        now = utcnow()
        async with self.db.transaction() as session:
            statement = (
                select(
                    InboxEvent.id,
                    InboxEvent.platform,
                    InboxEvent.kind,
                    InboxEvent.payload,
                    InboxEvent.attempts,
                    InboxEvent.received_at,
                )
                .where(
                    InboxEvent.status == PENDING,
                    InboxEvent.next_attempt_at <= now,
                    InboxEvent.kind.in_(kinds),
                    or_(InboxEvent.lease_until.is_(None), InboxEvent.lease_until < now),
                )
                .order_by(InboxEvent.id)
                .limit(CLAIM_BATCH)
            )
            if not self.db.is_sqlite:
                statement = statement.with_for_update(skip_locked=True)
            rows = (await session.execute(statement)).all()
            if not rows:
                return 0
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_([row.id for row in rows]))
                .values(lease_owner=self.owner, lease_until=now + self.lease)
            )
        unreadable: list[int] = []
        for row in rows:
            try:
                payload = self.sealer.open(row.payload or "")
            except SealError:
                unreadable.append(row.id)
                continue
            item = InboxItem(row.id, row.platform, row.kind, payload, row.attempts, row.received_at)
            self._ready.append((item, None))
        if unreadable:
            await self._leave_unreadable(unreadable)
        return len(rows)

    async def _leave_unreadable(self, ids: list[int]) -> None:
        """Events sealed with another key: almost always ADVOCACY_SECRET_KEY changed (or a new
        instance has another). Setting them aside would bury them; they wait, untouched, and
        are tried again every minute, with one line a minute saying why."""
        async with self.db.transaction() as session:
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(ids), InboxEvent.lease_owner == self.owner)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    next_attempt_at=utcnow() + UNREADABLE_RETRY,
                )
            )
        clock = asyncio.get_running_loop().time()
        if clock - self._unreadable_logged_at >= UNREADABLE_RETRY.total_seconds():
            self._unreadable_logged_at = clock
            log.error(
                "inbox: %d event(s) cannot be opened with this server's key: is "
                "ADVOCACY_SECRET_KEY the one they were written with (every instance must share "
                "it)? They wait and are tried again every minute.",
                len(ids),
            )

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                async with self.db.transaction() as session:
                    await session.execute(
                        update(InboxEvent)
                        .where(InboxEvent.status == PENDING, InboxEvent.lease_owner == self.owner)
                        .values(lease_until=utcnow() + self.lease)
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                log.exception("inbox: renewing leases failed; will try again")

    async def _purge_forever(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception:
                log.exception("inbox: purging handled events failed; will try again")
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    async def purge(self, now: datetime | None = None) -> int:
        """Forget handled events once no platform can retry them (their keys and times, nothing
        else). Events set aside after every attempt failed are kept until an admin retries
        them: they are work someone was told was received."""
        now = now or utcnow()
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(InboxEvent).where(
                    InboxEvent.status == DONE, InboxEvent.handled_at < now - self.keep
                )
            )
        return result.rowcount or 0

    async def _stop(self) -> None:
        """Finish what is in hand for a few seconds; release everything else for the next
        start (or another instance), at once rather than after the lease."""
        self._worker_running = False
        self._accepting = False
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        running = [task for task in self._running if not task.done()]
        if running:
            _, left = await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
            for task in left:
                task.cancel()
            if left:
                await asyncio.wait(left, timeout=2)
        self._ready.clear()
        try:
            async with self.db.transaction() as session:
                result = await session.execute(
                    update(InboxEvent)
                    .where(InboxEvent.status == PENDING, InboxEvent.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
            left_over = result.rowcount or 0
        except Exception:
            log.exception("inbox: could not release events; they return after their lease")
            left_over = -1
        if left_over:
            log.info(
                "inbox: stopped; %d event(s) left for the next start",
                left_over,
            )

    # ----- reading -------------------------------------------------------------------------

    async def pending_count(self) -> int:
        async with self.db.transaction() as session:
            return int(
                await session.scalar(
                    select(func.count(InboxEvent.id)).where(InboxEvent.status == PENDING)
                )
                or 0
            )

    async def settled(self) -> bool:
        """Nothing pending and nothing in hand (tests wait for it)."""
        return (
            not self._ready
            and not self._in_hand
            and not self._incoming
            and (await self.pending_count() == 0)
        )


async def inbox_depth(session: AsyncSession) -> dict[str, int]:
    """Events waiting (pending) and set aside (failed), for /metrics and the CLI."""
    rows = await session.execute(
        select(InboxEvent.status, func.count(InboxEvent.id))
        .where(InboxEvent.status.in_((PENDING, FAILED)))
        .group_by(InboxEvent.status)
    )
    depth = {PENDING: 0, FAILED: 0}
    depth.update({status: int(count) for status, count in rows.all()})
    return depth


class _ReadyQueues:
    """Events ready to be handled here, one first-in first-out queue per kind."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[tuple[InboxItem, Waiter | None]]] = {}
        self._count = 0

    def append(self, entry: tuple[InboxItem, Waiter | None]) -> None:
        self._queues.setdefault(entry[0].kind, deque()).append(entry)
        self._count += 1

    def pop(self, kind: str) -> tuple[InboxItem, Waiter | None] | None:
        queue = self._queues.get(kind)
        if not queue:
            return None
        self._count -= 1
        return queue.popleft()

    def size(self, kind: str) -> int:
        queue = self._queues.get(kind)
        return len(queue) if queue else 0

    def kinds(self) -> list[str]:
        return [kind for kind, queue in self._queues.items() if queue]

    def clear(self) -> None:
        self._queues.clear()
        self._count = 0

    def __len__(self) -> int:
        return self._count
