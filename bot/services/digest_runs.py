"""Firing a digest: compose the message once per audience and language, and queue one delivery
per member.

Readers are read in pages and their deliveries inserted in batches, so a run to 100,000 people
holds one page of them and a few messages, never the whole audience. Everything happens in one
transaction, so a run is either fully queued or not at all (a run killed half-way queued nobody,
and running it again queues everyone once); the delivery worker then drains the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic as clock
from typing import cast

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.suggestion_cards import rollup_message
from bot.compose.text import humanise_duration
from bot.domain import DeliveryStatus, DigestKind, Role, RunStatus
from bot.errors import InvalidInput
from bot.i18n import ENGLISH, _, normalize_locale, speaking
from bot.messages import Message
from bot.outbox.queue import Recipient, add_message, delivery_row, insert_deliveries
from bot.plugins import Composer
from bot.sealing import Sealer
from bot.services.content_receipts import content_ids_of, record_receipts
from bot.services.content_runs import ContentChooser, HistoryKey, select_content
from bot.services.digests import Reader, audience_pages, cron_trigger, parse_audience
from bot.services.permissions import Acting, require_role
from bot.services.preferences import WEEKLY, WEEKLY_GAP, WEEKLY_PERIOD, quiet_until, wants_kind
from bot.services.rollups import build_rollup
from bot.storage.models import Delivery, Digest, DigestRun, Member
from bot.storage.types import utcnow
from bot.storage.upsert import insert_ignore

log = logging.getLogger(__name__)

DEFAULT_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class RunOutcome:
    run: DigestRun
    queued: int

    @property
    def note(self) -> str:
        return self.run.note


async def previous_run(session: AsyncSession, digest: Digest, before_id: int) -> DigestRun | None:
    return (
        await session.scalars(
            select(DigestRun)
            .where(
                DigestRun.digest_id == digest.id,
                DigestRun.id < before_id,
                DigestRun.status.in_((RunStatus.ENQUEUED, RunStatus.DONE)),
            )
            .order_by(DigestRun.id.desc())
            .limit(1)
        )
    ).first()


async def start_run(
    session: AsyncSession,
    sealer: Sealer,
    digest: Digest,
    *,
    actor: Acting,
    trigger: str = "manual",
    scheduled_for: datetime | None = None,
    composers: Mapping[str, Composer] | None = None,
    zone: str | None = None,
    include_sent: bool = False,
    since: datetime | None = None,
) -> RunOutcome | None:
    """Create and queue a run; None when this scheduled firing was already handled elsewhere.

    ``composers`` (from plugins) replace the built-in composition for their digest kinds.
    ``zone`` is the clock a local-time digest's firing was read on. ``include_sent`` (a
    strategist's manual run only) lets a content digest pick items people already had;
    ``since`` (a manual run only) sets where the period it covers starts.
    """
    if trigger == "manual":
        require_role(actor, (Role.STRATEGIST,), "send digests")
    elif include_sent or since is not None:
        raise InvalidInput("Only a strategist's manual run chooses its period or resends items.")
    started = clock()
    now = utcnow()
    if scheduled_for is not None:
        inserted = await insert_ignore(
            session,
            DigestRun.__table__,
            {
                "digest_id": digest.id,
                "trigger": trigger,
                "scheduled_for": scheduled_for,
                "status": RunStatus.ENQUEUED,
                "recipients": 0,
                "note": "",
                "started_at": now,
            },
        )
        if not inserted:
            return None
        run = (
            await session.scalars(
                select(DigestRun).where(
                    DigestRun.digest_id == digest.id, DigestRun.scheduled_for == scheduled_for
                )
            )
        ).one()
    else:
        run = DigestRun(
            digest_id=digest.id, trigger=trigger, status=RunStatus.ENQUEUED, started_at=now
        )
        session.add(run)
        await session.flush()

    channel = parse_audience(digest.audience).channel
    weekly_since = now - WEEKLY_PERIOD
    if since is None:
        since = await _since(session, digest, run, scheduled_for, zone)
    else:
        weekly_since = since
    # Readers come in pages and are queued batch by batch, in this one transaction: nothing
    # holds the whole audience or a message per person, and a run cut short queues nobody.
    audience = _Audience()
    queue = _Queue(session, sealer, run.id)
    if digest.kind == DigestKind.ROLLUP:
        labels: list[str] = []
        async for group, recipient in _readers(session, digest, scheduled_for, now, audience):
            group_since = since if group == EVERY else weekly_since
            period = (now - group_since) if group_since else DEFAULT_PERIOD
            manager = await session.get(Member, recipient.member_id)
            assert manager is not None
            # By objective and by team, each shown in full (a digest has no switch), in the
            # manager's language.
            with speaking(manager.locale):
                breakdowns = [
                    await build_rollup(session, manager, sealer, by=by, period=period)
                    for by in ("objective", "team")
                ]
                label = _("last {period}").format(period=humanise_duration(period))
                message = rollup_message(breakdowns[0], label, breakdowns=breakdowns)
            queue.add(await add_message(session, message, run_id=run.id), recipient)
            await queue.flush_when_full()
            with speaking(ENGLISH):  # the run's note is for the log and the CLI
                labels.append(f"last {humanise_duration(period)}")
        run.note = f"rollup of the {labels[0]}" if labels else "rollup"
    elif digest.kind == DigestKind.CONTENT and channel:
        selection = await select_content(
            session,
            digest,
            run.id,
            [Recipient.for_channel(channel)],
            now,
            (composers or {}).get(digest.kind),
            include_sent=include_sent,
        )
        if isinstance(selection, str):
            return await _skip(session, run, selection)
        for message, batch in selection.batches:
            message_id = await add_message(session, message, run_id=run.id)
            queue.add_all(message_id, batch, content_ids_of(message))
        run.note, run.content_ids = selection.note, selection.content_ids
    elif digest.kind == DigestKind.CONTENT:
        # Each person gets what they have not had yet, from this digest or any other.
        chooser = ContentChooser(
            session,
            digest,
            run.id,
            now,
            (composers or {}).get(digest.kind),
            include_sent=include_sent,
        )
        message_ids: dict[HistoryKey, int] = {}
        async for page in _reader_pages(session, digest, scheduled_for, now, audience):
            targets = [recipient for _group, recipient in page]
            for target, (key, message) in zip(targets, await chooser.choose(targets), strict=True):
                if message is None:
                    continue
                if key not in message_ids:
                    message_ids[key] = await add_message(session, message, run_id=run.id)
                    queue.items[message_ids[key]] = content_ids_of(message)
                queue.add(message_ids[key], target)
            await queue.flush()
        if not audience.reached:
            return await _skip(session, run, _NOBODY + audience.why_nobody())
        if not message_ids:
            return await _skip(session, run, chooser.reason)
        run.content_ids = list(dict.fromkeys(i for ids in queue.items.values() for i in ids))
        run.note = chooser.note(run.content_ids)
    elif channel:
        with speaking(None):  # a channel reads the workspace's language
            composed = await _compose(session, digest, run.id, since, now, composers)
        if isinstance(composed, str):
            return await _skip(session, run, composed)
        message, run.note = composed
        queue.add(
            await add_message(session, message, run_id=run.id), Recipient.for_channel(channel)
        )
    else:
        # A voice digest is one message per audience (one for members who take every digest,
        # one covering the week for weekly members) and language among the readers, each
        # composed in it when its first reader comes up.
        composed_for: dict[tuple[int, str | None], int | None] = {}
        notes: dict[int, list[str]] = {EVERY: [], WEEKLY_DUE: []}
        async for group, recipient in _readers(session, digest, scheduled_for, now, audience):
            key = (group, normalize_locale(recipient.locale))
            if key not in composed_for:
                group_since = since if group == EVERY else weekly_since
                with speaking(key[1]):
                    composed = await _compose(session, digest, run.id, group_since, now, composers)
                if isinstance(composed, str):
                    composed_for[key] = None
                    notes[group].append(composed)
                else:
                    composed_for[key] = await add_message(session, composed[0], run_id=run.id)
                    notes[group].append(composed[1])
            if (message_id := composed_for[key]) is not None:
                queue.add(message_id, recipient)
                await queue.flush_when_full()
        firsts = [(group, found[0]) for group, found in notes.items() if found]
        if not any(message_id is not None for message_id in composed_for.values()):
            why = firsts[0][1] if firsts else _NOBODY + audience.why_nobody()
            return await _skip(session, run, why)
        run.note = "; ".join(
            note if group == EVERY else f"weekly readers: {note}" for group, note in firsts
        )
    if audience.left_out:
        run.note += f"; {audience.left_out}"
    await queue.flush()
    if digest.kind == DigestKind.CONTENT:
        # Written with the deliveries: what was queued for whom, in this transaction.
        for message_id, item_ids in queue.items.items():
            await record_receipts(session, message_id, item_ids)
    queued = int(
        await session.scalar(select(func.count(Delivery.id)).where(Delivery.run_id == run.id)) or 0
    )
    if not queued:
        return await _skip(session, run, _NOBODY + audience.why_nobody())
    run.recipients = queued
    await session.flush()
    log.debug("digest run #%s: composed and queued %s in %.1f s", run.id, queued, clock() - started)
    return RunOutcome(run, queued)


async def _compose(
    session: AsyncSession,
    digest: Digest,
    run_id: int,
    since: datetime | None,
    now: datetime,
    composers: Mapping[str, Composer] | None,
) -> tuple[Message, str] | str:
    compose = (composers or {}).get(digest.kind, _compose_for_audience)
    return await compose(session, digest, run_id, since, now)


class _Queue:
    """A run's outbox rows waiting to be inserted, a batch at a time."""

    BATCH = 2_000

    def __init__(self, session: AsyncSession, sealer: Sealer, run_id: int) -> None:
        self.session = session
        self.sealer = sealer
        self.run_id = run_id
        self.now = utcnow()
        self.rows: list[dict[str, object]] = []
        # A content run's messages and the items each carries (for the receipts).
        self.items: dict[int, list[int]] = {}

    def add(self, message_id: int, recipient: Recipient) -> None:
        # The dedupe key makes queueing a reader twice in one run a no-op.
        self.rows.append(
            delivery_row(
                message_id,
                recipient,
                self.sealer,
                self.now,
                run_id=self.run_id,
                dedupe_prefix=f"run:{self.run_id}",
            )
        )

    def add_all(self, message_id: int, recipients: list[Recipient], items: list[int]) -> None:
        for recipient in recipients:
            self.add(message_id, recipient)
        self.items[message_id] = items

    async def flush_when_full(self) -> None:
        if len(self.rows) >= self.BATCH:
            await self.flush()

    async def flush(self) -> None:
        await insert_deliveries(self.session, self.rows)
        self.rows = []


