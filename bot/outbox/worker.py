"""The delivery worker: drains the outbox through the enabled adapters.

Rows are claimed with a short lease (status ``sending`` until ``lease_until``, held by
``lease_owner``). A live worker renews its leases every few seconds, however slow the platform;
a process that dies (even by ``kill -9``) stops renewing, its leases expire within seconds, and
the next worker picks those rows up again. So nothing is lost, and duplicates are bounded by what
was in flight: one batch per worker. An outcome is written only while its writer still holds the
lease, so a worker that stalled past its lease never overwrites the new holder's result. On
PostgreSQL, claims use ``FOR UPDATE SKIP LOCKED`` so several instances share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select, update
from sqlalchemy.exc import DBAPIError

from bot.compose.text import plural
from bot.domain import DeliveryStatus
from bot.links import TrackedLinks
from bot.messages import Message
from bot.metrics import Metrics
from bot.outbox.admin import describe_held, held_deliveries
from bot.platform.contract import ChatAdapter, DeliveryError, DeliveryTarget
from bot.sealing import Sealer, SealError
from bot.services.digest_runs import finish_completed_runs
from bot.services.report_counters import count_sent_deliveries
from bot.shared_pacing import PacingUnavailable
from bot.storage.database import Database
from bot.storage.models import Delivery, OutboundMessage
from bot.storage.types import utcnow

log = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 900.0
RECORD_PATIENCE_SECONDS = 120.0
MESSAGE_CACHE_SIZE = 256
DEFAULT_LEASE = timedelta(seconds=30)
# How long deliveries wait after the platform refused the bot's token, before one tries again.
PLATFORM_HOLD = timedelta(minutes=5)
# How long a delivery waits when no send slot could be had from a shared pacer (the database
# did not answer): nothing was sent, so the attempt is not counted.
PACING_RETRY = timedelta(seconds=5)
# Outcome columns written for each delivery of a batch (all present in every outcome).
OUTCOME_COLUMNS = (
    "status",
    "attempts",
    "lease_until",
    "sent_at",
    "platform_ref",
    "next_attempt_at",
    "last_error",
)


# What a platform's error may say about where a message went: request URLs, and Slack and Teams
# conversation and user ids.
_ADDRESSES = re.compile(r"https?://\S+|\b(?:a|8|19|28|29):[\w.@:%-]+|\b[DUWC][A-Z0-9]{8,}\b")


def without_addresses(reason: str) -> str:
    """A sealed delivery's error, as it may be stored and logged: an anonymous author's
    conversation must not be written down by way of an error message."""
    return _ADDRESSES.sub("[hidden]", reason)


def worker_identity() -> str:
    """Who holds a lease: host and process, plus a random part so a reused pid is not confused."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class _Claimed:
    id: int
    message_id: int
    platform: str
    workspace: str
    recipient: str
    sealed_recipient: str | None
    attempts: int
    created_at: datetime
    channel: bool


@dataclass
class DrainStats:
    sent: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return sum(self.sent.values()) + sum(self.retried.values()) + sum(self.dead.values())


