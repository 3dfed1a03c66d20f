"""Delivery under throttling and failure, through the real Slack adapter and slack_sdk against the
fake Web API: its published rate limits enforced, and 429s, 500s and time-outs injected."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.config import Settings
from bot.domain import DeliveryStatus
from bot.outbox.admin import failed_deliveries, retry_deliveries
from bot.outbox.worker import OutboxWorker
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.members import add_member
from bot.services.permissions import OPERATOR
from bot.storage.models import Delivery
from tests.fakes import RemotePlatform
from tests.outbox_support import article_and_daily_digest
from tests.slack_support import TEAM, SlackStack, slack_stack
from tests.teams_support import install_in_team, teams_stack

RECIPIENTS = 240


async def audience(app: Application, count: int) -> list[str]:
    users = [f"UFAN{n:05d}" for n in range(count)]
    async with app.db.transaction() as session:
        for user in users:
            await add_member(session, OPERATOR, "slack", user, name=user, workspace=TEAM)
        digest = await article_and_daily_digest(session)
        outcome = await start_run(
            session, app.sealer, digest, actor=OPERATOR, composers=app.extensions.composers
        )
    assert outcome is not None and outcome.queued == count
    return users


def dm(users: list[str]) -> set[str]:
    """The fake answers a post to a user in their direct-message channel, D + the user id."""
    return {f"D{user}" for user in users}


def counted(app: Application, status: str) -> float:
    """Deliveries by outcome as the metrics count them (the server's own worker drains too)."""
    value = app.metrics.registry.get_sample_value(
        "advocacy_deliveries_total", {"platform": "slack", "status": status}
    )
    return value or 0.0


async def statuses(app: Application) -> dict[str, int]:
    async with app.db.transaction() as session:
        rows = await session.execute(
            select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
        )
        return {status: count for status, count in rows}


def tuned(worker: OutboxWorker | None, *, attempts: int) -> OutboxWorker:
    assert worker is not None
    worker.max_attempts = attempts
    worker.base_backoff = 0.1  # retries in tenths of a second, not the production seconds
    return worker


async def test_a_fifth_of_calls_failing_loses_nothing_and_doubles_nothing(
    settings: Settings,
) -> None:
    # The client's time-out is well above a loaded machine's slowest answer: a request that times
    # out after Slack accepted it is a duplicate of the in-flight kind, which this test excludes.
    async with slack_stack(settings, SLACK_TIMEOUT="2", SLACK_WORKSPACE_RATE="100") as stack:
        fake = stack.fake
        fake.workspace_rate_limit, fake.workspace_burst = 100, 5
        fake.channel_rate_limit = 1
        fake.inject_faults(0.2, seed=2026, hang_seconds=2.5)
        users = await audience(stack.app, RECIPIENTS)
        worker = tuned(stack.app.worker, attempts=12)

        await worker.drain()

        posted = fake.posted_counts()
        assert set(posted) == dm(users), "every recipient got the digest"
        assert counted(stack.app, "sent") == RECIPIENTS
        # Every injected fault was a retry, never a loss: 429, 500 and time-outs all happened.
        assert set(fake.fault_counts) == {"429", "500", "timeout"}
        refused = sum(fake.fault_counts.values()) + fake.rate_limited_count
        assert counted(stack.app, "retried") >= refused
        # Nobody got it twice because of a fault. The one duplicate at-least-once delivery cannot
        # avoid (chat.postMessage has no idempotency key) is a message Slack carried out but
        # answered after the client's time-out, which a loaded machine can make happen: each such
        # extra message needs a retry that no refusal explains.
        unexplained_retries = counted(stack.app, "retried") - refused
        assert sum(fake.duplicates().values()) <= unexplained_retries, fake.duplicates()
        assert counted(stack.app, "dead") == 0
        assert await statuses(stack.app) == {DeliveryStatus.SENT: RECIPIENTS}


async def test_sending_keeps_to_the_workspace_cap_so_slack_never_has_to_refuse(
    settings: Settings,
) -> None:
    rate = 40
    async with slack_stack(settings, SLACK_WORKSPACE_RATE=str(rate)) as stack:
        fake = stack.fake
        # The fake's bucket absorbs 10 at once: on a busy machine, messages the bot spaced out can
        # reach it bunched by a stalled event loop (CI saw 14 refusals with a bucket of 5).
        fake.workspace_rate_limit, fake.workspace_burst = rate, 10
        users = await audience(stack.app, 120)
        worker = tuned(stack.app.worker, attempts=3)
        started = time.monotonic()
        await worker.drain()
        elapsed = time.monotonic() - started
        assert counted(stack.app, "sent") == len(users)
        assert fake.rate_limited_count == 0
        # Paced, not bursting: 120 messages at 40 a second cannot take much under 3 s.
        assert elapsed >= (len(users) - 5) / rate * 0.9


async def test_deliveries_failing_for_good_are_dead_lettered_shown_and_retried(
    settings: Settings,
) -> None:
    async with slack_stack(settings, SLACK_WORKSPACE_RATE="200") as stack:
        fake = stack.fake
        fake.inject_faults(1.0, kinds=("500",), seed=1)
        users = await audience(stack.app, 12)
        worker = tuned(stack.app.worker, attempts=3)
        await worker.drain()
        assert counted(stack.app, "dead") == len(users)
        assert fake.posted_counts() == {}

        async with stack.app.db.transaction() as session:
            failed = await failed_deliveries(session)
        assert len(failed) == len(users)
        assert {f.error for f in failed} == {"Slack answered HTTP 500"}
        assert {f.attempts for f in failed} == {3}
        assert {f.digest for f in failed} == {"daily"}

        metrics = await _metrics(stack)
        assert 'advocacy_dead_letters{platform="slack"} 12.0' in metrics
        assert 'advocacy_deliveries_total{platform="slack",status="dead"} 12.0' in metrics

        fake.inject_faults(0)
        async with stack.app.db.transaction() as session:
            assert await retry_deliveries(session, everything=True) == len(users)
        await worker.drain()
        assert counted(stack.app, "sent") == len(users)
        assert set(fake.posted_counts()) == dm(users)
        assert await statuses(stack.app) == {DeliveryStatus.SENT: len(users)}


async def _metrics(stack: SlackStack) -> str:
    url = f"http://127.0.0.1:{stack.server.port}/metrics"
    async with stack.session.get(url) as response:
        return await response.text()


async def test_a_dead_workers_leases_expire_and_its_late_outcome_is_ignored(
    app: Application, remote: RemotePlatform
) -> None:
    async with app.db.transaction() as session:
        for n in range(10):
            await add_member(session, OPERATOR, "remote", f"u{n}", platforms=["remote"])
        await add_content(session, OPERATOR, "https://example.com/a", title="Worth reading")
        digest = await add_digest(
            session,
            OPERATOR,
            "daily",
            kind="content",
            cron="0 9 * * *",
            timezone="UTC",
            audience="all",
        )
        await start_run(session, app.sealer, digest, actor=OPERATOR)
    dead = OutboxWorker(
        app.db, app.adapters, app.sealer, app.metrics, app.links, lease=timedelta(seconds=1)
    )
    alive = OutboxWorker(app.db, app.adapters, app.sealer, app.metrics, app.links)
    claimed = await dead.claim()
    assert len(claimed) == 10
    assert await alive.claim() == [], "rows in flight elsewhere are not taken"

    # While its owner renews them, the leases outlive their first second.
    for _ in range(2):
        await dead.renew_leases()
        time.sleep(0.6)
    assert await alive.claim() == []

    # The owner stops renewing (it died): the rows come back to whoever asks next.
    time.sleep(1.1)
    await alive.drain()
    assert sorted(s.target.recipient for s in remote.sent) == sorted(f"u{n}" for n in range(10))

    # The dead worker wakes up and reports a failure for them: it no longer holds them.
    await dead._record(
        [
            {
                "id": row.id,
                "status": DeliveryStatus.DEAD,
                "attempts": 9,
                "lease_until": None,
                "sent_at": None,
                "platform_ref": None,
                "next_attempt_at": row.created_at,
                "last_error": "stale",
            }
            for row in claimed
        ]
    )
    assert await statuses(app) == {DeliveryStatus.SENT: 10}


@pytest.mark.parametrize("burst", [1, 4])
def test_the_pacer_keeps_the_long_run_rate_and_allows_only_the_burst(burst: int) -> None:
    from bot.ratelimit import Pacer

    pacer = Pacer(rate=10, burst=burst)
    waits = [pacer.reserve("workspace") for _ in range(30)]
    assert waits[:burst] == [0.0] * burst
    assert waits[burst] > 0
    # 30 operations at 10 a second with a burst of B: the last waits (30 - B) / 10 seconds.
    assert waits[-1] == pytest.approx((30 - burst) / 10, abs=0.01)
    assert pacer.reserve("another workspace") == 0.0


# ----- Teams: per-conversation and per-tenant limits, and faults ------------------------------


async def test_teams_faults_and_tenant_limits_lose_and_double_nothing(settings: Settings) -> None:
    members = 120
    async with teams_stack(settings) as teams:
        connector = teams.connector
        connector.per_tenant_rate = 50  # Teams: 50 requests a second per tenant for a bot
        connector.per_conversation_rate = 7
        connector.validate_cards = False  # cards have their own tests; this one is about sending
        team_id = "19:faults@thread.tacv2"
        for n in range(members):
            connector.add_member(
                team_id, user_id=f"29:f{n}", aad_object_id=f"aad-f{n}", name=f"F{n}"
            )
        await install_in_team(teams, team_id, "Faults")
        connector.inject_faults(0.2, seed=7, hang_seconds=1.0)
        worker = tuned(teams.app.worker, attempts=12)
        async with teams.app.db.transaction() as session:
            digest = await article_and_daily_digest(session, "Faulty day")
            outcome = await start_run(session, teams.app.sealer, digest, actor=OPERATOR)
        assert outcome is not None and outcome.queued == members
        await worker.drain()

        digests_per_chat = {
            cid: sum("Faulty day" in json.dumps(activity) for activity in activities)
            for cid, activities in connector.activities.items()
        }
        reached = {cid: n for cid, n in digests_per_chat.items() if n}
        assert len(reached) == members, "every member got the digest"
        assert set(reached.values()) == {1}, "nobody got it twice"
        assert set(connector.fault_counts) == {"429", "500", "timeout"}
        assert await statuses(teams.app) == {DeliveryStatus.SENT: members}