EVERY, WEEKLY_DUE = 0, 1  # members who take every digest; weekly members whose week is up


@dataclass
class _Audience:
    """How many readers the run reached, and who was left out and why, counted as they go by."""

    reached: int = 0
    muted: int = 0
    weekly_waiting: int = 0
    other_zones: int = 0

    @property
    def left_out(self) -> str:
        parts = []
        if self.muted:
            parts.append(f"{self.muted} muted this kind")
        if self.weekly_waiting:
            parts.append(f"{self.weekly_waiting} weekly not due yet")
        if self.other_zones:
            parts.append(f"{self.other_zones} in other time zones")
        return ", ".join(parts)

    def why_nobody(self) -> str:
        left_out = self.left_out
        if left_out:
            return f" (left out: {left_out})."
        return "; add members with advocacy members add or members import."


_NOBODY = "Nobody in the audience can be reached"


async def _readers(
    session: AsyncSession,
    digest: Digest,
    scheduled_for: datetime | None,
    now: datetime,
    audience: _Audience,
) -> AsyncIterator[tuple[int, Recipient]]:
    """``_reader_pages``, one reader at a time."""
    async for page in _reader_pages(session, digest, scheduled_for, now, audience):
        for reader in page:
            yield reader


async def _reader_pages(
    session: AsyncSession,
    digest: Digest,
    scheduled_for: datetime | None,
    now: datetime,
    audience: _Audience,
) -> AsyncIterator[list[tuple[int, Recipient]]]:
    """The run's readers a page at a time, each with their group (EVERY or WEEKLY_DUE) and
    where to reach them; who is left out is counted in ``audience``."""
    due: dict[str, bool] = {}
    async for page in audience_pages(session, digest):
        if digest.local_time and scheduled_for is not None:
            # This firing is the cron's time on some members' clocks: only theirs.
            kept = []
            for reader in page:
                if reader.timezone not in due:
                    due[reader.timezone] = scheduled_for in cron_trigger(
                        digest.cron, reader.timezone
                    ).firings(scheduled_for, scheduled_for)
                if due[reader.timezone]:
                    kept.append(reader)
            audience.other_zones += len(page) - len(kept)
            page = kept
        # A ``Reader`` has every field of a member these rules read.
        wanted = [r for r in page if wants_kind(cast(Member, r), digest.kind)]
        audience.muted += len(page) - len(wanted)
        weekly = [r.id for r in wanted if r.cadence == WEEKLY]
        recently = await _recently_served(session, digest, weekly, now - WEEKLY_GAP)
        audience.weekly_waiting += len(recently)
        readers = [
            (WEEKLY_DUE if reader.cadence == WEEKLY else EVERY, _recipient(reader, now))
            for reader in wanted
            if reader.id not in recently and reader.platform is not None
        ]
        audience.reached += len(readers)
        if readers:
            yield readers


