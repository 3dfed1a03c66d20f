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

from bot.compose.content_digest import compose_content_digest
from bot.compose.suggestion_cards import rollup_message
from bot.compose.text import humanise_duration
from bot.domain import DeliveryStatus, DigestKind, Role, RunStatus
from bot.messages import Message
from bot.plugins import Composer
from bot.sealing import Sealer
from bot.services.content import deliverable_content
from bot.services.digests import audience_members, parse_audience
from bot.services.outbox import Recipient, enqueue, member_recipient
from bot.services.permissions import Acting, require_role
from bot.services.rollups import build_rollup
from bot.storage.models import Delivery, Digest, DigestRun
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
) -> RunOutcome | None:
    """Create and queue a run; None when this scheduled firing was already handled elsewhere.

    ``composers`` (from plugins) replace the built-in composition for their digest kinds.
    """
    if trigger == "manual":
        require_role(actor, (Role.STRATEGIST,), "send digests")
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

    members = await audience_members(session, digest)
    recipients = {m.id: r for m in members if (r := member_recipient(m)) is not None}
    channel = parse_audience(digest.audience).channel
    previous = await previous_run(session, digest, run.id)
    since = previous.started_at if previous else None
    # Content and voice digests are one message for the whole audience; a rollup is per manager.
    if digest.kind == DigestKind.ROLLUP:
        period = (now - since) if since else DEFAULT_PERIOD
        label = f"last {humanise_duration(period)}"
        batches = [
            (
                rollup_message(
                    await build_rollup(session, m, by="objective", period=period), label
                ),
                [recipients[m.id]],
            )
            for m in members
            if m.id in recipients
        ]
        run.note = f"rollup of the {label}"
    else:
        compose = (composers or {}).get(digest.kind, _compose_for_audience)
        composed = await compose(session, digest, run.id, since, now)
        if isinstance(composed, str):
            return await _skip(session, run, composed)
        message, run.note = composed
        targets = [Recipient.for_channel(channel)] if channel else list(recipients.values())
        batches = [(message, targets)]
    queued = 0
    for message, batch in batches:
        queued += await enqueue(
            session, message, batch, sealer=sealer, run_id=run.id, dedupe_prefix=f"run:{run.id}"
        )
    if queued == 0:
        return await _skip(
            session,
            run,
            "Nobody in the audience can be reached; add members with "
            "advocacy members add or members import.",
        )
    run.recipients = queued
    await session.flush()
    return RunOutcome(run, queued)


async def _compose_for_audience(
    session: AsyncSession, digest: Digest, run_id: int, since: datetime | None, now: datetime
) -> tuple[Message, str] | str:
    """The message and a note for the run, or the reason there is nothing to send."""
    if digest.kind == DigestKind.CONTENT:
        items = await deliverable_content(session, since=since, objective_id=digest.objective_id)
        if not items:
            return (
                "No new approved content since the last run; add some with: "
                "advocacy content add URL --title TITLE"
            )
        return compose_content_digest(digest.name, run_id, items), f"{len(items)} items"
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
