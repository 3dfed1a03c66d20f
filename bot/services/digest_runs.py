"""Firing a digest: compose the message once per audience and queue one delivery per member.

Everything happens in one transaction, so a run is either fully queued or not at all; the
delivery worker then drains the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.suggestion_cards import rollup_message
from bot.compose.text import humanise_duration
from bot.domain import DeliveryStatus, DigestKind, Role, RunStatus
from bot.errors import InvalidInput
from bot.i18n import ENGLISH, _, normalize_locale, speaking
from bot.messages import Message
from bot.outbox.queue import Recipient, enqueue_message, member_recipient
from bot.plugins import Composer
from bot.sealing import Sealer
from bot.services.content_receipts import content_ids_of, record_receipts
from bot.services.content_runs import select_content
from bot.services.digests import audience_members, cron_trigger, parse_audience
from bot.services.permissions import Acting, require_role
from bot.services.preferences import WEEKLY, WEEKLY_GAP, WEEKLY_PERIOD, wants_kind
from bot.services.rollups import build_rollup
from bot.storage.models import Delivery, Digest, DigestRun, Member
from bot.storage.types import utcnow
from bot.storage.upsert import insert_ignore

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

    audience = await _audience(session, digest, scheduled_for, now)
    recipients = {
        m.id: r
        for m in (*audience.members, *audience.weekly)
        if (r := member_recipient(m, now)) is not None
    }
    channel = parse_audience(digest.audience).channel
    weekly_since = now - WEEKLY_PERIOD
    if since is None:
        since = await _since(session, digest, run, scheduled_for, zone)
    else:
        weekly_since = since
    # Content and voice digests are one message per audience (one for members who take every
    # digest, one covering the week for weekly members); a rollup is per manager.
    groups = [(audience.members, since), (audience.weekly, weekly_since)]
    batches: list[tuple[Message, list[Recipient]]] = []
    if digest.kind == DigestKind.ROLLUP:
        labels = []
        for group, group_since in groups:
            period = (now - group_since) if group_since else DEFAULT_PERIOD
            for m in group:
                if m.id in recipients:
                    # By objective and by team, each shown in full (a digest has no switch),
                    # in the manager's language.
                    with speaking(m.locale):
                        breakdowns = [
                            await build_rollup(session, m, sealer, by=by, period=period)
                            for by in ("objective", "team")
                        ]
                        label = _("last {period}").format(period=humanise_duration(period))
                        message = rollup_message(breakdowns[0], label, breakdowns=breakdowns)
                    batches.append((message, [recipients[m.id]]))
                    with speaking(ENGLISH):  # the run's note is for the log and the CLI
                        labels.append(f"last {humanise_duration(period)}")
        run.note = f"rollup of the {labels[0]}" if labels else "rollup"
    elif digest.kind == DigestKind.CONTENT:
        # Each person gets what they have not had yet, from this digest or any other.
        targets = (
            [Recipient.for_channel(channel)]
            if channel
            else [
                recipients[m.id]
                for m in (*audience.members, *audience.weekly)
                if m.id in recipients
            ]
        )
        if not targets:
            return await _skip(session, run, _NOBODY + audience.why_nobody())
        selection = await select_content(
            session,
            digest,
            run.id,
            targets,
            now,
            (composers or {}).get(digest.kind),
            include_sent=include_sent,
        )
        if isinstance(selection, str):
            return await _skip(session, run, selection)
        batches, run.note, run.content_ids = (
            selection.batches,
            selection.note,
            selection.content_ids,
        )
    elif channel:
        with speaking(None):  # a channel reads the workspace's language
            composed = await _compose(session, digest, run.id, since, now, composers)
        if isinstance(composed, str):
            return await _skip(session, run, composed)
        message, run.note = composed
        batches.append((message, [Recipient.for_channel(channel)]))
    else:
        notes: list[str] = []
        for index, (group, group_since) in enumerate(groups):
            targets = [recipients[m.id] for m in group if m.id in recipients]
            if not targets:
                continue
            group_notes: list[str] = []
            # One message per language among the readers, each composed in it.
            for locale, readers in _by_language(targets).items():
                with speaking(locale):
                    composed = await _compose(session, digest, run.id, group_since, now, composers)
                if isinstance(composed, str):
                    group_notes.append(composed)
                    continue
                message, note = composed
                batches.append((message, readers))
                group_notes.append(note)
            if group_notes:
                note = group_notes[0]
                notes.append(note if index == 0 else f"weekly readers: {note}")
        if not batches:
            return await _skip(session, run, notes[0] if notes else _NOBODY + audience.why_nobody())
        run.note = "; ".join(notes)
    if audience.left_out:
        run.note += f"; {audience.left_out}"
    queued = 0
    for message, batch in batches:
        message_id, count = await enqueue_message(
            session, message, batch, sealer=sealer, run_id=run.id, dedupe_prefix=f"run:{run.id}"
        )
        queued += count
        if digest.kind == DigestKind.CONTENT:
            # Written with the deliveries: what was queued for whom, in this transaction.
            await record_receipts(session, message_id, content_ids_of(message))
    if queued == 0:
        return await _skip(session, run, _NOBODY + audience.why_nobody())
    run.recipients = queued
    await session.flush()
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


def _by_language(targets: list[Recipient]) -> dict[str | None, list[Recipient]]:
    """Readers grouped by the language to write to them in (None: the default)."""
    groups: dict[str | None, list[Recipient]] = {}
    for target in targets:
        groups.setdefault(normalize_locale(target.locale), []).append(target)
    return groups


@dataclass
class _Audience:
    """Who this run goes to, split by what they chose, and who was left out and why."""

    members: list[Member]
    weekly: list[Member]
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


async def _audience(
    session: AsyncSession, digest: Digest, scheduled_for: datetime | None, now: datetime
) -> _Audience:
    members = await audience_members(session, digest)
    other_zones = 0
    if digest.local_time and scheduled_for is not None:
        # This firing is the cron's time on some members' clocks: only theirs.
        due: dict[str, bool] = {}
        kept = []
        for member in members:
            zone = member.timezone or "UTC"
            if zone not in due:
                due[zone] = scheduled_for in cron_trigger(digest.cron, zone).firings(
                    scheduled_for, scheduled_for
                )
            if due[zone]:
                kept.append(member)
        other_zones = len(members) - len(kept)
        members = kept
    wanted = [m for m in members if wants_kind(m, digest.kind)]
    muted = len(members) - len(wanted)
    weekly = [m for m in wanted if m.cadence == WEEKLY]
    recently = await _recently_served(session, digest, [m.id for m in weekly], now - WEEKLY_GAP)
    weekly_due = [m for m in weekly if m.id not in recently]
    every = [m for m in wanted if m.cadence != WEEKLY]
    return _Audience(every, weekly_due, muted, len(weekly) - len(weekly_due), other_zones)


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
