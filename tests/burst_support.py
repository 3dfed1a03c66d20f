"""A burst of signed Slack clicks and /suggest commands against the real ``advocacy serve``,
stopped in the middle (``kill -9`` or SIGTERM), then a restart: what was acknowledged, what was
recorded. Shared by tests/reliability/test_acknowledged_durable.py (which asserts) and
benchmarks/durability.py (which prints figures)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.compose import actions
from bot.config import Settings
from bot.inbox import PENDING
from bot.inbox import rows as inbox_rows
from bot.inbox.store import InboxStore
from bot.storage.database import Database
from bot.storage.models import MemberIdentity, Suggestion, SuggestionVote
from tests.serve_process import RunningServer, running_serve
from tests.slack_fake import FakeSlack
from tests.slack_support import SIGNING_SECRET, TEAM, SlackClient

IDEAS = 10
MAX_REQUESTS_PER_CLIENT = 100_000  # more than a client sends in a burst: every voter is new
RECOVERY_PATIENCE_SECONDS = 300


@dataclass(frozen=True)
class Target:
    """The database the server uses (a SQLite file, or a PostgreSQL schema)."""

    database_url: str
    schema: str | None
    data_dir: Path
    secret_key: str

    @classmethod
    def of(cls, settings: Settings) -> Target:
        assert settings.secret_key is not None
        return cls(
            settings.database_url, settings.database_schema, settings.data_dir, settings.secret_key
        )


@dataclass
class Acknowledged:
    ideas: list[str] = field(default_factory=list)
    votes: set[tuple[int, str]] = field(default_factory=set)
    refused: int = 0  # connections cut by the stop, or answered 5xx: not acknowledged

    @property
    def total(self) -> int:
        return len(self.ideas) + len(self.votes)


@dataclass
class BurstResult:
    how: str
    seconds: float
    acknowledged: Acknowledged
    handled_before_stop: int
    waiting_at_stop: int
    ideas_lost: int
    votes_lost: int
    ideas_twice: int
    pending_after: int
    recovery_seconds: float  # from the restart's first answer to the last event handled
    resumed_logged: bool

    @property
    def acks_per_second(self) -> float:
        return self.acknowledged.total / self.seconds


def serve_env(target: Target, fake: FakeSlack) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": target.database_url,
        "DATABASE_SCHEMA": target.schema or "",
        "ADVOCACY_DATA_DIR": str(target.data_dir),
        "ADVOCACY_SECRET_KEY": target.secret_key,
        "LOG_LEVEL": "INFO",
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "PUBLIC_URL": "https://advocacy.example.com",
    }


async def recorded(db: Database) -> tuple[list[str], set[tuple[int, int]], int]:
    """Burst ideas (every row, so a double shows), votes (idea, member), events waiting."""
    async with db.transaction() as session:
        texts = list(
            await session.scalars(select(Suggestion.text).where(Suggestion.text.like("burst %")))
        )
        rows = await session.execute(select(SuggestionVote.suggestion_id, SuggestionVote.member_id))
        votes = {(idea, member) for idea, member in rows.all()}
    store = InboxStore(db)  # the inbox's own file beside a SQLite one, else the same database
    try:
        pending = (await store.run(inbox_rows.depth))[PENDING]
    finally:
        await store.close()
    return texts, votes, pending


async def member_ids(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(select(MemberIdentity.user_id, MemberIdentity.member_id))
    return dict(rows.all())


async def burst(
    slack: SlackClient, idea_ids: list[int], until: asyncio.Event, clients: int
) -> Acknowledged:
    """Each client in a closed loop, alternating /suggest and Vote (a new voter each time),
    until its connection is refused after ``until`` is set."""
    acknowledged = Acknowledged()

    async def client(number: int) -> None:
        for n in range(MAX_REQUESTS_PER_CLIENT):
            try:
                if n % 2:
                    text = f"burst idea {number:03d}-{n:06d}"
                    status, _ = await slack.command("/suggest", text, f"UA{number:03d}")
                    if status == 200:
                        acknowledged.ideas.append(text)
                    else:
                        acknowledged.refused += 1
                else:
                    voter = f"UV{number:03d}{n:06d}"
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

    await asyncio.gather(*(client(n) for n in range(clients)))
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


async def stop_mid_burst(
    target: Target, cwd: Path, how: str, *, seconds: float, clients: int = 50
) -> BurstResult:
    """Ideas to vote on, then ``clients`` send for ``seconds``, then ``how`` stops the server
    while they still send; then a new server, until every acknowledged event is recorded or
    RECOVERY_PATIENCE_SECONDS pass."""
    async with FakeSlack(team_id=TEAM) as fake:
        for number in range(clients):
            fake.add_user(f"UA{number:03d}", real_name=f"Author {number}")
        env = serve_env(target, fake)
        db = Database(target.database_url, search_path=target.schema)
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=timeout
            ) as http:
                async with running_serve(env, cwd) as first:
                    slack = SlackClient(f"{first.base_url}/slack/events", fake, http)
                    idea_ids = await ideas_to_vote_on(slack, db)
                    stopping = asyncio.Event()
                    sending = asyncio.create_task(burst(slack, idea_ids, stopping, clients))
                    await asyncio.sleep(seconds)
                    stopping.set()
                    await stop(first, how)
                    acknowledged = await sending
                    texts, votes, waiting = await recorded(db)
                    handled_before_stop = len(texts) + len(votes)
                async with running_serve(env, cwd) as second:
                    restarted = time.monotonic()
                    expected_votes, recovered = await until_recorded(db, acknowledged)
                    recovery = time.monotonic() - restarted
                    texts, votes, pending = await recorded(db)
                    resumed = any("resuming" in line for line in second.log)
        finally:
            await db.dispose()
    return BurstResult(
        how=how,
        seconds=seconds,
        acknowledged=acknowledged,
        handled_before_stop=handled_before_stop,
        waiting_at_stop=waiting,
        ideas_lost=len(set(acknowledged.ideas) - set(texts)),
        votes_lost=len(expected_votes - votes),
        ideas_twice=len(texts) - len(set(texts)),
        pending_after=pending,
        recovery_seconds=recovery if recovered else float("inf"),
        resumed_logged=resumed,
    )


async def ideas_to_vote_on(slack: SlackClient, db: Database) -> list[int]:
    for n in range(IDEAS):
        await slack.command("/suggest", f"idea to vote on {n}", "UA000")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with db.transaction() as session:
            idea_ids = sorted(await session.scalars(select(Suggestion.id)))
        if len(idea_ids) == IDEAS:
            return idea_ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"{IDEAS} ideas were not filed within 30 s")


async def until_recorded(
    db: Database, acknowledged: Acknowledged
) -> tuple[set[tuple[int, int]], bool]:
    """Wait until every acknowledged idea and vote is in the database and nothing waits;
    returns the votes expected (as (idea, member)) and whether that happened in time."""
    deadline = time.monotonic() + RECOVERY_PATIENCE_SECONDS
    wanted_ideas = set(acknowledged.ideas)
    while True:
        members = await member_ids(db)  # voters are created on first contact
        expected = {(idea, members.get(voter, -1)) for idea, voter in acknowledged.votes}
        texts, votes, pending = await recorded(db)
        if pending == 0 and wanted_ideas <= set(texts) and expected <= votes:
            return expected, True
        if time.monotonic() > deadline:
            return expected, False
        await asyncio.sleep(0.25)
