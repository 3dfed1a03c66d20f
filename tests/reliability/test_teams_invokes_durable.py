"""Acknowledged means durable, for Teams Vote presses answered before their write: 50 clients
press Vote in Teams as fast as the real ``advocacy serve`` answers; it is killed (``kill -9``)
mid-burst and started again: every press answered "Done." is a vote afterwards, once.

A press is answered from a read (``EventRouter.preview_vote``) once it is written to the inbox,
while the inbox's worker writes the vote after. The test holds the votes' table for the burst (a
write transaction on SQLite, a lock that lets reads through on PostgreSQL), so the kill lands
between answer and write for every press, however fast the writes would otherwise follow.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, text

from bot.config import Settings
from bot.storage.database import Database
from bot.storage.models import Suggestion, SuggestionVote
from tests.burst_support import member_ids, recorded, stop
from tests.serve_process import running_serve
from tests.teams_fake import FakeConnector
from tests.teams_support import TeamsClient, TeamsUser
from tests.teams_support import user as teams_user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIENTS = 50
IDEAS = 20
BURST_SECONDS = float(os.environ.get("DURABLE_BURST_SECONDS", "3"))
VOTE = "suggestion.vote"


@asynccontextmanager
async def votes_held(db: Database) -> AsyncIterator[None]:
    """No vote can be written inside the block; reads go on (SQLite in WAL mode: a writer does
    not block readers; PostgreSQL: EXCLUSIVE mode lets SELECTs through)."""
    async with db.transaction() as session:
        if db.is_sqlite:
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
        else:
            await session.execute(text("LOCK TABLE suggestion_votes IN EXCLUSIVE MODE"))
        yield
        await session.rollback()


async def test_every_vote_press_answered_before_its_write_survives_a_kill_mid_burst(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DATABASE_SCHEMA": settings.database_schema or "",
        "ADVOCACY_DATA_DIR": str(settings.data_dir),
        "ADVOCACY_SECRET_KEY": settings.secret_key,
        "LOG_LEVEL": "INFO",
        "MICROSOFT_APP_ID": "",  # the emulator's mode: requests from this machine only
    }
    author = teams_user("Author")
    people = [teams_user(f"Voter{n:02d}") for n in range(CLIENTS)]
    answered: list[tuple[str, int]] = []  # (voter, idea) told "Done."
    db = Database(settings.database_url, search_path=settings.database_schema)
    try:
        async with FakeConnector() as connector, aiohttp.ClientSession() as http:
            async with running_serve(env, tmp_path) as first:
                teams = TeamsClient(f"{first.base_url}/api/messages", connector, http)
                for n in range(IDEAS):
                    await teams.say(author, f"suggest burst idea {n:02d}")
                for person in people:  # known members: a first contact waits for its write
                    await teams.say(person, "help")
                while len((await recorded(db))[0]) < IDEAS or len(await member_ids(db)) <= CLIENTS:
                    await asyncio.sleep(0.2)
                stopped = asyncio.Event()

                async def client(person: TeamsUser) -> None:
                    for idea in range(1, IDEAS + 1):
                        button = {"verb": VOTE, "data": {"suggestion": idea}}
                        try:
                            status, answer = await teams.execute(person, button, "board-1")
                        except aiohttp.ClientError:
                            return
                        if status == 200 and answer.get("value") == "Done.":
                            answered.append((person.aad, idea))
                        if stopped.is_set():
                            return

                async with votes_held(db):
                    sending = asyncio.gather(*(client(person) for person in people))
                    await asyncio.sleep(BURST_SECONDS)
                    stopped.set()
                    await stop(first, "kill -9")
                    await sending
                written_at_kill = len((await recorded(db))[1])
            async with running_serve(env, tmp_path):
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    _, votes, pending = await recorded(db)
                    if pending == 0 and len(votes) >= len(answered):
                        break
                    await asyncio.sleep(0.5)
            ids = await member_ids(db)
            async with db.transaction() as session:
                counted = await session.scalar(select(func.sum(Suggestion.vote_count)))
                rows = await session.scalar(select(func.count()).select_from(SuggestionVote))
    finally:
        await db.dispose()
    assert answered, "the burst should have been answered"
    assert written_at_kill == 0, "the votes' table was held: nothing written before the kill"
    assert pending == 0
    lost = {(idea, ids.get(aad)) for aad, idea in answered} - votes
    assert not lost, f"{len(lost)} answered votes lost"
    assert counted == rows, "the ideas' counts say otherwise than their votes"
    print(
        f"\nTeams Vote presses, kill -9 mid-burst ({settings.database_url.split(':')[0]}): "
        f"{len(answered)} answered 'Done.', {written_at_kill} written before the kill, "
        "all written after"
    )
