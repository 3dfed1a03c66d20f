"""The objectives report's kept counts (bot/services/report_counters.py): after any series of
writes they equal a count from the rows, the migration that adds them counts the same from an
existing database, concurrent writers lose no increment, and a transaction that fails leaves
them untouched."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select

from bot.app import Application
from bot.domain import DeliveryStatus, FeedbackKind, SubjectType
from bot.services.content import add_content, edit_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest, delete_digest
from bot.services.feedback import record_feedback, record_share_click
from bot.services.objectives import add_objective
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.report_counters import count_sent_deliveries, recount
from bot.storage import migrate
from bot.storage.models import (
    ContentItem,
    Delivery,
    DigestRun,
    Feedback,
    Member,
    Objective,
    ReportObjectiveDay,
    ReportObjectivePerson,
    ReportRunCount,
    ShareClick,
)
from tests.conftest import make_member
from tests.fakes import RemotePlatform

KEPT = (ReportRunCount, ReportObjectivePerson, ReportObjectiveDay)


async def kept(app: Application) -> dict[str, set[tuple[Any, ...]]]:
    """Every kept count, as rows of values."""
    async with app.db.sessions() as session:
        return {
            model.__tablename__: {
                tuple(row) for row in await session.execute(select(*model.__table__.c))
            }
            for model in KEPT
        }


async def recounted(app: Application) -> dict[str, set[tuple[Any, ...]]]:
    """The counts taken again from the rows (what the migration and ``recount`` do)."""
    async with app.db.transaction() as session:
        await recount(session, None)
    return await kept(app)


async def figures_from_rows(app: Application, days: int) -> dict[str, tuple[int, ...]]:
    """The report's content figures counted from the rows, as the report did before counts
    were kept: per objective key, (messages, reached, useful, not relevant, shares, clicks)."""
    async with app.db.sessions() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days))
        since, until = report.since, report.until
        items = dict(
            (await session.execute(select(ContentItem.id, ContentItem.objective_id))).all()
        )
        keys = {row.key: row for row in report.rows}
        key_of = dict((await session.execute(select(Objective.id, Objective.key))).all())
        figures = {key: [0, set(), set(), set(), 0, 0] for key in keys}
        runs = (
            await session.execute(
                select(DigestRun.id, DigestRun.content_ids).where(
                    DigestRun.started_at >= since, DigestRun.started_at < until
                )
            )
        ).all()
        for run_id, content_ids in runs:
            objectives = {items[i] for i in content_ids or () if items.get(i)}
            sent = (
                await session.execute(
                    select(Delivery.member_id).where(
                        Delivery.run_id == run_id, Delivery.status == DeliveryStatus.SENT
                    )
                )
            ).all()
            for objective_id in objectives:
                row = figures[key_of[objective_id]]
                row[0] += len(sent)
                row[1].update(m for (m,) in sent if m is not None)
        answers = await session.execute(
            select(Feedback.subject_id, Feedback.member_id, Feedback.kind).where(
                Feedback.subject_type == SubjectType.CONTENT,
                Feedback.created_at >= since,
                Feedback.created_at < until,
            )
        )
        for item_id, member_id, kind in answers:
            if not items.get(item_id):
                continue
            row = figures[key_of[items[item_id]]]
            if kind == FeedbackKind.USEFUL:
                row[2].add(member_id)
            elif kind == FeedbackKind.NOT_RELEVANT:
                row[3].add(member_id)
            elif kind == FeedbackKind.SHARED:
                row[4] += 1
        clicks = await session.execute(
            select(ShareClick.content_id).where(
                ShareClick.created_at >= since, ShareClick.created_at < until
            )
        )
        for (item_id,) in clicks:
            if items.get(item_id):
                figures[key_of[items[item_id]]][5] += 1
        reported = {
            row.key: (
                row.messages_sent,
                row.reached,
                row.found_useful,
                row.not_relevant,
                row.shares,
                row.clicks,
            )
            for row in report.rows
        }
    counted = {
        key: (m, len(r), len(u), len(n), s, c) for key, (m, r, u, n, s, c) in figures.items()
    }
    assert reported == counted
    return reported


async def a_sent_digest(app: Application, members: int) -> tuple[list[Member], list[int]]:
    """Two objectives, three items (two on 'reply'), a digest sent to ``members`` people."""
    people = [await make_member(app, f"emp{n}") for n in range(members)]
    async with app.db.transaction() as session:
        for key in ("reply", "nps"):
            await add_objective(session, OPERATOR, key, f"Objective {key}")
        items = [
            await add_content(
                session, OPERATOR, f"https://example.com/{n}", title=f"T{n}", objective_key=key
            )
            for n, key in enumerate(("reply", "reply", "nps"))
        ]
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert app.worker is not None
    await app.worker.drain()
    return people, [item.id for item in items]


async def test_kept_counts_equal_a_count_from_the_rows_after_a_series_of_writes(
    app: Application, remote: RemotePlatform
) -> None:
    people, items = await a_sent_digest(app, 6)
    delivery = {}
    async with app.db.sessions() as session:
        for member_id, delivery_id in await session.execute(
            select(Delivery.member_id, Delivery.id).where(Delivery.member_id.is_not(None))
        ):
            delivery[member_id] = delivery_id
    async with app.db.transaction() as session:
        for n, person in enumerate(people):
            await record_feedback(
                session, person, "content", items[n % 3], FeedbackKind.USEFUL, platform="remote"
            )
        # Changing one's mind deletes the earlier answer: its person is no longer "useful".
        await record_feedback(
            session, people[0], "content", items[0], FeedbackKind.NOT_RELEVANT, platform="remote"
        )
        await record_feedback(
            session, people[1], "content", items[1], FeedbackKind.USEFUL, platform="remote"
        )
        for person in people[:3]:
            await record_share_click(
                session,
                f"content:{items[0]}",
                "linkedin",
                delivery[person.id],
                passer_by="x",
            )
        await record_share_click(session, f"content:{items[2]}", "x", None, passer_by="someone")
    figures = await figures_from_rows(app, 30)
    assert figures["reply"][1:] == (6, 3, 1, 3, 3)  # reached, useful, not relevant, shares, clicks
    assert figures["nps"][1:] == (6, 2, 0, 0, 1)
    assert await kept(app) == await recounted(app)

    # An item moved to another objective takes its history with it.
    async with app.db.transaction() as session:
        await edit_content(session, OPERATOR, items[0], objective_key="nps")
    moved = await figures_from_rows(app, 30)
    assert moved["nps"][2:] == (3, 1, 3, 4)
    assert await kept(app) == await recounted(app)

    # A deleted digest's deliveries count for nobody any more.
    async with app.db.transaction() as session:
        await delete_digest(session, OPERATOR, "d")
    gone = await figures_from_rows(app, 30)
    assert gone["reply"][:2] == (0, 0) and gone["nps"][:2] == (0, 0)
    assert await kept(app) == await recounted(app)


async def test_a_failed_transaction_leaves_the_counts_as_they_were(
    app: Application, remote: RemotePlatform
) -> None:
    people, items = await a_sent_digest(app, 5)
    before = await kept(app)
    with pytest.raises(RuntimeError):
        async with app.db.transaction() as session:
            await record_feedback(
                session, people[0], "content", items[0], FeedbackKind.USEFUL, platform="remote"
            )
            await record_share_click(session, f"content:{items[0]}", "x", None, passer_by="p")
            raise RuntimeError("crash before commit")
    assert await kept(app) == before


async def test_only_the_deliveries_a_worker_still_holds_are_counted_sent(
    app: Application, remote: RemotePlatform
) -> None:
    await a_sent_digest(app, 5)
    before = await kept(app)
    async with app.db.transaction() as session:
        ids = list(await session.scalars(select(Delivery.id)))
        # Already sent (lease released) and held by nobody: recording them again counts nothing.
        await count_sent_deliveries(session, "another-worker", ids)
    assert await kept(app) == before
    [(sent,)] = [(row[1],) for row in before["report_run_counts"]]
    assert sent == len(ids)


async def test_concurrent_clicks_lose_no_increment(
    app: Application, remote: RemotePlatform
) -> None:
    _, items = await a_sent_digest(app, 5)
    clicks = 20

    async def click(n: int) -> None:
        async with app.db.transaction() as session:
            await record_share_click(
                session, f"content:{items[2]}", "x", None, passer_by=f"visitor-{n}"
            )

    await asyncio.gather(*(click(n) for n in range(clicks)))
    async with app.db.sessions() as session:
        kept_clicks = await session.scalar(
            select(func.sum(ReportObjectiveDay.count)).where(ReportObjectiveDay.kind == "clicks")
        )
    assert kept_clicks == clicks
    assert await kept(app) == await recounted(app)


async def test_the_migration_counts_an_existing_database_as_the_writes_did(
    app: Application, remote: RemotePlatform
) -> None:
    people, items = await a_sent_digest(app, 6)
    async with app.db.transaction() as session:
        for n, person in enumerate(people):
            kind = FeedbackKind.USEFUL if n % 2 else FeedbackKind.NOT_RELEVANT
            await record_feedback(session, person, "content", items[n % 3], kind, platform="r")
            await record_feedback(
                session, person, "content", items[0], FeedbackKind.SHARED, platform="r"
            )
        await record_share_click(session, f"content:{items[1]}", "x", None, passer_by="p")
    written = await kept(app)
    assert all(written.values())
    async with app.db.engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.downgrade(migrate.alembic_config(sync), "0015")
        )
    assert await migrate.current_revision(app.db) == "0015"
    await migrate.upgrade(app.db)
    assert await migrate.current_revision(app.db) == migrate.head_revision()
    assert await kept(app) == written


async def test_the_report_s_rollup_without_its_idea_lists_has_the_same_rows(
    app: Application, remote: RemotePlatform
) -> None:
    from bot.domain import Role
    from bot.services.rollups import build_rollup
    from bot.services.suggestions import file_suggestion

    boss = await make_member(app, "boss", role=Role.MANAGER)
    authors = [await make_member(app, f"emp{n}", manager="boss") for n in range(7)]
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "reply", "Answer fast")
        for n, author in enumerate(authors):
            await file_suggestion(
                session,
                app.sealer,
                author,
                f"Idea {n}",
                platform="remote",
                objective_key="reply" if n < 5 else None,
                anonymous=n % 3 == 0,
            )
    async with app.db.sessions() as session:
        full = await build_rollup(session, boss, app.sealer, by="objective")
        rows_only = await build_rollup(session, boss, app.sealer, by="objective", lists=False)
    assert full.oldest_waiting and not rows_only.oldest_waiting
    assert [r.as_dict() for r in rows_only.rows] == [r.as_dict() for r in full.rows]
    assert [r.title for r in rows_only.rows] == [r.title for r in full.rows]
    assert rows_only.total.as_dict() == full.total.as_dict()
