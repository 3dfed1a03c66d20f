"""Faults, all in one run of the real ``advocacy serve`` on PostgreSQL: Slack answers 429, 500 or
hangs past the client's time-out on a fifth of its calls; PostgreSQL itself is stopped for a few
seconds and started again (a real restart of the local cluster); then serve is killed with
``kill -9`` and started again. Every employee gets the digest in the end, none twice outside the
in-flight window of the kill (the restart resends nothing), and the feedback recorded before the
faults is all there.

Runs where TEST_DATABASE_URL names this machine's PostgreSQL and this user may restart it (as CI
does); skipped elsewhere. The other fault suites (platform faults alone, kill -9 alone, on SQLite
and for Teams) are tests/reliability/test_delivery_faults.py and
tests/reliability/test_crash_recovery.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.outbox.worker import OutboxWorker
from tests.conftest import POSTGRES_URL, _postgres
from tests.outbox_support import employees_and_a_digest, slack_env, user_ids
from tests.postgres_lock import postgres_turn
from tests.serve_process import run_cli, running_serve, wait_for
from tests.slack_fake import FakeSlack
from tests.slack_support import TEAM, SlackClient

RECIPIENTS = 400
RATE = 60  # messages a second the bot allows itself
IN_FLIGHT_WINDOW = OutboxWorker.__init__.__kwdefaults__["batch_size"]  # type: ignore[index]
DOWN_SECONDS = 4
EARLY_READERS = 20  # press Useful before the faults: their feedback must survive them


def local_cluster() -> tuple[str, str] | None:
    """(version, name) of the PostgreSQL cluster TEST_DATABASE_URL points at, if this user can
    restart it."""
    if not POSTGRES_URL or make_url(POSTGRES_URL).host not in ("127.0.0.1", "localhost"):
        return None
    if not shutil.which("pg_ctlcluster") or os.geteuid() != 0:
        return None
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    return (versions[-1], "main") if versions else None


CLUSTER = local_cluster()
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.restarts_postgres,
    pytest.mark.skipif(
        CLUSTER is None,
        reason="needs TEST_DATABASE_URL on this machine's PostgreSQL and the right to restart it",
    ),
]


def pg_ctl(action: str) -> None:
    assert CLUSTER is not None
    version, name = CLUSTER
    extra = ["-m", "fast"] if action == "stop" else []
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, *extra],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def postgres_restarted(seconds: float) -> None:
    """Stop the cluster (ending every connection), keep it down, start it again."""
    await asyncio.to_thread(pg_ctl, "stop")
    try:
        await asyncio.sleep(seconds)
    finally:
        await asyncio.to_thread(pg_ctl, "start")


def useful_button(message: dict[str, Any]) -> dict[str, Any]:
    return next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("text", {}).get("text") == "Useful"
    )


@pytest.fixture
def alone_on_postgres() -> Iterator[None]:
    """No test of another run on this machine is using PostgreSQL while this one stops it."""
    with postgres_turn(exclusive=True):
        yield


async def test_platform_faults_a_postgres_restart_and_kill_9_lose_nothing(
    tmp_path: Path, alone_on_postgres: None
) -> None:
    schema = f"faults_{uuid.uuid4().hex[:10]}"
    await _postgres(f'CREATE SCHEMA "{schema}"')
    try:
        async with FakeSlack(team_id=TEAM) as fake:
            fake.workspace_rate_limit, fake.workspace_burst = RATE * 1.5, 10
            fake.channel_rate_limit = 1
            env = slack_env(
                fake,
                str(POSTGRES_URL),
                tmp_path / "data",
                DATABASE_SCHEMA=schema,
                SLACK_WORKSPACE_RATE=str(RATE),
                SLACK_TIMEOUT="2",
                DELIVERY_LEASE_SECONDS="5",
                DELIVERY_MAX_ATTEMPTS="12",
            )
            users = await employees_and_a_digest(env, "FAULT", RECIPIENTS)
            fake.inject_faults(0.2, seed=9, hang_seconds=4)
            served = lambda: len(fake.posted_counts())  # noqa: E731

            async with running_serve(env, tmp_path) as first:
                await run_cli(env, tmp_path, "digest", "run", "daily", "--enqueue-only")
                await wait_for(lambda: served() >= RECIPIENTS // 5, "a fifth sent", timeout=90)

                # Early readers press Useful; that is recorded before anything goes wrong.
                async with aiohttp.ClientSession() as http:
                    slack = SlackClient(f"{first.base_url}/slack/events", fake, http)
                    readers = [u for u in users if fake.messages.get(f"D{u}")][:EARLY_READERS]
                    for user in readers:
                        message = fake.messages[f"D{user}"][0]
                        button = useful_button(message)
                        status, _ = await slack.press(
                            user,
                            button["action_id"],
                            json.loads(button["value"]),
                            channel=f"D{user}",
                            ts=message["ts"],
                        )
                        assert status == 200
                deadline = time.monotonic() + 30
                while await count_feedback(schema) < len(readers):
                    assert time.monotonic() < deadline, "early feedback not recorded"
                    await asyncio.sleep(0.2)

                # PostgreSQL goes away mid-run and comes back; serve must ride it out.
                before_restart = served()
                await postgres_restarted(DOWN_SECONDS)
                assert first.process is not None and first.process.returncode is None
                await wait_for(
                    lambda: served() >= before_restart + RECIPIENTS // 10,
                    "sending again after the restart",
                    timeout=90,
                )
                first.kill()
                outage_log = [line for line in first.log if "database unavailable" in line]
            at_kill = served()
            assert at_kill < RECIPIENTS, "the run was over before the kill: make it longer"

            async with running_serve(env, tmp_path) as second:
                await wait_for(lambda: served() == RECIPIENTS, "everyone served", timeout=240)
                # A message in flight at the kill reached Slack before its outcome was written:
                # the run is over once its lease ran out and it was sent (again) and recorded.
                deadline = time.monotonic() + 60
                while await count_unfinished(schema):
                    assert time.monotonic() < deadline, "deliveries still unfinished"
                    await asyncio.sleep(0.5)
                await asyncio.sleep(1)  # anything more would go out now
                assert not second.said("Traceback")

            posted = fake.posted_counts()
            assert set(posted) == {f"D{u}" for u in user_ids("FAULT", RECIPIENTS)}
            doubled = sum(fake.duplicates().values())
            # The restart resends nothing (the worker holds a batch's outcomes until the database
            # is back); the kill may resend what was in flight: one batch.
            assert doubled <= IN_FLIGHT_WINDOW, f"{doubled} sent twice"
            assert sum(fake.fault_counts.values()) > RECIPIENTS // 10, "faults were injected"
            assert await count_feedback(schema) == len(readers), "feedback lost"
            runs = await run_cli(env, tmp_path, "digest", "runs", "--json")
            assert '"status": "done"' in runs
            print(
                f"\nfaults: {RECIPIENTS} served; {doubled} duplicates; faults "
                f"{dict(fake.fault_counts)}; killed at {at_kill}; outage: {outage_log[:2]}"
            )
    finally:
        await _postgres(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def count_unfinished(schema: str) -> int:
    """Deliveries neither sent nor dead-lettered yet, read straight from PostgreSQL."""
    import asyncpg

    url = make_url(str(POSTGRES_URL)).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM deliveries WHERE status NOT IN ('sent', 'dead')"
            )
        )
    finally:
        await connection.close()


async def count_feedback(schema: str) -> int:
    """Useful presses recorded, read straight from PostgreSQL."""
    import asyncpg

    url = make_url(str(POSTGRES_URL)).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        return int(await connection.fetchval("SELECT count(*) FROM feedback WHERE kind='useful'"))
    finally:
        await connection.close()
