"""Acknowledged means durable: 50 clients send signed Slack Vote clicks and /suggest commands to
the real ``advocacy serve`` as fast as it answers; the server is killed (``kill -9``) or stopped
(SIGTERM) in the middle of the burst and started again: every request that Slack was told we
received is recorded, once, on SQLite and on PostgreSQL.

Before the inbox, Bolt acknowledged first and kept the work in memory: 4,354 clicks answered 200
and 29 votes kept after a ``kill -9``. DURABLE_BURST_SECONDS lengthens the burst (3 s here).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.compose import actions
from bot.config import Settings
from bot.inbox import PENDING
from bot.storage.database import Database
from bot.storage.models import InboxEvent, MemberIdentity, Suggestion, SuggestionVote
from tests.serve_process import RunningServer, running_serve
from tests.slack_fake import FakeSlack
from tests.slack_support import TEAM, SlackClient
from tests.teams_fake import FakeConnector
from tests.teams_support import TeamsClient, TeamsUser
from tests.teams_support import user as teams_user
from tests.test_load import serve_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIENTS = 50
BURST_SECONDS = float(os.environ.get("DURABLE_BURST_SECONDS", "3"))
IDEAS = 10
CLICKS_PER_CLIENT = 2000  # more than a client can send in the burst: every voter is new


@dataclass
class Acknowledged:
    ideas: list[str] = field(default_factory=list)
    votes: set[tuple[int, str]] = field(default_factory=set)
    refused: int = 0  # connections cut by the stop, or answered 5xx: not acknowledged

    @property
    def total(self) -> int:
        return len(self.ideas) + len(self.votes)


async def recorded(db: Database) -> tuple[set[str], set[tuple[int, int]], int]:
    """Burst ideas, votes (idea, member), and events still waiting in the inbox."""
    async with db.transaction() as session:
        texts = set(
            await session.scalars(select(Suggestion.text).where(Suggestion.text.like("burst %")))
        )
        rows = await session.execute(select(SuggestionVote.suggestion_id, SuggestionVote.member_id))
        votes = {(idea, member) for idea, member in rows.all()}
        pending = await session.scalar(
            select(func.count(InboxEvent.id)).where(InboxEvent.status == PENDING)
        )
    return texts, votes, int(pending or 0)


async def burst(slack: SlackClient, idea_ids: list[int], until: asyncio.Event) -> Acknowledged:
    """Each client in a closed loop, alternating /suggest and Vote (a new voter each time),
    until its connection is refused after ``until`` is set."""
    acknowledged = Acknowledged()

    async def client(number: int) -> None:
        for n in range(CLICKS_PER_CLIENT):
            try:
                if n % 2:
                    text = f"burst idea {number:02d}-{n:05d}"
                    status, _ = await slack.command("/suggest", text, f"UA{number:02d}")
                    if status == 200:
                        acknowledged.ideas.append(text)
                    else:
                        acknowledged.refused += 1
                else:
                    voter = f"UV{number:02d}{n:05d}"
                    idea = idea_ids[n // 2 % len(idea_ids)]
                    status, _ = await slack.press(
                        voter,
                        actions.SUGGESTION_VOTE,
                        {"suggestion": idea},
                        channel="CIDEAS",
                        ts="1700000000.000100",
                    )
                    if status == 200:
                        acknowledged.votes.add((idea, voter))
                    else:
                        acknowledged.refused += 1
            except (TimeoutError, aiohttp.ClientError):
                acknowledged.refused += 1
                if until.is_set():
                    return
                await asyncio.sleep(0.01)

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return acknowledged


async def stop(server: RunningServer, how: str) -> None:
    assert server.process is not None
    if how == "kill -9":
        server.kill()
        await server.process.wait()
        return
    server.process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(server.process.wait(), 60)
    server.killed = True  # stopped here; running_serve must not signal it again
    assert code == 0, "serve did not stop cleanly on SIGTERM:\n" + "".join(server.log[-20:])


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
async def test_every_acknowledged_click_and_command_survives_a_stop_mid_burst(
    settings: Settings, tmp_path: Path, how: str
) -> None:
    async with FakeSlack(team_id=TEAM) as fake:
        for number in range(CLIENTS):
            fake.add_user(f"UA{number:02d}", real_name=f"Author {number}")
        env = serve_env(settings, fake)
        db = Database(settings.database_url, search_path=settings.database_schema)
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=timeout
            ) as http:
                async with running_serve(env, tmp_path) as first:
                    slack = SlackClient(f"{first.base_url}/slack/events", fake, http)
                    for n in range(IDEAS):
                        await slack.command("/suggest", f"idea to vote on {n}", "UA00")
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        async with db.transaction() as session:
                            idea_ids = sorted(await session.scalars(select(Suggestion.id)))
                        if len(idea_ids) == IDEAS:
                            break
                        await asyncio.sleep(0.1)
                    assert len(idea_ids) == IDEAS
                    stopped = asyncio.Event()
                    sending = asyncio.create_task(burst(slack, idea_ids, stopped))
                    await asyncio.sleep(BURST_SECONDS)
                    stopped.set()
                    await stop(first, how)
                    acknowledged = await sending
                    texts, votes, waiting = await recorded(db)
                    done_at_stop = len(texts) + len(votes)

                async with running_serve(env, tmp_path) as second:
                    expected_votes: set[tuple[int, int]] = set()

                    async def all_there() -> bool:
                        texts, votes, pending = await recorded(db)
                        return (
                            pending == 0
                            and texts >= set(acknowledged.ideas)
                            and (votes >= expected_votes)
                        )

                    deadline = time.monotonic() + 180
                    while time.monotonic() < deadline:
                        members = await member_ids(db)  # voters are created on first contact
                        expected_votes = {
                            (idea, members.get(voter, -1)) for idea, voter in acknowledged.votes
                        }
                        if await all_there():
                            break
                        await asyncio.sleep(0.5)
                    texts, votes, pending = await recorded(db)
                    resumed_log = [line for line in second.log if "resuming" in line]
                    async with db.transaction() as session:
                        burst_ideas = await session.scalar(
                            select(func.count(Suggestion.id)).where(Suggestion.text.like("burst %"))
                        )
        finally:
            await db.dispose()
    assert acknowledged.total > CLIENTS, "the burst should have been acknowledged many times"
    assert pending == 0
    assert set(acknowledged.ideas) <= texts, f"{len(set(acknowledged.ideas) - texts)} ideas lost"
    assert expected_votes <= votes, f"{len(expected_votes - votes)} votes lost"
    assert burst_ideas == len(texts), "an idea was recorded twice"
    if waiting:
        assert resumed_log, "the restart should say how many events it resumed"
    print(
        f"\n{how} mid-burst ({settings.database_url.split(':')[0]}): "
        f"{acknowledged.total} acknowledged ({len(acknowledged.ideas)} /suggest, "
        f"{len(acknowledged.votes)} votes), {done_at_stop} handled before the stop, {waiting} "
        f"waiting in the inbox, all {acknowledged.total} recorded after the restart"
    )


async def member_ids(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(select(MemberIdentity.user_id, MemberIdentity.member_id))
    return dict(rows.all())


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
                    if pending == 0 and texts >= set(sent):
                        break
                    await asyncio.sleep(0.5)
    finally:
        await db.dispose()
    assert len(sent) > CLIENTS
    assert pending == 0
    assert set(sent) <= texts, f"{len(set(sent) - texts)} acknowledged ideas lost"
    assert len(texts) == len(set(texts))
    print(
        f"\nTeams, kill -9 mid-burst ({settings.database_url.split(':')[0]}): {len(sent)} "
        f"messages acknowledged, {done_at_stop} handled before the kill, all recorded after"
    )
