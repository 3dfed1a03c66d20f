"""What admins see of the outbox: the queue, deliveries that failed for good, and re-queueing.

A dead-lettered delivery is never dropped: it stays here, with the platform's error, until an
admin retries it (after fixing the cause: a revoked token, a user who left).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import DeliveryStatus, RunStatus
from bot.errors import InvalidInput, NotFound
from bot.storage.models import Delivery, Digest, DigestRun, Member
from bot.storage.types import utcnow


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    platform: str
    to: str
    attempts: int
    error: str
    digest: str | None
    run_id: int | None
    queued_at: datetime
    failed_at: datetime | None


async def failed_deliveries(session: AsyncSession, limit: int = 50) -> list[FailedDelivery]:
    """Dead-lettered deliveries, newest first. A sealed recipient (an anonymous author) is shown
    as such: who it is stays sealed."""
    rows = await session.execute(
        select(Delivery, Member.display_name, Digest.name)
        .outerjoin(Member, Member.id == Delivery.member_id)
        .outerjoin(DigestRun, DigestRun.id == Delivery.run_id)
        .outerjoin(Digest, Digest.id == DigestRun.digest_id)
        .where(Delivery.status == DeliveryStatus.DEAD)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    found = []
    for delivery, member_name, digest_name in rows:
        if delivery.sealed_recipient:
            to = "(sealed recipient)"
        elif delivery.channel:
            to = f"channel {delivery.recipient}"
        else:
            to = member_name or delivery.recipient
        found.append(
            FailedDelivery(
                id=delivery.id,
                platform=delivery.platform,
                to=to,
                attempts=delivery.attempts,
                error=delivery.last_error or "",
                digest=digest_name,
                run_id=delivery.run_id,
                queued_at=delivery.created_at,
                failed_at=delivery.next_attempt_at,
            )
        )
    return found


@dataclass(frozen=True)
class HeldDeliveries:
    """Deliveries waiting for a platform that does not send here: not failed, not lost, but
    nothing sends them until the platform is enabled."""

    platform: str
    count: int
    reason: str


async def held_deliveries(
    session: AsyncSession, platforms: Mapping[str, str | None]
) -> list[HeldDeliveries]:
    """Waiting deliveries (queued or in flight) per platform that does not send here, with
    why. ``platforms``: each known platform, with None when it sends here, else why it does
    not (``Application.platform_states``); a platform not in it has no adapter installed."""
    rows = await session.execute(
        select(Delivery.platform, func.count(Delivery.id))
        .where(Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)))
        .group_by(Delivery.platform)
        .order_by(Delivery.platform)
    )
    held = []
    for platform, count in rows:
        if platform in platforms and platforms[platform] is None:
            continue
        reason = platforms.get(platform) or (
            f"no adapter for '{platform}' is installed (known: {', '.join(sorted(platforms))}), "
            "so nothing can send them"
        )
        held.append(HeldDeliveries(platform, int(count), reason))
    return held


def describe_held(held: HeldDeliveries) -> str:
    """One line for the CLI and the log: '16 deliveries for teams are held: teams is not...'."""
    plural = "delivery for {p} is" if held.count == 1 else "deliveries for {p} are"
    return f"{held.count:,} {plural.format(p=held.platform)} held: {held.reason}"


async def count_dead(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.DEAD)
        )
        or 0
    )


async def retry_deliveries(
    session: AsyncSession,
    *,
    ids: Sequence[int] = (),
    run_id: int | None = None,
    everything: bool = False,
) -> int:
    """Put dead-lettered deliveries back in the queue with a fresh set of attempts."""
    if not ids and run_id is None and not everything:
        raise InvalidInput("Say which deliveries: their ids, --run RUN_ID or --all.")
    if ids:
        await _require_failed(session, ids)
    if run_id is not None and await session.get(DigestRun, run_id) is None:
        raise NotFound(f"There is no digest run #{run_id}; advocacy digest runs lists them.")
    chosen = [Delivery.status == DeliveryStatus.DEAD]
    if ids:
        chosen.append(Delivery.id.in_(list(ids)))
    if run_id is not None:
        chosen.append(Delivery.run_id == run_id)
    # Their runs are open again, and finished again when these deliveries are.
    await session.execute(
        update(DigestRun)
        .where(DigestRun.id.in_(select(Delivery.run_id).where(*chosen)))
        .values(status=RunStatus.ENQUEUED, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(Delivery)
        .where(*chosen)
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            lease_until=None,
            lease_owner=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def _require_failed(session: AsyncSession, ids: Sequence[int]) -> None:
    """Each id names a delivery that failed for good, or nothing is re-queued: a mistyped id
    must not read as done."""
    found = dict(
        (
            await session.execute(
                select(Delivery.id, Delivery.status).where(Delivery.id.in_(list(ids)))
            )
        ).all()
    )
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise NotFound(
            f"There is no delivery #{', #'.join(unknown)}; advocacy deliveries failed lists "
            "the ones that can be retried (e.g. advocacy deliveries retry 42)."
        )
    not_failed = [
        f"#{i} ({STATE_WORDS.get(found[i], found[i])})"
        for i in ids
        if found[i] != DeliveryStatus.DEAD
    ]
    if not_failed:
        raise InvalidInput(
            f"Only failed deliveries are retried, and {', '.join(not_failed)} did not fail; "
            "advocacy deliveries failed lists the ones that did."
        )


STATE_WORDS = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.PENDING: "waiting to be sent",
    DeliveryStatus.SENDING: "being sent",
}
