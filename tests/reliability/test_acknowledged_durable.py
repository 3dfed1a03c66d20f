"""Acknowledged means durable: 50 clients send signed Slack Vote clicks and /suggest commands to
the real ``advocacy serve`` as fast as it answers; the server is killed (``kill -9``) or stopped
(SIGTERM) in the middle of the burst and started again: every request that Slack was told we
received is recorded, once, on SQLite and on PostgreSQL. The same for Teams messages.

Before the inbox, Bolt acknowledged first and kept the work in memory: 4,354 clicks answered 200
and 29 votes kept after a ``kill -9``. DURABLE_BURST_SECONDS lengthens the burst (3 s here);
benchmarks/durability.py runs it longer and prints the figures.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.storage.database import Database
from tests.burst_support import Target, recorded, stop, stop_mid_burst
from tests.serve_process import running_serve
from tests.teams_fake import FakeConnector
from tests.teams_support import TeamsClient, TeamsUser
from tests.teams_support import user as teams_user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIENTS = 50
BURST_SECONDS = float(os.environ.get("DURABLE_BURST_SECONDS", "3"))
CLICKS_PER_CLIENT = 2000  # more than a client can send in the burst


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
async def test_every_acknowledged_click_and_command_survives_a_stop_mid_burst(
    settings: Settings, tmp_path: Path, how: str
) -> None:
    result = await stop_mid_burst(
        Target.of(settings), tmp_path, how, seconds=BURST_SECONDS, clients=CLIENTS
    )
    acknowledged = result.acknowledged
    assert acknowledged.total > CLIENTS, "the burst should have been acknowledged many times"
    assert result.pending_after == 0
    assert result.ideas_lost == 0, f"{result.ideas_lost} acknowledged ideas lost"
    assert result.votes_lost == 0, f"{result.votes_lost} acknowledged votes lost"
    assert result.ideas_twice == 0, "an idea was recorded twice"
    if result.waiting_at_stop:
        assert result.resumed_logged, "the restart should say how many events it resumed"
    print(
        f"\n{how} mid-burst ({settings.database_url.split(':')[0]}): "
        f"{acknowledged.total} acknowledged ({len(acknowledged.ideas)} /suggest, "
        f"{len(acknowledged.votes)} votes), {result.handled_before_stop} handled before the "
        f"stop, {result.waiting_at_stop} waiting in the inbox, all recorded "
        f"{result.recovery_seconds:.1f} s after the restart"
    )


async def test_every_acknowledged_teams_message_survives_a_kill_mid_burst(
    settings: Settings, tmp_path: Path
) -> None:
    """Teams messages (not invokes, which are answered only once recorded) are acknowledged
    once written to the inbox: killed mid-burst, the restarted server files every idea."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DATABASE_SCHEMA": settings.database_schema or "",
        "ADVOCACY_DATA_DIR": str(settings.data_dir),
        "ADVOCACY_SECRET_KEY": settings.secret_key,
        "LOG_LEVEL": "INFO",
        "MICROSOFT_APP_ID": "",  # the emulator's mode: requests from this machine only
    }
    people = [teams_user(f"Person{n:02d}") for n in range(CLIENTS)]
    sent: list[str] = []
    db = Database(settings.database_url, search_path=settings.database_schema)
    try:
        async with FakeConnector() as connector, aiohttp.ClientSession() as http:
            async with running_serve(env, tmp_path) as first:
                teams = TeamsClient(f"{first.base_url}/api/messages", connector, http)
                stopped = asyncio.Event()

                async def client(person: TeamsUser) -> None:
                    for n in range(CLICKS_PER_CLIENT):
                        text = f"burst idea {person.name}-{n:05d}"
                        try:
                            status, _ = await teams.say(person, f"suggest {text}")
                        except aiohttp.ClientError:
                            return
                        if status in (200, 201):
                            sent.append(text)
                        if stopped.is_set():
                            return

                sending = asyncio.gather(*(client(person) for person in people))
                await asyncio.sleep(BURST_SECONDS)
                stopped.set()
                await stop(first, "kill -9")
                await sending
                done_at_stop = len((await recorded(db))[0])
            async with running_serve(env, tmp_path):
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    texts, _, pending = await recorded(db)
                    if pending == 0 and set(texts) >= set(sent):
                        break
                    await asyncio.sleep(0.5)
    finally:
        await db.dispose()
    assert len(sent) > CLIENTS
    assert pending == 0
    assert set(sent) <= set(texts), f"{len(set(sent) - set(texts))} acknowledged ideas lost"
    assert len(texts) == len(set(texts))
    print(
        f"\nTeams, kill -9 mid-burst ({settings.database_url.split(':')[0]}): {len(sent)} "
        f"messages acknowledged, {done_at_stop} handled before the kill, all recorded after"
    )
