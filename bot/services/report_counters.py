"""Counts the objectives report reads, kept as the data arrives instead of recounted from a year
of rows on every report.

Each write path calls one function here in the same transaction as its change (an answer, a
click, a delivery recorded sent), so the counts and the rows never disagree, even after a crash.
Increments are ``count = count + n`` upserts, never read-modify-write, so concurrent writers
lose nothing. What is kept:

- report_run_counts: sent deliveries per digest run (messages sent, and the timeline per day);
- report_objective_days: per objective and UTC day, "shared" answers and tracked "clicks";
- report_objective_people: per objective and member, the latest time they were "reached" (the
  start of the latest run that sent them its content) or said "useful" / "not_relevant". The
  report's window always ends now, so the people in it are those whose latest time falls in it:
  distinct people counted by an index range, exactly as COUNT(DISTINCT) over the rows would.

Only named rows are counted (content answers, deliveries): no suggestion and no anonymous author
is in these tables. Rare changes that re-draw the history (an item moved to another objective, a
digest's runs deleted) recount the objectives concerned from the rows (``recount``); so does the
migration that created the tables (0016).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.domain import DeliveryStatus, FeedbackKind, SubjectType
from bot.services.kpi_readings import day_start
from bot.storage.models import (
    ContentItem,
    Delivery,
    DigestRun,
    Feedback,
    ReportObjectiveDay,
    ReportObjectivePerson,
    ReportRunCount,
    ShareClick,
)
from bot.storage.types import UTCDateTime

REACHED = "reached"
PEOPLE_KINDS = (FeedbackKind.USEFUL.value, FeedbackKind.NOT_RELEVANT.value)
SHARED = FeedbackKind.SHARED.value
CLICKS = "clicks"
# Runs per recount statement (their ids are bound parameters) and rows per upsert.
RUN_CHUNK = 2_000
ROW_CHUNK = 5_000

PEOPLE = ReportObjectivePerson.__table__
DAYS = ReportObjectiveDay.__table__
RUNS = ReportRunCount.__table__


class day_of(FunctionElement[datetime]):
    """The UTC day start of a stored time, as the database computes it (for recounts)."""

    type = UTCDateTime()
    name = "day_of"
    inherit_cache = True


@compiles(day_of, "sqlite")
def _day_of_sqlite(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff', as SQLAlchemy writes datetimes on SQLite.
    return f"(substr({value}, 1, 10) || ' 00:00:00.000000')"


@compiles(day_of, "postgresql")
def _day_of_postgresql(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date_trunc('day', {value})"


def _insert(dialect: str, table: Any) -> Any:
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


def _later_of(dialect: str) -> Any:
    statement = _insert(dialect, PEOPLE)
    newer = statement.excluded.last_at > PEOPLE.c.last_at
    return statement.on_conflict_do_update(
        index_elements=[PEOPLE.c.objective_id, PEOPLE.c.member_id, PEOPLE.c.mark],
        set_={"last_at": case((newer, statement.excluded.last_at), else_=PEOPLE.c.last_at)},
    )


def _added(dialect: str, table: Any, keys: list[str], column: str) -> Any:
    statement = _insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={column: table.c[column] + statement.excluded[column]},
    )


def _dialect(session: AsyncSession | Connection) -> str:
    return session.bind.dialect.name if isinstance(session, AsyncSession) else session.dialect.name


async def _mark_people(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_later_of(_dialect(session)), rows)


async def _add_days(session: AsyncSession, objective_id: int, at: datetime, kind: str) -> None:
    await session.execute(
        _added(_dialect(session), DAYS, ["objective_id", "day", "kind"], "count"),
        [{"objective_id": objective_id, "day": day_start(at), "kind": kind, "count": 1}],
    )


async def _objective_of(session: AsyncSession, content_id: int) -> int | None:
    return await session.scalar(
        select(ContentItem.objective_id).where(ContentItem.id == content_id)
    )


# The write paths' calls -----------------------------------------------------------------------


async def count_feedback(
    session: AsyncSession,
    subject_type: str,
    subject_id: int,
    member_id: int,
    kind: str,
    at: datetime,
) -> None:
    """An answer was recorded (a new row): count it if the report shows its kind."""
    if subject_type != SubjectType.CONTENT or kind not in (*PEOPLE_KINDS, SHARED):
        return
    objective_id = await _objective_of(session, subject_id)
    if objective_id is None:
        return
    if kind == SHARED:
        await _add_days(session, objective_id, at, SHARED)
        return
    await _mark_people(
        session,
        [{"objective_id": objective_id, "member_id": member_id, "mark": kind, "last_at": at}],
    )


async def uncount_feedback(
    session: AsyncSession, subject_type: str, subject_id: int, member_id: int, kind: str
) -> None:
    """Answers of one member, subject and kind were deleted: their mark goes back to their
    latest answer left on the objective (a handful of rows), or away."""
    if subject_type != SubjectType.CONTENT or kind not in (*PEOPLE_KINDS, SHARED):
        return
    objective_id = await _objective_of(session, subject_id)
    if objective_id is None:
        return
    if kind == SHARED:  # never deleted today; exact rather than fast if it ever is
        await recount(session, [objective_id])
        return
    latest = await session.scalar(
        select(func.max(Feedback.created_at))
        .join(ContentItem, ContentItem.id == Feedback.subject_id)
        .where(
            Feedback.subject_type == SubjectType.CONTENT,
            Feedback.member_id == member_id,
            Feedback.kind == kind,
            ContentItem.objective_id == objective_id,
        )
    )
    mark = (
        PEOPLE.c.objective_id == objective_id,
        PEOPLE.c.member_id == member_id,
        PEOPLE.c.mark == kind,
    )
    if latest is None:
        await session.execute(delete(PEOPLE).where(*mark))
    else:
        await session.execute(update(PEOPLE).where(*mark).values(last_at=latest))


async def count_click(session: AsyncSession, content_id: int, at: datetime) -> None:
    """A tracked share link's click was counted (a new row)."""
    objective_id = await _objective_of(session, content_id)
    if objective_id is not None:
        await _add_days(session, objective_id, at, CLICKS)


