"""Migrations build the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.config import Settings
from bot.storage import migrate
from bot.storage.database import Database, normalise_database_url
from bot.storage.models import Base


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
