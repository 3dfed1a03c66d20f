"""``kill -9`` in the middle of a run of hundreds of Slack messages, then ``advocacy serve`` again:
every recipient is served, and duplicates stay within the in-flight window (one batch)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.outbox.worker import OutboxWorker
from tests.outbox_support import employees_and_a_digest, slack_env, user_ids
from tests.serve_process import run_cli, running_serve, wait_for
from tests.slack_fake import FakeSlack
from tests.slack_support import TEAM

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RECIPIENTS = 600
RATE = 150  # messages a second the bot allows itself; Slack's cap in the fake is above it
IN_FLIGHT_WINDOW = OutboxWorker.__init__.__kwdefaults__["batch_size"]  # type: ignore[index]


@asynccontextmanager
async def slack_workspace(tmp_path: Path) -> AsyncIterator[tuple[FakeSlack, dict[str, str]]]:
    async with FakeSlack(team_id=TEAM) as fake:
        fake.workspace_rate_limit, fake.workspace_burst = RATE * 1.5, 10
        fake.channel_rate_limit = 1
        env = slack_env(
            fake,
            f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
            tmp_path / "data",
            SLACK_WORKSPACE_RATE=str(RATE),
            DELIVERY_LEASE_SECONDS="3",
        )
        await employees_and_a_digest(env, "CRASH", RECIPIENTS)
        yield fake, env


def served(fake: FakeSlack) -> int:
    return len(fake.posted_counts())


def assert_everyone_once_give_or_take_the_window(fake: FakeSlack) -> int:
    posted = fake.posted_counts()
    assert set(posted) == {f"D{u}" for u in user_ids("CRASH", RECIPIENTS)}, "nobody skipped"
    doubled = sum(fake.duplicates().values())
    assert doubled <= IN_FLIGHT_WINDOW, f"{doubled} duplicates, more than was in flight"
    return doubled


async def test_killing_the_cli_mid_run_and_starting_serve_finishes_the_run(
    tmp_path: Path,
) -> None:
    async with slack_workspace(tmp_path) as (fake, env):
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "digest",
            "run",
            "daily",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await wait_for(lambda: served(fake) >= RECIPIENTS // 3, "a third sent", timeout=60)
        cli.send_signal(signal.SIGKILL)
        await cli.wait()
        at_kill = served(fake)
        assert at_kill < RECIPIENTS, "the run was still going when it was killed"

        async with running_serve(env, tmp_path) as server:
            await wait_for(lambda: served(fake) == RECIPIENTS, "the rest", timeout=90)
            await asyncio.sleep(0.5)  # anything else would go out now
            assert server.said("delivery worker started")
        assert_everyone_once_give_or_take_the_window(fake)
        runs = await run_cli(env, tmp_path, "digest", "runs", "--json")
        assert '"status": "done"' in runs


async def test_killing_serve_mid_run_and_starting_it_again_finishes_the_run(
    tmp_path: Path,
) -> None:
    async with slack_workspace(tmp_path) as (fake, env):
        async with running_serve(env, tmp_path) as first:
            await run_cli(env, tmp_path, "digest", "run", "daily", "--enqueue-only")
            await wait_for(lambda: served(fake) >= RECIPIENTS // 3, "a third sent", timeout=60)
            first.kill()
        assert served(fake) < RECIPIENTS, "the run was still going when serve was killed"

        async with running_serve(env, tmp_path):
            await wait_for(lambda: served(fake) == RECIPIENTS, "the rest", timeout=90)
            await asyncio.sleep(0.5)
        assert_everyone_once_give_or_take_the_window(fake)


async def test_a_sigterm_mid_run_sends_nobody_the_digest_twice(tmp_path: Path) -> None:
    """A deploy's SIGTERM is not a crash: what was sent is recorded and what was not is handed
    back, so the next start sends each person the digest once. The outbox used to be cancelled
    in the middle of a batch that takes longer than the stop's wait (a slow workspace cap, one
    busy channel), before it wrote the batch's outcomes: 23 of 80 posts went out twice."""
    recipients, rate = 40, 2  # the batch (all 40) takes 20 s, longer than the old wait (15 s)
    async with FakeSlack(team_id=TEAM) as fake:
        env = slack_env(
            fake,
            f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
            tmp_path / "data",
            SLACK_WORKSPACE_RATE=str(rate),
        )
        await employees_and_a_digest(env, "TERM", recipients)
        async with running_serve(env, tmp_path) as first:
            await run_cli(env, tmp_path, "digest", "run", "daily", "--enqueue-only")
            await wait_for(lambda: served(fake) >= 6, "six sent", timeout=60)
            assert first.process is not None
            first.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(first.process.wait(), 30) == 0
            first.killed = True  # stopped here, cleanly
        assert served(fake) < recipients, "the run was still going when serve was stopped"
        async with running_serve(env, tmp_path):
            await wait_for(lambda: served(fake) == recipients, "the rest", timeout=90)
            await asyncio.sleep(0.5)
        assert sum(fake.duplicates().values()) == 0
