"""The inbox as an admin sees it: what waits, what was set aside after every attempt failed, and
putting those back. Payloads stay sealed: an admin sees kinds, times and errors, never content.
Each function takes a connection to the inbox's database (``Inbox.store.run`` gives one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from bot.errors import InvalidInput
from bot.inbox import FAILED, PENDING
from bot.storage.models import InboxEvent
from bot.storage.types import utcnow


@dataclass(frozen=True)
class InboxRow:
    """Events of one kind (an adapter's, or the webhook's) in one state."""

    kind: str
    waiting: int
    failed: int
    oldest_waiting: datetime | None


@dataclass(frozen=True)
class InboxSummary:
    rows: tuple[InboxRow, ...]

    @property
    def waiting(self) -> int:
        return sum(row.waiting for row in self.rows)

    @property
    def failed(self) -> int:
        return sum(row.failed for row in self.rows)

    @property
    def oldest_waiting(self) -> datetime | None:
        times = [row.oldest_waiting for row in self.rows if row.oldest_waiting is not None]
        return min(times) if times else None


@dataclass(frozen=True)
class SetAside:
    id: int
    platform: str
    kind: str
    attempts: int
    received_at: datetime
    last_error: str


def inbox_summary(connection: Connection) -> InboxSummary:
    """Waiting and set-aside events by kind (``slack``, ``teams``, ``voice.webhook``...)."""
    rows = connection.execute(
        select(
            InboxEvent.kind,
            InboxEvent.status,
            func.count(InboxEvent.id),
            func.min(InboxEvent.received_at),
        )
        .where(InboxEvent.status.in_((PENDING, FAILED)))
        .group_by(InboxEvent.kind, InboxEvent.status)
    )
    by_kind: dict[str, dict[str, tuple[int, datetime | None]]] = {}
    for kind, status, count, oldest in rows.all():
        by_kind.setdefault(kind, {})[status] = (int(count), oldest)
    return InboxSummary(
        tuple(
            InboxRow(
                kind,
                states.get(PENDING, (0, None))[0],
                states.get(FAILED, (0, None))[0],
                states.get(PENDING, (0, None))[1],
            )
            for kind, states in sorted(by_kind.items())
        )
    )


def set_aside_count(connection: Connection) -> int:
    return int(
        connection.scalar(select(func.count(InboxEvent.id)).where(InboxEvent.status == FAILED)) or 0
    )


def set_aside_events(connection: Connection, limit: int) -> list[SetAside]:
    rows = connection.execute(
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


def retry_set_aside(connection: Connection, ids: list[int] | None) -> int:
    """Put events that failed every attempt back in the queue (all of them when ``ids`` is None);
    how many were put back. Ids that are not set aside are refused by name, and nothing is
    put back then."""
    statement = update(InboxEvent).where(InboxEvent.status == FAILED)
    if ids is not None:
        found = set(
            connection.scalars(
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
    result = connection.execute(
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