def _recipient(reader: Reader, now: datetime) -> Recipient:
    """Where a reader gets direct messages, after their quiet hours if they are in them."""
    assert reader.platform is not None
    return Recipient(
        platform=reader.platform,
        workspace=reader.workspace,
        user_id=reader.user_id,
        member_id=reader.id,
        not_before=quiet_until(cast(Member, reader), now),
        locale=reader.locale,
    )


async def _recently_served(
    session: AsyncSession, digest: Digest, member_ids: list[int], after: datetime
) -> set[int]:
    if not member_ids:
        return set()
    rows = await session.scalars(
        select(Delivery.member_id)
        .join(DigestRun, DigestRun.id == Delivery.run_id)
        .where(
            DigestRun.digest_id == digest.id,
            Delivery.member_id.in_(member_ids),
            Delivery.created_at > after,
            Delivery.status != DeliveryStatus.DEAD,
        )
    )
    return {member_id for member_id in rows if member_id is not None}


async def _since(
    session: AsyncSession,
    digest: Digest,
    run: DigestRun,
    scheduled_for: datetime | None,
    zone: str | None,
) -> datetime | None:
    """What the run covers starts where the audience's previous digest ended. A local-time
    digest fires once per time zone, so for it that is the previous firing on the same clock."""
    if digest.local_time and scheduled_for is not None and zone:
        previous_firing = cron_trigger(digest.cron, zone).previous_fire_time(
            scheduled_for, DEFAULT_PERIOD + timedelta(days=1)
        )
        if previous_firing is not None:
            return previous_firing
    previous = await previous_run(session, digest, run.id)
    return previous.started_at if previous else None


