"""Loading the generated rows in bulk (executemany on SQLite, COPY on PostgreSQL) into a
database built through the project's migrations."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import JSON, insert, text
from sqlalchemy import Table as SqlTable
from sqlalchemy.ext.asyncio import AsyncConnection

from benchmarks.report_scale.company import BATCH, DEPARTMENTS, WEEKS, Company
from benchmarks.report_scale.rows import TABLES, Generator, Placement, Plan
from bot.sealing import Sealer
from bot.storage.database import Database
from bot.storage.types import UTCDateTime, utcnow


@dataclass
class Seeded:
    """What the timed part needs to know about the seeded data."""

    company: Company
    rows: dict[str, int]
    seconds: float
    placed: Placement
    small_teams: int  # teams whose anonymous ideas are shown higher up


def batches(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def load_table(
    connection: AsyncConnection,
    db: Database,
    table: SqlTable,
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    advance: Callable[[int], None],
) -> int:
    """Bulk-load one table: core insert() executemany on SQLite, COPY on PostgreSQL."""
    count = 0
    if db.is_sqlite:
        statement = insert(table)
        for batch in batches(rows, BATCH):
            await connection.execute(statement, [dict(zip(columns, r, strict=True)) for r in batch])
            count += len(batch)
            advance(len(batch))
        return count
    # COPY takes the driver's own values: naive UTC timestamps and JSON as text.
    dates = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
    documents = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    for batch in batches(rows, BATCH):
        records = []
        for row in batch:
            values = list(row)
            for i in dates:
                if values[i] is not None:
                    values[i] = values[i].replace(tzinfo=None)
            for i in documents:
                values[i] = json.dumps(values[i])
            records.append(values)
        await raw.copy_records_to_table(
            table.name, records=records, columns=list(columns), schema_name=db.schema or None
        )
        count += len(batch)
        advance(len(batch))
    await connection.execute(
        text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), :n)"),
        {"n": max(count, 1)},
    )
    return count


def expected_rows(plan: Plan) -> int:
    """Rough total for the progress bar (votes and clicks are random)."""
    deliveries = WEEKS * (plan.members + len(DEPARTMENTS))
    return (
        2 * plan.members
        + plan.content_items
        + deliveries
        + plan.feedback
        + plan.feedback // 12
        + plan.voice_items
        + plan.suggestions * 4
    )


async def seed(db: Database, plan: Plan, sealer: Sealer, console: Console) -> Seeded:
    started = time.perf_counter()
    generator = Generator(plan, sealer, utcnow())
    counts: dict[str, int] = {}
    with Progress(
        TextColumn("  seeding {task.fields[table]:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("seed", total=expected_rows(plan), table="")
        async with db.engine.begin() as connection:
            for table, columns, method in TABLES:
                progress.update(task, table=table.name)
                counts[table.name] = await load_table(
                    connection,
                    db,
                    table,
                    columns,
                    getattr(generator, method)(),
                    lambda n: progress.advance(task, n),
                )
    if not db.is_sqlite:
        # What autovacuum would do after a bulk load: statistics and the visibility map.
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
    return Seeded(
        generator.company,
        counts,
        time.perf_counter() - started,
        generator.placed,
        len(generator.scopes.moved),
    )
