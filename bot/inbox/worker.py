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
from functools import partial
from typing import Any

from sqlalchemy import delete, select

from bot.compose.text import plural
from bot.inbox import rows
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
from bot.inbox.store import InboxStore
from bot.keyed_locks import KeyedLocks
from bot.metrics import Metrics
from bot.outbox.worker import worker_identity
from bot.sealing import Sealer, SealError
from bot.storage.database import Database, DatabaseBusy
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
# instance's overflow) at most this often, unless the last claim came back full: then more wait
# (a burst past LOCAL_QUEUE_LIMIT, a restart) and the next claim follows as soon as the ready
# queue runs low. Spaced claims alone kept a backlog at ~100 events a second (one claim of
# CLAIM_BATCH a poll), with the workers idle between polls.
CLAIM_EVERY_SECONDS = 0.5
STOP_GRACE_SECONDS = 3.0
# While a platform's requests keep arriving, its events are handled at most this many at a time:
# handling runs on the event loop that answers the requests, and the work can wait (it is in the
# inbox, durably) while the platform cannot (Slack's 3 seconds). Enough stay in hand for votes
# that wait together to share a transaction (bot/chat/vote_batch.py: one in hand at a time made
# every batch a batch of one, and the backlog grew all through a burst). Requests whose answer
# waits for their own handling (a modal, a Teams invoke) do not count as arriving.
ACCEPTING_CONCURRENCY = 8
# Acceptances at most this old count as requests still arriving.
ACCEPTING_SECONDS = 0.25
PURGE_EVERY_SECONDS = 300.0
BASE_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0
# Events in hand at once, a kind. Most of a handler's time is spent waiting (for its batch of
# votes to commit, for the platform to take its reply), so many are in hand: the more wait
# together, the more votes each transaction writes (bot/chat/vote_batch.py). What needs a
# database connection of its own still takes turns for one (the router's CONCURRENT_EVENTS).
CONCURRENCY = 64


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
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.db = db
        self.store = InboxStore(db)
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
        # When each kind's requests (those not waiting for their handling) were last accepted.
        self._accepted_at: dict[str, float] = {}
        self._worker_running = False
        # Handled events whose inbox rows are still to be marked done (a separate inbox file).
        self._to_settle: list[int] = []
        self._settling: asyncio.Task[None] | None = None

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
        if not wait:
            self._accepted_at[kind] = asyncio.get_running_loop().time()
        now = utcnow()
        key = self.sealer.event_key(platform, event_id or f"unique:{uuid.uuid4()}")
        row = {
            "event_key": key,
            "platform": platform,
            "kind": kind,
            "payload": self.sealer.seal_event(payload),
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
                        incoming.row["event_key"],
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
        new_rows = []
        seen: set[str] = set()
        for incoming in batch:
            incoming.row["lease_owner"] = self.owner if local else None
            incoming.row["lease_until"] = lease_until
            if incoming.row["event_key"] not in seen:  # a double delivery within one batch
                seen.add(incoming.row["event_key"])
                new_rows.append(incoming.row)
        return await self.store.run(partial(rows.insert_new, rows=new_rows))

    # ----- handling ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        """The server's inbox worker, until ``stop`` is set (then see ``_stop``)."""
        self._worker_running = True
        self._accepting = True
        if not await self._prepare(stop):
            await self._stop()
            return
        log.info("inbox worker started for %s", ", ".join(sorted(self._handlers)) or "nothing")
        renewing = asyncio.create_task(self._renew_forever(), name="inbox-leases")
        purging = asyncio.create_task(self._purge_forever(), name="inbox-purge")
        try:
            claimed_at = -CLAIM_EVERY_SECONDS
            backlog: set[str] = set()  # kinds the last claim came back full of: more wait
            while not stop.is_set():
                hungry = [k for k in self._handlers if self._ready.size(k) < self.concurrency]
                clock = asyncio.get_running_loop().time()
                due = clock - claimed_at >= CLAIM_EVERY_SECONDS
                wanted = hungry if due else [k for k in hungry if k in backlog]
                if wanted:
                    claimed_at = clock
                    try:
                        kinds = await self._claim(wanted)
                        backlog = set(kinds) if len(kinds) >= CLAIM_BATCH else set()
                    except Exception:
                        backlog = set()
                        log.exception("inbox: claiming events failed; retrying")
                self._wake.clear()
                self._start_what_fits()
                if any(self._ready.size(kind) < self.concurrency for kind in backlog):
                    await asyncio.sleep(0)  # more wait and there is room: claim them now
                    continue
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
            while self._busy.get(kind, 0) < self.slots(kind):
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

    def slots(self, kind: str) -> int:
        """How many events of ``kind`` may be in hand now: fewer while its requests arrive
        (``ACCEPTING_CONCURRENCY``). The slots come back as the running ones finish (each
        finish wakes the worker) or at the next poll."""
        accepted_at = self._accepted_at.get(kind)
        if accepted_at is None:
            return self.concurrency
        if asyncio.get_running_loop().time() - accepted_at < ACCEPTING_SECONDS:
            return min(self.concurrency, ACCEPTING_CONCURRENCY)
        return self.concurrency

    async def _prepare(self, stop: asyncio.Event) -> bool:
        """The start-up steps, tried again while the database is busy (another process or a
        burst holds it): a worker that died here would leave acknowledged events unhandled."""
        while True:
            try:
                await self._take_over_shared_inbox()
                await self._say_what_waits()
                return True
            except DatabaseBusy:
                log.warning("inbox worker: the database is busy at start; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            if stop.is_set():
                return False

    async def _say_what_waits(self) -> None:
        """At start: how many events this instance resumes, and which wait for a platform that
        is not enabled here (they are handled where it is, or once it is enabled again)."""
        waiting = await self.store.run(rows.pending_by_kind)
        resumed = sum(count for kind, count in waiting.items() if kind in self._handlers)
        if resumed:
            self.stats.resumed = resumed
            log.info("inbox: resuming %s received before the last stop", plural(resumed, "event"))
        for kind, count in waiting.items():
            if kind not in self._handlers:
                log.warning(
                    "inbox: %s of kind '%s' wait for an adapter that is not enabled "
                    "here; they are handled once it is (see advocacy inbox status)",
                    plural(count, "event"),
                    kind,
                )

    async def _handle(self, item: InboxItem, waiter: Waiter | None) -> None:
        attempt = item.attempts + 1
        receipt = Receipt(
            item,
            self.owner,
            attempt,
            last_attempt=attempt >= self.max_attempts,
            separate=self.store.separate,
            waiter=waiter,
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
                self._settle_soon(item.id)
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
            await self.store.run(partial(rows.settle, ids=[item.id], now=utcnow()))
        elif self.store.separate:  # marked done in the main database; now in the inbox file
            self._settle_soon(item.id)
        self._count(item, "handled")

    def _count(self, item: InboxItem, outcome: str) -> None:
        if outcome == "handled":
            self.stats.handled += 1
        self.metrics.inbox.labels(platform=item.platform, outcome=outcome).inc()

    def _settle_soon(self, item_id: int) -> None:
        """Mark the inbox file's row done, with others handled meanwhile, in one write."""
        self._to_settle.append(item_id)
        if self._settling is None or self._settling.done():
            self._settling = asyncio.create_task(self._settle_waiting(), name="inbox-settle")

    async def _settle_waiting(self) -> None:
        while self._to_settle:
            ids, self._to_settle = self._to_settle, []
            try:
                await self.store.run(partial(rows.settle, ids=ids, now=utcnow()))
            except Exception:
                # Their markers make them done already; try again in a moment.
                log.exception("inbox: could not mark %d handled event(s) done", len(ids))
                self._to_settle[:0] = ids
                await asyncio.sleep(1.0)

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
            await self.store.run(
                partial(rows.record_failure, item_id=item.id, owner=self.owner, values=values)
            )
        except Exception:
            # The lease runs out and the event is tried again: nothing is lost.
            log.exception("inbox: could not record the failure of event %d", item.id)

    async def _claim(self, kinds: list[str]) -> list[str]:
        """Take pending events nobody holds (arrived while every worker was busy, or left by a
        worker that died or stopped). Returns the kind of each row the database gave, handled
        ones included: CLAIM_BATCH of them means more wait."""
        if not kinds:
            return []
        now = utcnow()
        claimed = await self.store.run(
            partial(
                rows.claim,
                kinds=kinds,
                owner=self.owner,
                now=now,
                lease_until=now + self.lease,
                limit=CLAIM_BATCH,
            )
        )
        if not claimed:
            return []
        taken = [row.kind for row in claimed]  # before the handled ones are skipped
        if self.store.separate:
            claimed = await self._skip_handled(claimed)
        unreadable: list[int] = []
        for row in claimed:
            try:
                payload = self.sealer.open_event(row.payload or "")
            except SealError:
                unreadable.append(row.id)
                continue
            item = InboxItem(
                row.id,
                row.event_key,
                row.platform,
                row.kind,
                payload,
                row.attempts,
                row.received_at,
            )
            self._ready.append((item, None))
        if unreadable:
            await self._leave_unreadable(unreadable)
        return taken

    async def _skip_handled(self, claimed: list[rows.Claimed]) -> list[rows.Claimed]:
        """Settle, without handling them again, claimed events whose marker is in the main
        database: handled before a crash (or a failed write) kept their rows from being
        marked done. The rest are returned."""
        handled = await self._marked_done([row.event_key for row in claimed])
        if not handled:
            return claimed
        settled = [row.id for row in claimed if row.event_key in handled]
        await self.store.run(partial(rows.settle, ids=settled, now=utcnow()))
        log.info(
            "inbox: %s handled before the last stop; marked done", plural(len(settled), "event")
        )
        return [row for row in claimed if row.event_key not in handled]

    async def _marked_done(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` have a done marker in the main database."""
        async with self.db.transaction() as session:
            return set(
                await session.scalars(
                    select(InboxEvent.event_key).where(
                        InboxEvent.event_key.in_(keys), InboxEvent.status == DONE
                    )
                )
            )

    async def _leave_unreadable(self, ids: list[int]) -> None:
        """Events sealed with another key: almost always ADVOCACY_SECRET_KEY changed (or a new
        instance has another). Setting them aside would bury them; they wait, untouched, and
        are tried again every minute, with one line a minute saying why."""
        await self.store.run(
            partial(rows.put_off, ids=ids, owner=self.owner, until=utcnow() + UNREADABLE_RETRY)
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
                await self._renew()
            except Exception:
                log.exception("inbox: renewing leases failed; will try again")

    async def _renew(self) -> None:
        """Renew the leases of the events this worker holds (in hand or queued here), a chunk
        a transaction by id, letting requests in between."""
        held = sorted(self._in_hand | self._ready.ids())
        lease_until = utcnow() + self.lease
        for start in range(0, len(held), rows.RENEW_CHUNK):
            chunk = held[start : start + rows.RENEW_CHUNK]
            await self.store.run(
                partial(rows.renew, owner=self.owner, lease_until=lease_until, ids=chunk)
            )
            await asyncio.sleep(0)

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
        before = (now or utcnow()) - self.keep
        purged = 0
        while count := await self.store.run(partial(rows.purge_done, before=before)):
            purged += count
        if self.store.separate:
            await self._settle_old_handled(before)
            while await self._purge_markers(before):
                pass
        return purged

    async def _settle_old_handled(self, before: datetime) -> None:
        """Before markers older than ``before`` go: settle the rows they stand for that are
        still pending (handled just before a crash, and the server stayed down for a while),
        so that no marker goes while its event could be handled again."""
        after_id = 0
        while waiting := await self.store.run(
            partial(rows.waiting_keys, received_before=before, after_id=after_id)
        ):
            after_id = waiting[-1][0]
            handled = await self._marked_done([key for _, key in waiting])
            done = [item_id for item_id, key in waiting if key in handled]
            if done:
                await self.store.run(partial(rows.settle, ids=done, now=utcnow()))

    async def _purge_markers(self, before: datetime) -> int:
        async with self.db.transaction() as session:
            doomed = (
                select(InboxEvent.id)
                .where(InboxEvent.status == DONE, InboxEvent.handled_at < before)
                .limit(rows.PURGE_CHUNK)
                .scalar_subquery()
            )
            result = await session.execute(delete(InboxEvent).where(InboxEvent.id.in_(doomed)))
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
        if self._settling is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._settling, timeout=2)
        try:
            left_over = await self.store.run(partial(rows.release, owner=self.owner))
        except Exception:
            log.exception("inbox: could not release events; they return after their lease")
            left_over = -1
        if left_over:
            log.info(
                "inbox: stopped; %s left for the next start",
                plural(left_over, "event"),
            )

    # ----- reading -------------------------------------------------------------------------

    async def pending_count(self) -> int:
        return (await self.depth())[PENDING]

    async def depth(self) -> dict[str, int]:
        """Events waiting (pending) and set aside (failed), for /metrics and the CLI."""
        return await self.store.run(rows.depth)

    async def settled(self) -> bool:
        """Nothing pending and nothing in hand (tests wait for it)."""
        return (
            not self._ready
            and not self._in_hand
            and not self._incoming
            and not self._to_settle
            and (self._settling is None or self._settling.done())
            and (await self.pending_count() == 0)
        )

    async def close(self) -> None:
        await self.store.close()

    # ----- moving in -----------------------------------------------------------------------

    async def _take_over_shared_inbox(self) -> None:
        """Events a server before the inbox had a file of its own left in the main database
        (pending or set aside) move to the inbox file: copied first, then deleted, so an
        interrupted move is done again at the next start, never lost."""
        if not self.store.separate:
            return
        async with self.db.transaction() as session:
            left = (
                (
                    await session.execute(
                        select(InboxEvent.__table__).where(InboxEvent.status.in_((PENDING, FAILED)))
                    )
                )
                .mappings()
                .all()
            )
        if not left:
            return
        moved = [{k: v for k, v in row.items() if k != "id"} for row in left]
        for row in moved:
            row.update(lease_owner=None, lease_until=None)
        await self.store.run(partial(rows.take_over, rows=moved))
        async with self.db.transaction() as session:
            await session.execute(
                delete(InboxEvent).where(InboxEvent.id.in_([row["id"] for row in left]))
            )
        log.info(
            "inbox: moved %d waiting event(s) to the inbox file %s", len(left), self.store.path
        )


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

    def ids(self) -> set[int]:
        return {item.id for queue in self._queues.values() for item, _ in queue}

    def clear(self) -> None:
        self._queues.clear()
        self._count = 0

    def __len__(self) -> int:
        return self._count