async def _compose_for_audience(
    session: AsyncSession, digest: Digest, run_id: int, since: datetime | None, now: datetime
) -> tuple[Message, str] | str:
    """The reason there is nothing to send: content is composed by ``select_content``."""
    # Customer-voice digests need the pipeline's themes and scrubbing: content/ composes them.
    return (
        "Customer-voice digests come from the content package, which is not loaded; "
        "reinstall the project (pip install -e .) and check the start-up log."
    )


async def _skip(session: AsyncSession, run: DigestRun, note: str) -> RunOutcome:
    run.status = RunStatus.SKIPPED
    run.note = note
    run.finished_at = utcnow()
    await session.flush()
    return RunOutcome(run, 0)


async def finish_completed_runs(session: AsyncSession) -> int:
    """Mark queued runs done once none of their deliveries is waiting or in flight."""
    # One probe of the (run_id, status) index a run: through run_id alone SQLite walked past
    # every row already sent, at each batch (23 ms a batch half-way through 100,000, quadratic).
    waiting = exists().where(
        Delivery.run_id == DigestRun.id,
        Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
    )
    result = await session.execute(
        update(DigestRun)
        .where(DigestRun.status == RunStatus.ENQUEUED, ~waiting)
        .values(status=RunStatus.DONE, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def list_runs(
    session: AsyncSession, digest: Digest | None = None, limit: int = 20
) -> list[DigestRun]:
    statement = select(DigestRun).order_by(DigestRun.id.desc()).limit(limit)
    if digest is not None:
        statement = statement.where(DigestRun.digest_id == digest.id)
    return list(await session.scalars(statement))