async def count_sent_deliveries(
    session: AsyncSession, owner: str, delivery_ids: Collection[int]
) -> None:
    """Deliveries this worker is about to record sent. Call it before the outcome's UPDATE, in
    its transaction: only rows the worker still holds are counted, the same rows the UPDATE
    (``lease_owner = owner``) changes, locked on PostgreSQL so that no other worker takes them
    between the two statements (SQLite's transaction holds the write lock from its start)."""
    if not delivery_ids:
        return
    statement = select(Delivery.run_id, Delivery.member_id).where(
        Delivery.id.in_(list(delivery_ids)),
        Delivery.lease_owner == owner,
        Delivery.status == DeliveryStatus.SENDING,
        Delivery.run_id.is_not(None),
    )
    if _dialect(session) == "postgresql":
        statement = statement.with_for_update()
    rows = (await session.execute(statement)).all()
    if not rows:
        return
    per_run = Counter(run_id for run_id, _ in rows)
    await session.execute(
        _added(_dialect(session), RUNS, ["run_id"], "sent"),
        [{"run_id": run_id, "sent": n} for run_id, n in sorted(per_run.items())],
    )
    runs = (
        await session.execute(
            select(DigestRun.id, DigestRun.started_at, DigestRun.content_ids).where(
                DigestRun.id.in_(list(per_run))
            )
        )
    ).all()
    item_ids = {i for _, _, content_ids in runs for i in content_ids or ()}
    objectives = await _objectives_of_items(session, item_ids)
    run_objectives = {
        run_id: (started_at, {objectives[i] for i in content_ids or () if i in objectives})
        for run_id, started_at, content_ids in runs
    }
    latest: dict[tuple[int, int], datetime] = {}
    for run_id, member_id in rows:
        if member_id is None:
            continue
        started_at, objective_ids = run_objectives.get(run_id, (None, set()))
        for objective_id in objective_ids:
            key = (objective_id, member_id)
            if key not in latest or latest[key] < started_at:
                latest[key] = started_at
    await _mark_people(
        session,
        [
            {"objective_id": o, "member_id": m, "mark": REACHED, "last_at": at}
            for (o, m), at in sorted(latest.items())
        ],
    )


async def _objectives_of_items(session: AsyncSession, item_ids: Iterable[int]) -> dict[int, int]:
    ids = list(item_ids)
    if not ids:
        return {}
    return dict(
        (
            await session.execute(
                select(ContentItem.id, ContentItem.objective_id).where(
                    ContentItem.id.in_(ids), ContentItem.objective_id.is_not(None)
                )
            )
        ).all()
    )


async def recount(session: AsyncSession, objective_ids: Collection[int] | None) -> None:
    """Count again from the rows what the report keeps for these objectives (None: all, and the
    runs' sent deliveries too). For changes that re-draw history; seconds at company scale."""
    await session.run_sync(lambda sync: recount_rows(sync.connection(), objective_ids))


# Counting from the rows: the migration's backfill and ``recount`` ------------------------------


