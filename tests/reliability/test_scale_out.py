"""Scale-out on PostgreSQL: two ``advocacy serve`` instances share one database. Exactly one runs
the scheduler, both drain the outbox (``FOR UPDATE SKIP LOCKED``) without ever sending the same
delivery twice, and when the leader is killed the other takes the scheduler over."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import POSTGRES_URL, _postgres
from tests.outbox_support import employees_and_a_digest, slack_env
from tests.serve_process import run_cli, running_serve, wait_for
from tests.slack_fake import FakeSlack
from tests.slack_support import TEAM

pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

RECIPIENTS = 400
LEADER = "this instance runs the scheduler"
SENT = re.compile(r'advocacy_deliveries_total\{platform="slack",status="sent"\} (\d+)')


async def sent_by(base_url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/metrics") as answer:
        match = SENT.search(await answer.text())
    return int(match.group(1)) if match else 0


async def test_two_instances_share_the_work_and_one_leader_at_a_time(tmp_path: Path) -> None:
    assert POSTGRES_URL
    schema = f"scale_{uuid.uuid4().hex[:10]}"
    await _postgres(f'CREATE SCHEMA "{schema}"')
    try:
        async with FakeSlack(team_id=TEAM) as fake:
            fake.workspace_rate_limit, fake.workspace_burst = 400, 20
            env = slack_env(
                fake,
                POSTGRES_URL,
                tmp_path / "data",
                DATABASE_SCHEMA=schema,
                SLACK_WORKSPACE_RATE="150",
                DELIVERY_LEASE_SECONDS="3",
            )
            users = await employees_and_a_digest(env, "SCALE", RECIPIENTS)
            async with running_serve(env, tmp_path) as one, running_serve(env, tmp_path) as two:
                leader = await wait_for(
                    lambda: next((s for s in (one, two) if s.said(LEADER)), None), "a leader"
                )
                follower = two if leader is one else one
                await wait_for(
                    lambda: follower.said("another instance runs the scheduler"), "a follower"
                )
                await run_cli(env, tmp_path, "digest", "run", "daily", "--enqueue-only")
                await wait_for(
                    lambda: len(fake.posted_counts()) == RECIPIENTS, "every message", timeout=60
                )
                await asyncio.sleep(0.5)
                assert set(fake.posted_counts()) == {f"D{u}" for u in users}
                assert fake.duplicates() == {}, "two instances sent the same delivery"
                shares = [await sent_by(one.base_url), await sent_by(two.base_url)]
                assert sum(shares) == RECIPIENTS
                assert min(shares) > 0, f"both instances send: {shares}"
                assert not follower.said(LEADER)

                leader.kill()
                await wait_for(lambda: follower.said(LEADER), "the follower to take over", 30)
                await wait_for(lambda: follower.said("scheduler started"), "its scheduler")
    finally:
        await _postgres(f'DROP SCHEMA "{schema}" CASCADE')
