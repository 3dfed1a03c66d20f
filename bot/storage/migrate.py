"""Alembic, driven from code: applied on start and by ``advocacy db upgrade``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.storage.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every process sharing one PostgreSQL database.
MIGRATION_LOCK_ID = 0x4144_564F


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def require_known_revision(revision: str) -> None:
    """A target no migration has is one line naming the newest, not Alembic's traceback."""
    if revision in ("head", "heads"):
        return
    try:
        scripts = ScriptDirectory.from_config(alembic_config())
        known = bool(revision.strip()) and scripts.get_revision(revision) is not None
    except (CommandError, RevisionError):
        known = False
    if not known:
        raise ValueError(
            f"There is no migration '{revision}'; the newest is {head_revision()} "
            "(advocacy db upgrade alone goes to it)."
        )


class MissingSchema(ValueError):
    """DATABASE_SCHEMA names a schema the database does not have (a ValueError: every command
    shows it as its one-line error). PostgreSQL itself only says that "no schema has been
    selected to create in", which points nowhere."""


async def require_schema(db: Database) -> None:
    """Refuse a DATABASE_SCHEMA that does not exist, saying how to create it."""
    if db.is_sqlite or not db.schema:
        return
    # Tables are created in the first schema of the search path.
    first = db.schema.split(",")[0].strip().strip('"')
    if not first or first == "$user":
        return
    async with db.engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": first}
        )
    if not found:
        raise MissingSchema(
            f"DATABASE_SCHEMA is '{first}', a schema this database does not have: create it "
            f'(CREATE SCHEMA "{first}";) or unset DATABASE_SCHEMA to use the default one.'
        )


async def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns (revision before, revision after).

    On PostgreSQL an advisory lock makes concurrent starts wait for each other; on SQLite the
    ``BEGIN IMMEDIATE`` transaction does the same.
    """
    require_known_revision(revision)
    await require_schema(db)
    before = await current_revision(db)
    async with db.engine.begin() as connection:
        if not db.is_sqlite:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_ID}
            )
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    return before, await current_revision(db)
