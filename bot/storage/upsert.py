"""Insert-if-absent on both SQLite and PostgreSQL: how repeats and retries count once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """Insert one row unless it violates a unique constraint; True when a row was inserted."""
    dialect = session.bind.dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values(**values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(result.rowcount)


async def insert_many_returning_ids(
    session: AsyncSession, model: type, rows: list[dict[str, Any]]
) -> list[int]:
    """Insert rows in bulk and return their new ids, in the order of ``rows``.

    PostgreSQL returns them ordered from one multi-row INSERT. SQLite cannot order RETURNING, and
    SQLAlchemy then inserts row by row; instead the ids are assigned here, which is safe because
    every SQLite transaction holds the write lock from its start (BEGIN IMMEDIATE).
    """
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    if session.bind.dialect.name == "sqlite":
        first = int(await session.scalar(select(func.max(table.c.id))) or 0) + 1
        ids = list(range(first, first + len(rows)))
        await session.execute(
            insert(table), [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)]
        )
        return ids
    result = await session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return list(result.scalars().all())


async def upsert(
    session: AsyncSession, table: Table, values: dict[str, Any], keys: list[str]
) -> None:
    """Insert a row, or update the row that has the same ``keys``."""
    insert_ = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert_(table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name not in keys}
    await session.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes))


async def upsert_many(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """``upsert`` for many rows with the same columns, as one executemany."""
    if not rows:
        return
    insert_ = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert_(table)
    changes = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    await session.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes), rows)
