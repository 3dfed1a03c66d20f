"""Load: 60 seconds of 100 signed Slack interactions a second against the real ``advocacy serve``
process (slack-bolt verifying every signature, the router, the database write), on SQLite and,
when TEST_DATABASE_URL is set, PostgreSQL.

The traffic is open-loop (each request leaves at its slot whether or not earlier ones were
answered) and mixed: four in five are /suggest commands, one in five a Vote press on an earlier
idea, and one press in ten is sent twice, as a double click does. It must all be acknowledged, no
reply may be an error, and the database is counted against what was sent: every idea once, every
vote once. A request is acknowledged once written to the durable inbox and recorded by its worker
after, at the worker's pace: the test waits until all is recorded (or nothing moves for
STALL_SECONDS). Throughput, latency and how long the backlog took are printed, never asserted:
this machine is shared and noisy. LOAD_SECONDS shortens the run while developing."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.compose import actions
from bot.config import Settings
from bot.storage.database import Database
from bot.storage.models import Suggestion, SuggestionVote
from tests.burst_support import Target
from tests.burst_support import serve_env as slack_serve_env
from tests.serve_process import running_serve
from tests.slack_fake import FakeSlack
from tests.slack_support import TEAM, SlackClient

RATE = 100  # interactions a second
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
AUTHORS = 20  # people who file the ideas voted on
VOTERS = 100
WARM_UP_IDEAS = 20
STALL_SECONDS = 30  # no event recorded for this long: the worker is stuck, not slow


def serve_env(settings: Settings, fake: FakeSlack) -> dict[str, str]:
    return slack_serve_env(Target.of(settings), fake)


async def counts(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        ideas = await session.scalar(select(func.count(Suggestion.id)))
        votes = await session.scalar(select(func.count(SuggestionVote.id)))
    return int(ideas or 0), int(votes or 0)


async def test_a_minute_at_a_hundred_interactions_a_second(
    settings: Settings, tmp_path: Path
) -> None:
    async with FakeSlack(team_id=TEAM) as fake:
        for n in range(AUTHORS):
            fake.add_user(f"UAUTH{n:03d}", real_name=f"Author {n}")
        for n in range(VOTERS):
            fake.add_user(f"UVOTE{n:03d}", real_name=f"Voter {n}")
        db = Database(settings.database_url, search_path=settings.database_schema)
        async with (
            running_serve(serve_env(settings, fake), tmp_path) as server,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
        ):
            slack = SlackClient(f"{server.base_url}/slack/events", fake, http)

            # Ideas to vote on, filed before the load (ids 1..20 in a fresh database).
            for n in range(WARM_UP_IDEAS):
                await slack.command("/suggest", f"warm-up idea {n:02d}", f"UAUTH{n:03d}")
            deadline = time.monotonic() + 30
            while (await counts(db))[0] < WARM_UP_IDEAS and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            async with db.transaction() as session:
                idea_ids = sorted(await session.scalars(select(Suggestion.id)))
            assert len(idea_ids) == WARM_UP_IDEAS

            total = RATE * SECONDS
            statuses: list[int] = []
            latencies: list[float] = []
            filed: list[str] = []
            votes: set[tuple[int, str]] = set()

            async def timed(request: asyncio.Future[tuple[int, str]]) -> None:
                started = time.monotonic()
                status, _ = await request
                latencies.append(time.monotonic() - started)
                statuses.append(status)

            async def interact(n: int) -> None:
                if n % 5:
                    text = f"load idea {n:05d}"
                    filed.append(text)
                    await timed(slack.command("/suggest", text, f"UAUTH{n % AUTHORS:03d}"))
                    return
                # The n-th vote: each (voter, idea) pair at most once, so each counts.
                k = n // 5
                voter = f"UVOTE{k % VOTERS:03d}"
                idea = idea_ids[(k // VOTERS + k) % len(idea_ids)]
                votes.add((idea, voter))
                clicks = 2 if k % 10 == 0 else 1  # a double click: the same action twice
                await asyncio.gather(
                    *(
                        timed(
                            slack.press(
                                voter,
                                actions.SUGGESTION_VOTE,
                                {"suggestion": idea},
                                channel="CIDEAS",
                                ts="1700000000.000100",
                                action_ts=f"{1700000000 + n}.{n:06d}",
                            )
                        )
                        for _ in range(clicks)
                    )
                )

            began = time.monotonic()
            tasks = []
            for n in range(total):
                delay = began + n / RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(interact(n)))
            await asyncio.gather(*tasks)
            sent_for = time.monotonic() - began

            # Each request was acknowledged once written to the inbox; the inbox's worker records
            # it after (at its own pace: a burst above it is a backlog, kept durably). Wait
            # until everything is recorded, or the worker stops making progress.
            expected = (WARM_UP_IDEAS + len(filed), len(votes))
            load_ended = time.monotonic()
            last_progress, before = load_ended, None
            while (now := await counts(db)) != expected:
                if now != before:
                    last_progress, before = time.monotonic(), now
                elif time.monotonic() - last_progress > STALL_SECONDS:
                    break
                await asyncio.sleep(0.5)
            drained_after = time.monotonic() - load_ended

            async with db.transaction() as session:
                texts = list(await session.scalars(select(Suggestion.text)))
        await db.dispose()
        assert all(status == 200 for status in statuses), {
            s: statuses.count(s) for s in set(statuses)
        }
        problems = [line for line in server.log if "ERROR" in line or "WARNING" in line]
        assert now == expected, f"recorded (ideas, votes) {now}, sent {expected}: {problems[:5]}"
        assert sorted(t for t in texts if t.startswith("load")) == sorted(filed)
        replies = [c.args for c in fake.calls_to("response_url")]
        errors = [r for r in replies if "⚠️" in json.dumps(r, ensure_ascii=False)]
        assert not errors, errors[:3]
        assert not [line for line in server.log if "ERROR" in line or "Traceback" in line]
        latencies.sort()
        print(
            f"\nload ({settings.database_url.split(':')[0]}): {len(statuses)} requests in "
            f"{sent_for:.1f} s ({len(statuses) / sent_for:.0f}/s); ack p50 "
            f"{statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms; "
            f"{len(filed)} ideas, {len(votes)} votes recorded once each, the last "
            f"{drained_after:.0f} s after the load"
        )