def recount_rows(connection: Connection, objective_ids: Collection[int] | None) -> None:
    """Replace the counts of these objectives (None: every objective and run) by counts from the
    rows, objective by objective and in chunks of runs, so memory stays bounded by the people
    of one objective, whatever the history's size."""
    dialect = connection.dialect.name
    if objective_ids is None:
        connection.execute(delete(RUNS))
        sent = (
            select(Delivery.run_id, func.count(Delivery.id))
            .where(Delivery.status == DeliveryStatus.SENT, Delivery.run_id.is_not(None))
            .group_by(Delivery.run_id)
        )
        _upsert_chunks(
            connection,
            _added(dialect, RUNS, ["run_id"], "sent"),
            ({"run_id": run_id, "sent": n} for run_id, n in connection.execute(sent)),
        )
        objective_ids = [
            o
            for (o,) in connection.execute(
                select(ContentItem.objective_id)
                .where(ContentItem.objective_id.is_not(None))
                .distinct()
            )
        ]
        connection.execute(delete(PEOPLE))
        connection.execute(delete(DAYS))
    else:
        objective_ids = list(objective_ids)
        connection.execute(delete(PEOPLE).where(PEOPLE.c.objective_id.in_(objective_ids)))
        connection.execute(delete(DAYS).where(DAYS.c.objective_id.in_(objective_ids)))
    runs_of = _runs_by_objective(connection, objective_ids)
    for objective_id in objective_ids:
        _recount_objective(connection, dialect, objective_id, runs_of.get(objective_id, []))


def _runs_by_objective(connection: Connection, objective_ids: list[int]) -> dict[int, list[int]]:
    """Which digest runs carried each objective's content (runs are few: one a week a digest)."""
    if not objective_ids:
        return {}
    items = dict(
        connection.execute(
            select(ContentItem.id, ContentItem.objective_id).where(
                ContentItem.objective_id.in_(objective_ids)
            )
        ).all()
    )
    runs: dict[int, list[int]] = {}
    for run_id, content_ids in connection.execute(select(DigestRun.id, DigestRun.content_ids)):
        for objective_id in {items[i] for i in content_ids or () if i in items}:
            runs.setdefault(objective_id, []).append(run_id)
    return runs


def _recount_objective(
    connection: Connection, dialect: str, objective_id: int, run_ids: list[int]
) -> None:
    later_of = _later_of(dialect)
    for start in range(0, len(run_ids), RUN_CHUNK):
        chunk = run_ids[start : start + RUN_CHUNK]
        reached = (
            select(Delivery.member_id, func.max(DigestRun.started_at))
            .join(DigestRun, DigestRun.id == Delivery.run_id)
            .where(
                Delivery.status == DeliveryStatus.SENT,
                Delivery.member_id.is_not(None),
                Delivery.run_id.in_(chunk),
            )
            .group_by(Delivery.member_id)
        )
        _upsert_chunks(
            connection,
            later_of,
            (
                {"objective_id": objective_id, "member_id": m, "mark": REACHED, "last_at": at}
                for m, at in connection.execute(reached)
            ),
        )
    on_objective = (
        Feedback.subject_type == SubjectType.CONTENT,
        ContentItem.objective_id == objective_id,
    )
    answers = (
        select(Feedback.member_id, Feedback.kind, func.max(Feedback.created_at))
        .join(ContentItem, ContentItem.id == Feedback.subject_id)
        .where(*on_objective, Feedback.kind.in_(PEOPLE_KINDS))
        .group_by(Feedback.member_id, Feedback.kind)
    )
    _upsert_chunks(
        connection,
        later_of,
        (
            {"objective_id": objective_id, "member_id": m, "mark": kind, "last_at": at}
            for m, kind, at in connection.execute(answers)
        ),
    )
    shared_day = day_of(Feedback.created_at)
    shared = (
        select(shared_day, func.count(Feedback.id))
        .join(ContentItem, ContentItem.id == Feedback.subject_id)
        .where(*on_objective, Feedback.kind == SHARED)
        .group_by(shared_day)
    )
    click_day = day_of(ShareClick.created_at)
    clicks = (
        select(click_day, func.count(ShareClick.id))
        .join(ContentItem, ContentItem.id == ShareClick.content_id)
        .where(ContentItem.objective_id == objective_id)
        .group_by(click_day)
    )
    added = _added(dialect, DAYS, ["objective_id", "day", "kind"], "count")
    for kind, statement in ((SHARED, shared), (CLICKS, clicks)):
        _upsert_chunks(
            connection,
            added,
            (
                {"objective_id": objective_id, "day": day, "kind": kind, "count": n}
                for day, n in connection.execute(statement)
            ),
        )


