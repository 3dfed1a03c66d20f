"""The inbox as an admin sees it: what waits, what was set aside after every attempt failed, and
putting those back. Payloads stay sealed: an admin sees kinds, times and errors, never content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInput
from bot.inbox import FAILED, PENDING
from bot.storage.models import InboxEvent
from bot.storage.types import utcnow


@dataclass(frozen=True)
class InboxSummary:
    waiting: int
    failed: int
    oldest_waiting: datetime | None


@dataclass(frozen=True)
class SetAside:
    id: int
    platform: str
    kind: str
    attempts: int
    received_at: datetime
    last_error: str


async def inbox_summary(session: AsyncSession) -> InboxSummary:
    rows = dict(
        (
            await session.execute(
                select(InboxEvent.status, func.count(InboxEvent.id))
                .where(InboxEvent.status.in_((PENDING, FAILED)))
                .group_by(InboxEvent.status)
            )
        ).all()
    )
    oldest = await session.scalar(
        select(func.min(InboxEvent.received_at)).where(InboxEvent.status == PENDING)
    )
    return InboxSummary(int(rows.get(PENDING, 0)), int(rows.get(FAILED, 0)), oldest)


async def set_aside_events(session: AsyncSession, limit: int) -> list[SetAside]:
    rows = await session.execute(
        select(
            InboxEvent.id,
            InboxEvent.platform,
            InboxEvent.kind,
            InboxEvent.attempts,
            InboxEvent.received_at,
            InboxEvent.last_error,
        )
        .where(InboxEvent.status == FAILED)
        .order_by(InboxEvent.id.desc())
        .limit(limit)
    )
    return [SetAside(*row[:5], row[5] or "") for row in rows.all()]


async def retry_set_aside(session: AsyncSession, ids: list[int] | None) -> int:
    """Put events that failed every attempt back in the queue (all of them when ``ids`` is None);
    how many were put back. An id that is not set aside is refused by name."""
    statement = update(InboxEvent).where(InboxEvent.status == FAILED)
    if ids is not None:
        found = set(
            await session.scalars(
                select(InboxEvent.id).where(InboxEvent.id.in_(ids), InboxEvent.status == FAILED)
            )
        )
        missing = sorted(set(ids) - found)
        if missing:
            raise InvalidInput(
                f"No inbox event set aside with id {', '.join(map(str, missing))}; "
                "see advocacy inbox failed."
            )
        statement = statement.where(InboxEvent.id.in_(ids))
    result = await session.execute(
        statement.values(
            status=PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            handled_at=None,
            lease_owner=None,
            lease_until=None,
        ).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
