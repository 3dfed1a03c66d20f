"""A digest run reads its audience in pages and queues it in batches: everyone over many pages is
queued exactly once, in their language, and a run cut short (an error, or kill -9 in the middle
of queueing) leaves nothing queued, so running it again queues everyone once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Application, open_application
from bot.config import Settings
from bot.domain import RunStatus
from bot.services import digest_runs, digests
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.members import get_member
from bot.services.permissions import OPERATOR
from bot.storage.models import ContentReceipt, Delivery, Digest, DigestRun, OutboundMessage
from bot.storage.upkeep import refresh_planner_statistics
from tests.conftest import make_member
from tests.outbox_support import employees_and_a_digest, user_ids
from tests.serve_process import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LOCALES = (None, "de", "ja")


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 3 readers and batches of 2 rows: a handful of members spans several of each."""
    monkeypatch.setattr(digests, "AUDIENCE_PAGE", 3)
    monkeypatch.setattr(digest_runs._Queue, "BATCH", 2)


async def members_in_languages(app: Application, count: int) -> list[str]:
    users = [f"reader{n:02d}" for n in range(count)]
    for n, user in enumerate(users):
        await make_member(app, user)
        async with app.db.transaction() as session:
            (await get_member(session, "remote", user)).locale = LOCALES[n % len(LOCALES)]
    return users


async def content_digest(app: Application) -> None:
    async with app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/a", title="Read me")
        await add_digest(
            session,
            OPERATOR,
            "daily",
            kind="content",
            audience="all",
            cron="0 9 * * *",
            timezone="UTC",
        )


async def run_daily(app: Application) -> digest_runs.RunOutcome:
    async with app.db.transaction() as session:
        digest = await digests.get_digest(session, "daily")
        outcome = await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert outcome is not None
    return outcome


async def deliveries_per_member(app: Application) -> dict[int, int]:
    async with app.db.transaction() as session:
        rows = await session.execute(
            select(Delivery.member_id, func.count(Delivery.id)).group_by(Delivery.member_id)
        )
        return {member_id: count for member_id, count in rows}


@pytest.mark.usefixtures("small_pages")
async def test_a_run_over_many_pages_queues_each_reader_once_in_their_language(
    app: Application,
) -> None:
    await members_in_languages(app, 11)
    await content_digest(app)

    outcome = await run_daily(app)

    assert outcome.queued == 11
    per_member = await deliveries_per_member(app)
    assert len(per_member) == 11 and set(per_member.values()) == {1}
    async with app.db.transaction() as session:
        messages = (await session.execute(select(func.count(OutboundMessage.id)))).scalar()
        # One message per language, however many pages its readers came in.
        assert messages == len(LOCALES)
        receipts = await session.scalar(select(func.count(ContentReceipt.id)))
        assert receipts == 11
        targets = set(await session.scalars(select(ContentReceipt.target)))
        assert targets == {f"member:{member_id}" for member_id in per_member}
        languages = {
            member_id: json.dumps(payload)
            for member_id, payload in await session.execute(
                select(Delivery.member_id, OutboundMessage.payload).join(
                    OutboundMessage, OutboundMessage.id == Delivery.message_id
                )
            )
        }
    german = [
        languages[(await _member_id(app, f"reader{n:02d}"))]
        for n in range(11)
        if LOCALES[n % 3] == "de"
    ]
    assert len(set(german)) == 1, "every German reader shares the one German message"
    assert german[0] != languages[await _member_id(app, "reader00")]


async def _member_id(app: Application, user: str) -> int:
    async with app.db.transaction() as session:
        return (await get_member(session, "remote", user)).id


@pytest.mark.usefixtures("small_pages")
async def test_a_second_run_sends_nobody_an_item_twice_across_pages(app: Application) -> None:
    await members_in_languages(app, 7)
    await content_digest(app)
    await run_daily(app)

    again = await run_daily(app)

    assert again.queued == 0 and again.run.status == RunStatus.SKIPPED
    assert set((await deliveries_per_member(app)).values()) == {1}


@pytest.mark.usefixtures("small_pages")
async def test_a_run_failing_half_way_through_queueing_queues_nobody_and_reruns_cleanly(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    await members_in_languages(app, 9)
    await content_digest(app)
    flushes = 0
    real_insert = digest_runs.insert_deliveries

    async def insert_then_fail(session, rows):  # type: ignore[no-untyped-def]
        nonlocal flushes
        flushes += 1
        if flushes == 3:
            raise ConnectionError("the database went away mid-run")
        await real_insert(session, rows)

    monkeypatch.setattr(digest_runs, "insert_deliveries", insert_then_fail)
    with pytest.raises(ConnectionError):
        await run_daily(app)
    assert flushes == 3, "the run failed after queueing part of the audience"
    assert await deliveries_per_member(app) == {}
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(DigestRun.id))) == 0

    monkeypatch.setattr(digest_runs, "insert_deliveries", real_insert)
    outcome = await run_daily(app)

    assert outcome.queued == 9
    assert set((await deliveries_per_member(app)).values()) == {1}