def _upsert_chunks(connection: Connection, statement: Any, rows: Iterable[dict[str, Any]]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= ROW_CHUNK:
            connection.execute(statement, chunk)
            chunk = []
    if chunk:
        connection.execute(statement, chunk)


# Reading the counts ----------------------------------------------------------------------------


async def people_in(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    runs_of: dict[int, list[int]],
) -> dict[tuple[int, str], int]:
    """Distinct people per (objective, mark) in [since, until): those whose latest mark falls in
    it. A mark at or after ``until`` (a time written ahead of this clock) does not tell whether
    the person was in the window too: such an objective's mark is counted from the rows instead
    (``runs_of``: the window's runs carrying each objective's content, for "reached")."""
    counts: dict[tuple[int, str], int] = {
        (objective_id, mark): n
        for objective_id, mark, n in await session.execute(
            select(PEOPLE.c.objective_id, PEOPLE.c.mark, func.count())
            .where(PEOPLE.c.last_at >= since, PEOPLE.c.last_at < until)
            .group_by(PEOPLE.c.objective_id, PEOPLE.c.mark)
        )
    }
    ahead = await session.execute(
        select(PEOPLE.c.objective_id, PEOPLE.c.mark).where(PEOPLE.c.last_at >= until).distinct()
    )
    for objective_id, mark in ahead.all():
        counts[(objective_id, mark)] = await _people_from_rows(
            session, objective_id, mark, since, until, runs_of.get(objective_id, [])
        )
    return counts


async def _people_from_rows(
    session: AsyncSession,
    objective_id: int,
    mark: str,
    since: datetime,
    until: datetime,
    run_ids: list[int],
) -> int:
    if mark == REACHED:
        if not run_ids:
            return 0
        statement = select(func.count(func.distinct(Delivery.member_id))).where(
            Delivery.status == DeliveryStatus.SENT,
            Delivery.member_id.is_not(None),
            Delivery.run_id.in_(run_ids),
        )
    else:
        statement = (
            select(func.count(func.distinct(Feedback.member_id)))
            .join(ContentItem, ContentItem.id == Feedback.subject_id)
            .where(
                Feedback.subject_type == SubjectType.CONTENT,
                Feedback.kind == mark,
                ContentItem.objective_id == objective_id,
                Feedback.created_at >= since,
                Feedback.created_at < until,
            )
        )
    return int(await session.scalar(statement) or 0)


async def events_in(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[tuple[int, str], int]:
    """Shared answers and clicks per (objective, kind) in [since, until): the whole days from
    the day counts, the part-days at either end from the rows (at most two days of them)."""
    first = day_start(since)
    if first < since:
        first += timedelta(days=1)
    last = day_start(until)
    counts: Counter[tuple[int, str]] = Counter()
    if first < last:
        for objective_id, kind, n in await session.execute(
            select(DAYS.c.objective_id, DAYS.c.kind, func.sum(DAYS.c.count))
            .where(DAYS.c.day >= first, DAYS.c.day < last)
            .group_by(DAYS.c.objective_id, DAYS.c.kind)
        ):
            counts[(objective_id, kind)] += int(n)
        edges = [(since, first), (last, until)]
    else:
        edges = [(since, until)]
    for start, end in edges:
        if start >= end:
            continue
        shared = (
            select(ContentItem.objective_id, func.count(Feedback.id))
            .join(ContentItem, ContentItem.id == Feedback.subject_id)
            .where(
                Feedback.subject_type == SubjectType.CONTENT,
                Feedback.created_at >= start,
                Feedback.created_at < end,
                Feedback.kind == SHARED,
                ContentItem.objective_id.is_not(None),
            )
            .group_by(ContentItem.objective_id)
        )
        clicks = (
            select(ContentItem.objective_id, func.count(ShareClick.id))
            .join(ContentItem, ContentItem.id == ShareClick.content_id)
            .where(
                ShareClick.created_at >= start,
                ShareClick.created_at < end,
                ContentItem.objective_id.is_not(None),
            )
            .group_by(ContentItem.objective_id)
        )
        for kind, statement in ((SHARED, shared), (CLICKS, clicks)):
            for objective_id, n in await session.execute(statement):
                counts[(objective_id, kind)] += n
    return dict(counts)


async def sent_by_run(
    session: AsyncSession, since: datetime, until: datetime, *, until_inclusive: bool = False
) -> list[tuple[int, datetime, list[int] | None, int]]:
    """The window's digest runs: id, start, content ids and deliveries sent so far."""
    end = DigestRun.started_at <= until if until_inclusive else DigestRun.started_at < until
    rows = await session.execute(
        select(
            DigestRun.id,
            DigestRun.started_at,
            DigestRun.content_ids,
            func.coalesce(ReportRunCount.sent, 0),
        )
        .outerjoin(ReportRunCount, ReportRunCount.run_id == DigestRun.id)
        .where(DigestRun.started_at >= since, end)
    )
    return [(run_id, at, content_ids, int(sent)) for run_id, at, content_ids, sent in rows]
