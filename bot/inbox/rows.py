"""The inbox's statements, as synchronous SQLAlchemy Core over one connection: the same code
runs on the inbox's own SQLite file and inside the main database (see ``store.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.inbox.items import DONE, FAILED, PENDING
from bot.storage.models import InboxEvent

TABLE = InboxEvent.__table__  # type: ignore[attr-defined]
# A statement compiled once for every batch: SQLAlchemy writes the parameter list as multi-row
# VALUES ("insertmanyvalues"); a new VALUES clause a batch took half the writer's time.
_INSERTS = {
    name: insert(TABLE)
    .on_conflict_do_nothing(index_elements=["event_key"])
    .returning(TABLE.c.id, TABLE.c.event_key)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
PURGE_CHUNK = 1000
# Leases are renewed this many rows a transaction: each runs on the event loop (the inbox file's
# statements do), and renewing the 2,000 events a busy server holds in one took ~60-150 ms, a
# stall of every request in flight every five seconds.
RENEW_CHUNK = 250


@dataclass(frozen=True)
class Claimed:
    id: int
    event_key: str
    platform: str
    kind: str
    payload: str | None
    attempts: int
    received_at: datetime


def insert_new(connection: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the rows, skipping keys already there; the new ids by key."""
    if not rows:
        return {}
    result = connection.execute(_INSERTS[connection.dialect.name], rows)
    return {key: item_id for item_id, key in result.all()}


def claim(
    connection: Connection,
    kinds: list[str],
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[Claimed]:
    """Lease pending, due events of ``kinds`` that nobody holds, oldest first."""
    statement = (
        select(
            TABLE.c.id,
            TABLE.c.event_key,
            TABLE.c.platform,
            TABLE.c.kind,
            TABLE.c.payload,
            TABLE.c.attempts,
            TABLE.c.received_at,
        )
        .where(
            TABLE.c.status == PENDING,
            TABLE.c.next_attempt_at <= now,
            TABLE.c.kind.in_(kinds),
            or_(TABLE.c.lease_until.is_(None), TABLE.c.lease_until < now),
        )
        .order_by(TABLE.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    rows = [Claimed(*row) for row in connection.execute(statement).all()]
    if rows:
        connection.execute(
            update(TABLE)
            .where(TABLE.c.id.in_([row.id for row in rows]))
            .values(lease_owner=owner, lease_until=lease_until)
        )
    return rows


def settle(connection: Connection, ids: list[int], now: datetime) -> int:
    """Mark handled events done and forget their content (their keys stay for the purge)."""
    if not ids:
        return 0
    # The ids as one expanding parameter: a statement built once and cached, where a literal
    # list was coerced id by id on the event loop for every batch (a tenth of it in a burst).
    result = connection.execute(_SETTLE, {"ids": ids, "now": now})
    return result.rowcount or 0


_SETTLE = (
    update(TABLE)
    .where(TABLE.c.id.in_(bindparam("ids", expanding=True)), TABLE.c.status == PENDING)
    .values(
        status=DONE,
        payload=None,
        handled_at=bindparam("now", type_=TABLE.c.handled_at.type),
        lease_owner=None,
        lease_until=None,
    )
)


def record_failure(
    connection: Connection, item_id: int, owner: str, values: dict[str, Any]
) -> None:
    connection.execute(
        update(TABLE).where(TABLE.c.id == item_id, TABLE.c.lease_owner == owner).values(**values)
    )


def put_off(connection: Connection, ids: list[int], owner: str, until: datetime) -> None:
    """Give events back unleased, not to be tried before ``until``."""
    connection.execute(
        update(TABLE)
        .where(TABLE.c.id.in_(ids), TABLE.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, next_attempt_at=until)
    )


def renew(
    connection: Connection, owner: str, lease_until: datetime, ids: list[int] | None = None
) -> int:
    """Extend ``owner``'s leases to ``lease_until``: all of them, or those of ``ids`` (looked up
    by key, not searched for); how many were extended."""
    statement = (
        update(TABLE)
        .where(TABLE.c.status == PENDING, TABLE.c.lease_owner == owner)
        .values(lease_until=lease_until)
    )
    if ids is not None:
        statement = statement.where(TABLE.c.id.in_(ids))
    return connection.execute(statement).rowcount or 0


def release(connection: Connection, owner: str) -> int:
    """Unlease everything ``owner`` holds (a stopping server), for the next start."""
    result = connection.execute(
        update(TABLE)
        .where(TABLE.c.status == PENDING, TABLE.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
    return result.rowcount or 0


def purge_done(connection: Connection, before: datetime) -> int:
    """Delete rows handled before ``before``, a chunk at a time (a long backlog handled in an
    hour is a long delete; chunks keep each write lock short)."""
    doomed = (
        select(TABLE.c.id)
        .where(TABLE.c.status == DONE, TABLE.c.handled_at < before)
        .limit(PURGE_CHUNK)
        .scalar_subquery()
    )
    result = connection.execute(delete(TABLE).where(TABLE.c.id.in_(doomed)))
    return result.rowcount or 0


def waiting_keys(
    connection: Connection, received_before: datetime, after_id: int
) -> list[tuple[int, str]]:
    """(id, key) of events still pending that arrived before ``received_before``, by id, a
    chunk at a time from ``after_id``."""
    rows = connection.execute(
        select(TABLE.c.id, TABLE.c.event_key)
        .where(
            TABLE.c.status == PENDING,
            TABLE.c.received_at < received_before,
            TABLE.c.id > after_id,
        )
        .order_by(TABLE.c.id)
        .limit(PURGE_CHUNK)
    ).all()
    return [(row.id, row.event_key) for row in rows]


def pending_by_kind(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        select(TABLE.c.kind, func.count(TABLE.c.id))
        .where(TABLE.c.status == PENDING)
        .group_by(TABLE.c.kind)
    ).all()
    return {kind: int(count) for kind, count in rows}


def depth(connection: Connection) -> dict[str, int]:
    """Events waiting (pending) and set aside (failed), for /metrics and the CLI."""
    rows = connection.execute(
        select(TABLE.c.status, func.count(TABLE.c.id))
        .where(TABLE.c.status.in_((PENDING, FAILED)))
        .group_by(TABLE.c.status)
    ).all()
    counts = {PENDING: 0, FAILED: 0}
    counts.update({status: int(count) for status, count in rows})
    return counts


def take_over(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert rows carried over from elsewhere (another database's inbox), keeping their
    state; a key already here is skipped (the move was interrupted and is done again)."""
    if rows:
        insert = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
        connection.execute(insert(TABLE).on_conflict_do_nothing(index_elements=["event_key"]), rows)