def backoff_seconds(
    attempts: int, retry_after: float | None = None, base: float = BASE_BACKOFF_SECONDS
) -> float:
    """Exponential backoff with jitter; a platform's Retry-After wins when it asks for longer."""
    exponential = min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))
    delay = exponential * random.uniform(0.5, 1.0)
    return max(delay, retry_after) if retry_after is not None else delay


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        adapters: Mapping[str, ChatAdapter],
        sealer: Sealer,
        metrics: Metrics,
        links: TrackedLinks,
        *,
        max_attempts: int = 5,
        lease: timedelta = DEFAULT_LEASE,
        batch_size: int = 50,
        concurrency: int = 8,
        base_backoff: float = BASE_BACKOFF_SECONDS,
        platform_states: Mapping[str, str | None] | None = None,
    ) -> None:
        self.db = db
        self.adapters = adapters
        # Each known platform: None when it sends here, else why not (said at start).
        self.platform_states = (
            dict(platform_states)
            if platform_states is not None
            else {name: None for name in adapters}
        )
        self.sealer = sealer
        self.metrics = metrics
        self.links = links
        self.max_attempts = max_attempts
        self.lease = lease
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.base_backoff = base_backoff
        self.owner = worker_identity()
        self._messages: OrderedDict[int, Message] = OrderedDict()
        self._wake = asyncio.Event()
        self._stopping = False
        # (platform, workspace) whose token the platform refused: held until this time, why.
        self.held: dict[tuple[str, str | None], tuple[datetime, str]] = {}
        self.hold_for = PLATFORM_HOLD

    def wake(self) -> None:
        """Called when something was queued, so the worker does not wait for its next poll."""
        self._wake.set()

    async def claim(self, run_id: int | None = None) -> list[_Claimed]:
        if not self.adapters:
            return []
        now = utcnow()
        async with self.db.transaction() as session:
            due: list[tuple[_Claimed, datetime]] = []
            for statement in self._due_statements(now, run_id):
                due += [(_Claimed(*row[:-1]), row[-1]) for row in await session.execute(statement)]
            due.sort(key=lambda claimed: (claimed[1], claimed[0].id))
            rows = [row for row, _next_attempt in due[: self.batch_size]]
            if rows:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_([row.id for row in rows]))
                    .values(
                        status=DeliveryStatus.SENDING,
                        lease_until=now + self.lease,
                        lease_owner=self.owner,
                    )
                )
        return rows

    def _due_statements(self, now: datetime, run_id: int | None) -> list[Select[Any]]:
        """The first due rows, a page (``batch_size``) per platform and per kind of due: waiting
        and due, or in flight with an expired lease. Each reads the queue's index (status,
        platform, next_attempt_at) in order and stops at the page; one query over every
        platform and both kinds made SQLite sort every waiting row at each batch (336 ms a
        batch with 100,000 waiting, 0.3 ms now)."""
        columns = (
            Delivery.id,
            Delivery.message_id,
            Delivery.platform,
            Delivery.workspace,
            Delivery.recipient,
            Delivery.sealed_recipient,
            Delivery.attempts,
            Delivery.created_at,
            Delivery.channel,
            Delivery.next_attempt_at,
        )
        statements = []
        for platform in self.adapters:
            for due in (
                and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
                and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
            ):
                statement = (
                    select(*columns)
                    .where(Delivery.platform == platform, due)
                    .order_by(Delivery.next_attempt_at, Delivery.id)
                    .limit(self.batch_size)
                )
                if run_id is not None:
                    # ``+ 0``: filtered as the index is read, not looked up through the run's
                    # index, which would fetch and sort every row of the run.
                    statement = statement.where(Delivery.run_id + 0 == run_id)
                if not self.db.is_sqlite:
                    statement = statement.with_for_update(skip_locked=True)
                statements.append(statement)
        return statements

    async def renew_leases(self) -> int:
        """Extend this worker's leases; returns how many rows it holds."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.status == DeliveryStatus.SENDING, Delivery.lease_owner == self.owner
                )
                .values(lease_until=utcnow() + self.lease)
                .execution_options(synchronize_session=False)
            )
        return result.rowcount or 0

    @contextlib.asynccontextmanager
    async def leases_kept_alive(self) -> AsyncIterator[None]:
        """Renew leases in the background while the caller sends, so a slow platform (a long
        Retry-After, a hung connection) never lets another worker take rows still in flight."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease.total_seconds() / 3)
                try:
                    await self.renew_leases()
                except Exception:
                    log.exception("renewing delivery leases failed; will try again")

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _message(self, message_id: int) -> Message:
        """A digest's one message serves thousands of deliveries: load it once, keep a few."""
        if message_id in self._messages:
            self._messages.move_to_end(message_id)
            return self._messages[message_id]
        async with self.db.transaction() as session:
            outbound = await session.get(OutboundMessage, message_id)
            if outbound is None:
                raise DeliveryError("the message of this delivery is gone", permanent=True)
            message = Message.from_dict(outbound.payload)
        self._messages[message_id] = message
        if len(self._messages) > MESSAGE_CACHE_SIZE:
            self._messages.popitem(last=False)
        return message

    def _target(self, row: _Claimed) -> DeliveryTarget:
        if row.sealed_recipient is None:
            return DeliveryTarget(row.id, row.platform, row.recipient, row.workspace, row.channel)
        try:
            opened = self.sealer.open(row.sealed_recipient)
        except SealError as error:
            raise DeliveryError(str(error), permanent=True) from None
        return DeliveryTarget(row.id, opened["platform"], opened["user_id"], opened["workspace"])

    async def _deliver(self, row: _Claimed, stats: DrainStats) -> dict[str, object]:
        """Send one delivery; returns the row's new state (written with the rest of its batch).
        Once the server is stopping, what is not sent yet is handed back unsent: the batch's
        outcomes are then written at once, and nothing sent is sent again after the restart."""
        if self._stopping:
            return self._unsent(row, utcnow(), None)
        attempts = row.attempts + 1
        now = utcnow()
        values = self._attempted(row, attempts, now)
        held = self.held.get((row.platform, row.workspace))
        if held is not None and held[0] > now:
            return self._held_back(row, *held)
        try:
            message = self.links.personalise(await self._message(row.message_id), row.id)
            result = await self.adapters[row.platform].send(self._target(row), message)
        except PacingUnavailable as error:
            log.warning("delivery %d via %s waits: %s", row.id, row.platform, error)
            return self._unsent(row, now + PACING_RETRY, str(error)[:2000])
        except DeliveryError as error:
            if not error.platform_down:
                return self._failed(row, error, attempts, now, stats)
            return self._hold(row, str(error), now)
        except Exception as error:
            return self._failed(row, error, attempts, now, stats)
        now = utcnow()
        values.update(
            status=DeliveryStatus.SENT,
            sent_at=now,
            last_error=None,
            # A sealed recipient's message reference would point at them: keep none.
            platform_ref=None if row.sealed_recipient else result.platform_ref,
        )
        stats.sent[row.platform] += 1
        self.metrics.deliveries.labels(platform=row.platform, status="sent").inc()
        self.metrics.delivery_latency.labels(platform=row.platform).observe(
            (now - row.created_at).total_seconds()
        )
        return values

    def _hold(self, row: _Claimed, reason: str, now: datetime) -> dict[str, object]:
        """The platform refused the token for this workspace: say so once, and hold its
        deliveries (the attempt not counted) until the next try, instead of dead-lettering
        every one of them with a line of log each."""
        key = (row.platform, row.workspace)
        until = now + self.hold_for
        if key not in self.held or self.held[key][0] <= now:
            log.error(
                "%s%s: %s; holding its deliveries, trying again at %s UTC",
                row.platform,
                f" workspace {row.workspace}" if row.workspace else "",
                reason,
                until.strftime("%H:%M"),
            )
        self.held[key] = (until, reason)
        return self._held_back(row, until, reason)

    @staticmethod
    def _attempted(row: _Claimed, attempts: int, now: datetime) -> dict[str, object]:
        """The row after a send was tried: its outcome fields are filled in by the caller."""
        return {
            "id": row.id,
            "attempts": attempts,
            "lease_until": None,
            "sent_at": None,
            "platform_ref": None,
            "next_attempt_at": now,
        }

    @classmethod
    def _held_back(cls, row: _Claimed, until: datetime, reason: str) -> dict[str, object]:
        return cls._unsent(row, until, f"held: {reason}"[:2000])

    @staticmethod
    def _unsent(row: _Claimed, retry_at: datetime, last_error: str | None) -> dict[str, object]:
        """The row handed back waiting, its attempt not counted (nothing was tried)."""
        return {
            "id": row.id,
            "status": DeliveryStatus.PENDING,
            "attempts": row.attempts,
            "lease_until": None,
            "sent_at": None,
            "platform_ref": None,
            "next_attempt_at": retry_at,
            "last_error": last_error,
        }

    def _failed(
        self, row: _Claimed, error: Exception, attempts: int, now: datetime, stats: DrainStats
    ) -> dict[str, object]:
        """A failed send: retried later with backoff, or dead-lettered."""
        values = self._attempted(row, attempts, now)
        retry_after = error.retry_after if isinstance(error, DeliveryError) else None
        permanent = isinstance(error, DeliveryError) and error.permanent
        if not isinstance(error, DeliveryError):
            log.exception("delivery %d via %s failed unexpectedly", row.id, row.platform)
        reason = str(error) or type(error).__name__
        if row.sealed_recipient is not None:
            reason = without_addresses(reason)
        if permanent or attempts >= self.max_attempts:
            values.update(status=DeliveryStatus.DEAD, last_error=reason[:2000])
            stats.dead[row.platform] += 1
            self.metrics.deliveries.labels(platform=row.platform, status="dead").inc()
            log.warning(
                "delivery %d via %s dead-lettered after %s: %s",
                row.id,
                row.platform,
                plural(attempts, "attempt"),
                reason,
            )
        else:
            delay = backoff_seconds(attempts, retry_after, self.base_backoff)
            values.update(
                status=DeliveryStatus.PENDING,
                last_error=reason[:2000],
                next_attempt_at=now + timedelta(seconds=delay),
            )
            stats.retried[row.platform] += 1
            self.metrics.deliveries.labels(platform=row.platform, status="retried").inc()
            log.info(
                "delivery %d via %s will retry in %.1fs: %s",
                row.id,
                row.platform,
                delay,
                reason,
            )
        return values

    async def drain_batch(self, stats: DrainStats, run_id: int | None = None) -> int:
        rows = await self.claim(run_id)
        if not rows:
            return 0
        await self._record_when_possible(await self._send_batch(rows, stats))
        return len(rows)

    async def _drain_in_turn(
        self,
        stats: DrainStats,
        run_id: int | None = None,
        *,
        on_progress: Callable[[DrainStats], None] | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Drain what is due, batch after batch. The next batch is claimed while this one
        sends: a pause between batches is time the platform's cap allowed and the pacer cannot
        give back (its burst makes up a few slots, not a claim's worth). The next batch's sends
        still start only once this batch's outcomes are written, so a crash resends at most one
        batch, as before; a batch claimed but not sent is handed back when the loop ends."""
        rows = await self.claim(run_id)
        while rows:
            following = asyncio.create_task(self.claim(run_id))
            try:
                await self._record_when_possible(await self._send_batch(rows, stats))
            except BaseException:
                await self._hand_back(following)
                raise
            if on_progress:
                on_progress(stats)
            if stop is not None and stop.is_set():
                await self._hand_back(following)
                return
            rows = await following

    async def _hand_back(self, claim: asyncio.Task[list[_Claimed]]) -> None:
        """Give back a claimed batch that will not be sent, due at once, attempts unchanged (its
        leases would otherwise keep it from every worker until they expire)."""
        try:
            rows = await claim
            if rows:
                await self._record([self._unsent(row, utcnow(), None) for row in rows])
        except Exception:
            log.exception("handing back unsent deliveries failed; their leases will expire")

    async def _send_batch(self, rows: list[_Claimed], stats: DrainStats) -> list[dict[str, object]]:
        """Send a claimed batch; returns each row's outcome, to be written together."""
        # One conversation's messages go out in order; different conversations in parallel.
        conversations: dict[tuple[str, ...], list[_Claimed]] = {}
        for row in rows:
            key = (
                (row.platform, row.workspace, row.recipient)
                if row.sealed_recipient is None
                else ("sealed", str(row.id))
            )
            conversations.setdefault(key, []).append(row)
        semaphore = asyncio.Semaphore(self.concurrency)
        outcomes: list[dict[str, object]] = []

        async def in_order(conversation: list[_Claimed]) -> None:
            async with semaphore:
                for row in conversation:
                    outcomes.append(await self._deliver(row, stats))

        await asyncio.gather(*(in_order(c) for c in conversations.values()))
        return outcomes

    async def _record_when_possible(self, outcomes: list[dict[str, object]]) -> None:
        """Write a batch's outcomes, waiting out a database that went away (a restart, a
        fail-over) for up to RECORD_PATIENCE_SECONDS: the messages are already out, and an
        outcome dropped here means the whole batch is sent again once its leases expire."""
        deadline = asyncio.get_running_loop().time() + RECORD_PATIENCE_SECONDS
        pause = 0.25
        while True:
            try:
                await self._record(outcomes)
                return
            except (DBAPIError, OSError) as error:
                if asyncio.get_running_loop().time() + pause > deadline:
                    raise
                log.warning(
                    "database unavailable (%s); holding %d delivery outcomes, retrying in %.1fs",
                    type(error).__name__,
                    len(outcomes),
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _record(self, outcomes: list[dict[str, object]]) -> None:
        """One write for the whole batch (a crash before it resends at most this batch), and only
        for rows this worker still holds."""
        table = Delivery.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.lease_owner == self.owner)
            .values(
                lease_owner=None,
                **{column: bindparam(f"b_{column}") for column in OUTCOME_COLUMNS},
            )
        )
        parameters = [{f"b_{key}": value for key, value in row.items()} for row in outcomes]
        sent = [row["id"] for row in outcomes if row.get("status") == DeliveryStatus.SENT]
        async with self.db.transaction() as session:
            await count_sent_deliveries(session, self.owner, sent)  # type: ignore[arg-type]
            await session.execute(statement, parameters)
            await finish_completed_runs(session)

    async def drain(
        self,
        *,
        run_id: int | None = None,
        wait_for_retries: bool = True,
        on_progress: Callable[[DrainStats], None] | None = None,
    ) -> DrainStats:
        """Send everything due (optionally of one run); with ``wait_for_retries``, also wait for
        retries of that work until each delivery is sent or dead-lettered."""
        stats = DrainStats()
        async with self.leases_kept_alive():
            while True:
                await self._drain_in_turn(stats, run_id, on_progress=on_progress)
                if not wait_for_retries:
                    return stats
                next_due = await self._next_due(run_id)
                if next_due is None:
                    return stats
                await asyncio.sleep(min(5.0, max(0.05, (next_due - utcnow()).total_seconds())))

    async def _next_due(self, run_id: int | None) -> datetime | None:
        async with self.db.transaction() as session:
            statement = select(
                Delivery.next_attempt_at, Delivery.lease_until, Delivery.status
            ).where(
                Delivery.platform.in_(list(self.adapters)),
                Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
            )
            if run_id is not None:
                statement = statement.where(Delivery.run_id + 0 == run_id)  # as in claim
            rows = (
                await session.execute(statement.order_by(Delivery.next_attempt_at).limit(500))
            ).all()
        times = [
            lease if status == DeliveryStatus.SENDING and lease is not None else next_at
            for next_at, lease, status in rows
        ]
        return min(times) if times else None

    async def _say_what_waits(self) -> None:
        """At start: what the outbox holds, and what is held: waiting for a platform that does
        not send here, with why (one line per platform)."""
        async with self.db.transaction() as session:
            rows = await session.execute(
                select(Delivery.platform, func.count(Delivery.id))
                .where(Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)))
                .group_by(Delivery.platform)
            )
            waiting = dict(rows.all())
            states = {**self.platform_states, **{name: None for name in self.adapters}}
            held = await held_deliveries(session, states)
        here = {p: n for p, n in waiting.items() if p in self.adapters}
        if here:
            log.info(
                "outbox: %s waiting to be sent",
                ", ".join(f"{n:,} for {p}" for p, n in sorted(here.items())),
            )
        for group in held:
            log.warning("outbox: %s (advocacy deliveries status)", describe_held(group))

    async def _stop_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping = True

    async def run_forever(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        """The server's loop: drain, then sleep until woken or the next poll."""
        log.info(
            "delivery worker started for %s", ", ".join(sorted(self.adapters)) or "no adapters"
        )
        try:
            await self._say_what_waits()
        except Exception:
            log.exception("could not read the outbox at start")
        self._stopping = False
        stopping = asyncio.create_task(self._stop_when(stop))
        try:
            async with self.leases_kept_alive():
                while not stop.is_set():
                    try:
                        await self._drain_in_turn(DrainStats(), stop=stop)
                        if stop.is_set():
                            return
                    except Exception:
                        log.exception("delivery worker failed; retrying in %.0fs", poll_interval)
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=poll_interval)
        finally:
            stopping.cancel()
