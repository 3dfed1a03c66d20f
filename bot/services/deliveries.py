"""What admins see of the outbox: the queue, deliveries that failed for good, and re-queueing.

A dead-lettered delivery is never dropped: it stays here, with the platform's error, until an
admin retries it (after fixing the cause: a revoked token, a user who left).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import DeliveryStatus, RunStatus
from bot.errors import InvalidInput
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