# The CLI, killed with SIGKILL by itself once two batches of the run are written: what a crash
# or the OOM killer does in the middle of queueing.
KILLED_MID_QUEUEING = """
import os, signal, sys
from bot.services import digest_runs, digests
digests.AUDIENCE_PAGE = 40
digest_runs._Queue.BATCH = 40
real_flush = digest_runs._Queue.flush
flushed = 0
async def flush_then_die(self):
    global flushed
    await real_flush(self)
    flushed += 1
    if flushed == 2:
        os.kill(os.getpid(), signal.SIGKILL)
digest_runs._Queue.flush = flush_then_die
from bot.cli.main import main
sys.argv = ["advocacy", "digest", "run", "daily", "--enqueue-only"]
main()
"""


async def test_kill_9_in_the_middle_of_queueing_then_running_again_queues_everyone_once(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
        "ADVOCACY_DATA_DIR": str(tmp_path / "data"),
        "ADVOCACY_SECRET_KEY": "streaming-test-key-5d0c1e8b7a6f4e3d2c1b",
        "LOG_LEVEL": "WARNING",
    }
    env = {k: v for k, v in env.items() if not k.startswith(("SLACK_", "MICROSOFT_APP_"))}
    env.pop("DATABASE_SCHEMA", None)
    users = await employees_and_a_digest(env, "STREAM", 200)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_MID_QUEUEING, cwd=tmp_path, env=env
    )
    assert await asyncio.wait_for(child.wait(), 60) == -signal.SIGKILL

    await run_cli(env, tmp_path, "digest", "run", "daily", "--enqueue-only")

    settings = Settings.from_env(env, dotenv=Path(os.devnull))
    async with (
        open_application(settings, with_adapters=False) as app,
        app.db.transaction() as session,
    ):
        recipients = list(await session.scalars(select(Delivery.recipient)))
        runs = list(await session.scalars(select(DigestRun)))
    assert sorted(recipients) == sorted(users), "each member queued once, nobody skipped"
    assert [(run.status, run.recipients) for run in runs] == [(RunStatus.ENQUEUED, 200)]
    assert user_ids("STREAM", 1)[0] in recipients


async def test_whether_a_run_still_waits_is_one_probe_of_its_index(
    sqlite_settings: Settings,
) -> None:
    """After every outbox batch each queued run is checked for deliveries still waiting: through
    the (run_id, status) index that is one probe, where the queue's index (status first) walked
    every other run's waiting rows and the run's own walked its rows already sent. Checked with
    the planner's statistics gathered, as the upkeep job gathers them on SQLite."""
    async with open_application(sqlite_settings, with_adapters=False) as app:
        await content_digest(app)
        async with app.db.transaction() as session:
            digest = await session.scalar(select(Digest))
            assert digest is not None
            session.add_all([DigestRun(id=run, digest_id=digest.id) for run in (1, 2)])
            await session.execute(
                text(
                    "INSERT INTO outbound_messages (kind, payload, created_at)"
                    " VALUES ('x', '{}', '2026-01-01')"
                )
            )
            for n in range(300):
                await session.execute(
                    text(
                        "INSERT INTO deliveries (message_id, run_id, platform, workspace,"
                        " recipient, channel, status, attempts, next_attempt_at, created_at)"
                        " VALUES (1, :run, 'slack', '', :r, 0, :s, 1, '2026-01-01',"
                        " '2026-01-01')"
                    ),
                    {"run": 1 + n % 2, "r": f"U{n}", "s": "pending" if n % 3 else "sent"},
                )
        assert await refresh_planner_statistics(app.db)
        statements: list[tuple[str, Any]] = []

        def note(*args: Any) -> None:
            statements.append((args[2], args[3]))

        async with app.db.engine.connect() as connection:
            event.listen(connection.sync_connection, "before_cursor_execute", note)
            async with AsyncSession(connection) as session:
                assert await digest_runs.finish_completed_runs(session) == 0
                await session.rollback()
            event.remove(connection.sync_connection, "before_cursor_execute", note)
            [(query, parameters)] = [(q, p) for q, p in statements if q.startswith("UPDATE")]
            plan = (
                await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", parameters)
            ).all()
    assert "ix_deliveries_run_status (run_id=? AND status=?)" in str(plan), plan
