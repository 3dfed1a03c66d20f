"""Database.reading: a look at the last commit that neither waits for this process's writers
(a Teams press answered from a read must not queue behind every vote being written) nor
writes anything."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.config import Settings
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Team

# A guard against a read that waits for the writer it is meant to pass (a deadlock here),
# not a measure of speed.
HANG_GUARD_SECONDS = 30


async def migrated(settings: Settings) -> Database:
    db = Database(settings.database_url, search_path=settings.database_schema)
    await migrate.upgrade(db)
    return db


async def teams_named(db: Database) -> list[str]:
    async with db.reading() as session:
        return list(await session.scalars(select(Team.name).order_by(Team.name)))


async def test_a_read_sees_the_last_commit_while_a_writer_holds_its_transaction(
    settings: Settings,
) -> None:
    db = await migrated(settings)
    try:
        async with db.transaction() as session:
            session.add(Team(name="Support"))
        writing, read_done = asyncio.Event(), asyncio.Event()

        async def writer() -> None:
            async with db.transaction() as session:
                session.add(Team(name="Sales"))
                await session.flush()
                writing.set()
                await read_done.wait()  # holds the write until the read is done

        task = asyncio.create_task(writer())
        await writing.wait()
        seen = await asyncio.wait_for(teams_named(db), HANG_GUARD_SECONDS)
        read_done.set()
        await task
        assert seen == ["Support"]  # not the uncommitted one
        assert await teams_named(db) == ["Sales", "Support"]
    finally:
        await db.dispose()


async def test_a_read_writes_nothing(settings: Settings) -> None:
    db = await migrated(settings)
    try:
        async with db.transaction() as session:
            session.add(Team(name="Support"))
        async with db.reading() as session:
            team = await session.scalar(select(Team))
            assert team is not None
            team.name = "Renamed"
            await session.scalar(select(func.count()).select_from(Team))  # no autoflush
        assert await teams_named(db) == ["Support"]
    finally:
        await db.dispose()
