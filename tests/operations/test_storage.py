"""Migrations build the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from types import SimpleNamespace

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from bot.config import Settings
from bot.storage import migrate
from bot.storage.database import Database, normalise_database_url
from bot.storage.models import (
    Base,
    ContentItem,
    ContentReceipt,
    Delivery,
    Digest,
    DigestRun,
    OutboundMessage,
)
from bot.storage.upkeep import refresh_planner_statistics


def database(settings: Settings) -> Database:
    return Database(settings.database_url, search_path=settings.database_schema)


async def test_upgrade_creates_every_table_and_is_idempotent(settings: Settings) -> None:
    db = database(settings)
    try:
        before, after = await migrate.upgrade(db)
        assert before is None
        assert after == migrate.head_revision()
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
        again = await migrate.upgrade(db)
        assert again == (after, after)
    finally:
        await db.dispose()


async def test_migrations_match_the_models(settings: Settings) -> None:
    db = database(settings)
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )
        assert differences == []
    finally:
        await db.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_settings: Settings) -> None:
    db = database(sqlite_settings)
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
        assert (mode, keys) == ("wal", 1)
    finally:
        await db.dispose()


async def test_sqlite_gets_the_planner_statistics_it_never_gathers_itself(
    sqlite_settings: Settings,
) -> None:
    """Without them SQLite takes any index as selective (a status almost every delivery has,
    say); the upkeep job writes them to sqlite_stat1, where its planner reads them."""
    db = database(sqlite_settings)
    try:
        await migrate.upgrade(db)
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO outbound_messages (kind, payload, created_at)"
                    " VALUES ('x', '{}', '2026-01-01')"
                )
            )
            for n in range(300):
                await session.execute(
                    text(
                        "INSERT INTO deliveries (message_id, platform, workspace, recipient,"
                        " channel, status, attempts, next_attempt_at, created_at) VALUES"
                        " (1, 'slack', '', :r, 0, :s, 1, '2026-01-01', '2026-01-01')"
                    ),
                    {"r": f"U{n}", "s": "pending" if n == 0 else "sent"},
                )
        assert await refresh_planner_statistics(db)
        async with db.engine.connect() as connection:
            stats = (await connection.execute(text("SELECT count(*) FROM sqlite_stat1"))).scalar()
        assert stats and stats > 0
    finally:
        await db.dispose()


async def test_planner_statistics_are_left_to_postgresql(settings: Settings) -> None:
    db = database(settings)
    try:
        await migrate.upgrade(db)
        assert await refresh_planner_statistics(db) == db.is_sqlite
    finally:
        await db.dispose()


def test_database_urls_people_paste_get_the_async_driver() -> None:
    assert normalise_database_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_an_unsupported_database_is_refused_with_the_choices() -> None:
    try:
        normalise_database_url("mysql://root@localhost/db")
    except ValueError as error:
        assert "sqlite+aiosqlite" in str(error) and "postgresql+asyncpg" in str(error)
    else:
        raise AssertionError("mysql should be refused")


async def test_upgrading_a_database_that_holds_data_keeps_it(settings: Settings) -> None:
    """New NOT NULL columns need server defaults, or existing rows block the upgrade."""
    db = database(settings)
    try:
        await migrate.upgrade(db, "0002")
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO content_items (url, url_key, title, summary, share_text, "
                    "topics, status, source, created_at) VALUES ('https://a.example', "
                    "'https://a.example/', 'A', '', '', '[]', 'approved', 'manual', "
                    "'2026-01-01')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO objectives (key, title, created_at) "
                    "VALUES ('k', 'K', '2026-01-01')"
                )
            )
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            title = (await connection.execute(text("SELECT title FROM content_items"))).scalar()
            priority = (await connection.execute(text("SELECT priority FROM objectives"))).scalar()
        assert (title, priority) == ("A", 0)
    finally:
        await db.dispose()


async def test_upgrading_carries_over_what_earlier_content_runs_sent(settings: Settings) -> None:
    """Receipts start from the runs before them: an upgrade must not resend last week's items."""
    db = database(settings)
    try:
        await migrate.upgrade(db, "0011")
        async with db.transaction() as session:
            # Members as the schema had them at 0011 (the model has columns added since).
            for name in ("Alice", "Bob"):
                await session.execute(
                    text(
                        "INSERT INTO members (display_name, role, timezone, created_at) "
                        "VALUES (:name, 'employee', 'UTC', CURRENT_TIMESTAMP)"
                    ),
                    {"name": name},
                )
            ids = dict((await session.execute(text("SELECT display_name, id FROM members"))).all())
            alice = SimpleNamespace(id=ids["Alice"], display_name="Alice")
            bob = SimpleNamespace(id=ids["Bob"], display_name="Bob")
            item = ContentItem(url="https://a.example", url_key="a", title="A")
            digest = Digest(name="d", kind="content", cron="0 9 * * *")
            session.add_all([item, digest])
            await session.flush()
            run = DigestRun(digest_id=digest.id, content_ids=[item.id, 999])
            session.add(run)
            await session.flush()
            message = OutboundMessage(kind="content_digest", run_id=run.id, payload={})
            session.add(message)
            await session.flush()
            for member, status in ((alice, "sent"), (bob, "dead")):
                session.add(
                    Delivery(
                        message_id=message.id,
                        run_id=run.id,
                        member_id=member.id,
                        platform="slack",
                        recipient=member.display_name,
                        status=status,
                    )
                )
            session.add(
                Delivery(
                    message_id=message.id,
                    run_id=run.id,
                    platform="slack",
                    workspace="T1",
                    recipient="C1",
                    channel=True,
                    status="pending",
                )
            )
        await migrate.upgrade(db)
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(ContentReceipt.target, ContentReceipt.content_item_id).order_by(
                        ContentReceipt.target
                    )
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            ("channel:slack:T1:C1", item.id),
            (f"member:{alice.id}", item.id),
        ]
    finally:
        await db.dispose()
