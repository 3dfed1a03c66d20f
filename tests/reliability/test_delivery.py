"""The outbox worker: order per conversation, Retry-After, backoff, dead letters and leases."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import Application
from bot.domain import DeliveryStatus, RunStatus
from bot.messages import Message
from bot.outbox.queue import Recipient, enqueue
from bot.outbox.worker import backoff_seconds
from bot.platform import DeliveryError
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.members import get_member
from bot.services.permissions import OPERATOR
from bot.services.suggestions import answer_suggestion, file_suggestion
from bot.storage.models import Delivery, DigestRun
from bot.storage.types import utcnow
from tests.conftest import make_member
from tests.fakes import RemotePlatform


async def queue(app: Application, *texts: str, user: str = "alice") -> None:
    async with app.db.transaction() as session:
        for text in texts:
            await enqueue(
                session, Message.text(text), [Recipient("remote", user)], sealer=app.sealer
            )


async def deliveries(app: Application) -> list[Delivery]:
    async with app.db.transaction() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def test_messages_to_one_conversation_keep_their_order(
    app: Application, remote: RemotePlatform
) -> None:
    await queue(app, *(f"m{i}" for i in range(12)))
    await queue(app, "other", user="bob")
    assert app.worker is not None
    stats = await app.worker.drain()
    assert stats.sent["remote"] == 13
    to_alice = [s.message.fallback for s in remote.sent if s.target.recipient == "alice"]
    assert to_alice == [f"m{i}" for i in range(12)]
    assert all(d.status == DeliveryStatus.SENT and d.platform_ref for d in await deliveries(app))


async def test_a_rate_limit_is_retried_no_sooner_than_retry_after(
    app: Application, remote: RemotePlatform
) -> None:
    await queue(app, "hello")
    remote.fail_next(DeliveryError("429 rate limited", retry_after=30))
    assert app.worker is not None
    stats = await app.worker.drain(wait_for_retries=False)
    assert stats.retried["remote"] == 1 and remote.sent == []
    [delivery] = await deliveries(app)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at - utcnow() > timedelta(seconds=28)
    assert "429" in (delivery.last_error or "")


async def test_failures_are_retried_then_dead_lettered_never_dropped(
    app: Application, remote: RemotePlatform
) -> None:
    await queue(app, "hello")
    remote.fail_next(*(DeliveryError("500 server error") for _ in range(5)))
    assert app.worker is not None
    for _ in range(app.settings.delivery_max_attempts):
        async with app.db.transaction() as session:
            await session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        await app.worker.drain(wait_for_retries=False)
    [delivery] = await deliveries(app)
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.attempts == app.settings.delivery_max_attempts
    assert delivery.last_error == "500 server error"
    metrics = app.metrics.render().decode()
    assert 'advocacy_deliveries_total{platform="remote",status="dead"} 1.0' in metrics
    assert 'advocacy_deliveries_total{platform="remote",status="retried"} 2.0' in metrics


async def test_a_permanent_error_dead_letters_at_once(
    app: Application, remote: RemotePlatform
) -> None:
    await queue(app, "hello")
    remote.fail_next(DeliveryError("channel_not_found", permanent=True))
    assert app.worker is not None
    await app.worker.drain()
    [delivery] = await deliveries(app)
    assert delivery.status == DeliveryStatus.DEAD and delivery.attempts == 1


async def test_a_refused_token_holds_the_platform_instead_of_failing_every_delivery(
    app: Application, remote: RemotePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong or revoked token: one error line, nothing dead-lettered, no attempt used up;
    sent once the hold is over (the token fixed)."""
    await queue(app, *(f"m{i}" for i in range(6)))
    remote.fail_next(*(DeliveryError("bad token", platform_down=True) for _ in range(3)))
    assert app.worker is not None
    with caplog.at_level(logging.ERROR, logger="bot.outbox.worker"):
        stats = await app.worker.drain(wait_for_retries=False)
    assert stats.dead["remote"] == 0 and remote.sent == []
    assert [r.getMessage() for r in caplog.records if "holding its deliveries" in r.message] == [
        caplog.records[0].getMessage()
    ] and "remote: bad token" in caplog.records[0].getMessage()
    held = await deliveries(app)
    assert {(d.status, d.attempts) for d in held} == {(DeliveryStatus.PENDING, 0)}
    assert all(d.last_error == "held: bad token" for d in held)
    assert all(d.next_attempt_at - utcnow() > timedelta(minutes=4) for d in held)

    remote.failures.clear()  # the token is fixed (sends already held never reached it)
    app.worker.held.clear()  # and the hold is over
    async with app.db.transaction() as session:
        await session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    await app.worker.drain(wait_for_retries=False)
    assert sorted(s.message.fallback for s in remote.sent) == [f"m{i}" for i in range(6)]


async def test_a_delivery_left_in_flight_by_a_dead_process_is_sent_after_its_lease(
    app: Application, remote: RemotePlatform
) -> None:
    await queue(app, "one", "two")
    async with app.db.transaction() as session:  # as if a process claimed both, then died
        await session.execute(
            update(Delivery).values(
                status=DeliveryStatus.SENDING, lease_until=utcnow() + timedelta(minutes=5)
            )
        )
    assert app.worker is not None
    assert (await app.worker.drain(wait_for_retries=False)).processed == 0
    async with app.db.transaction() as session:
        await session.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
    stats = await app.worker.drain(wait_for_retries=False)
    assert stats.sent["remote"] == 2
    assert [s.message.fallback for s in remote.sent] == ["one", "two"]


async def test_a_run_is_marked_done_when_its_deliveries_are_finished(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/x", title="X")
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        outcome = await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert outcome is not None
    assert app.worker is not None
    await app.worker.drain(run_id=outcome.run.id)
    async with app.db.transaction() as session:
        run = await session.get(DigestRun, outcome.run.id)
    assert run is not None and run.status == RunStatus.DONE and run.finished_at is not None


def test_backoff_grows_and_honours_retry_after() -> None:
    assert 1.0 <= backoff_seconds(1) <= 2.0
    assert 8.0 <= backoff_seconds(4) <= 16.0
    assert backoff_seconds(30) <= 900.0
    assert backoff_seconds(1, retry_after=120) == 120


def test_the_pacer_spaces_each_key_and_leaves_other_keys_free() -> None:
    from itertools import pairwise

    from bot.ratelimit import Pacer

    pacer = Pacer(rate=7)
    waits = [pacer.reserve("conversation-a") for _ in range(8)]
    assert waits[0] == 0
    # Each next message waits one more seventh of a second: 7 a second, never a burst.
    assert all(abs((later - earlier) - 1 / 7) < 0.01 for earlier, later in pairwise(waits))
    assert pacer.reserve("conversation-b") == 0


async def test_a_failed_sealed_notice_keeps_no_address_of_its_recipient(
    app: Application, remote: RemotePlatform
) -> None:
    """A platform's error can name the conversation it failed to reach (a Teams request URL, a
    Slack DM channel). For an anonymous author's notice, that would write down who she is."""
    await make_member(app, "author")
    async with app.db.transaction() as session:
        author = await get_member(session, "remote", "author")
        idea = await file_suggestion(
            session, app.sealer, author, "Publish the rota", platform="remote", anonymous=True
        )
        await answer_suggestion(session, app.sealer, OPERATOR, idea.id, "Done", status="planned")
    remote.fail_next(
        DeliveryError(
            "Teams did not answer: url: /v3/conversations/a:1AuthorsOwnChat/activities "
            "and channel D0AUTHOR123",
            permanent=True,
        )
    )
    await app.worker.drain(wait_for_retries=False)
    async with app.db.transaction() as session:
        [notice] = list(
            await session.scalars(select(Delivery).where(Delivery.sealed_recipient.is_not(None)))
        )
    assert notice.status == "dead"
    assert "a:1AuthorsOwnChat" not in notice.last_error
    assert "D0AUTHOR123" not in notice.last_error
    assert notice.last_error.startswith("Teams did not answer")


def test_slack_and_teams_say_when_the_token_itself_is_refused() -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from adapters.slack.adapter import _delivery_error
    from adapters.teams.errors import delivery_error

    def slack(code: str) -> DeliveryError:
        response = AsyncSlackResponse(
            client=None,  # type: ignore[arg-type]
            http_verb="POST",
            api_url="https://slack.com/api/chat.postMessage",
            req_args={},
            data={"ok": False, "error": code},
            headers={},
            status_code=200,
        )
        return _delivery_error(SlackApiError(code, response))

    assert slack("invalid_auth").platform_down and slack("token_revoked").platform_down
    assert not slack("user_not_found").platform_down and slack("user_not_found").permanent

    class Refused(Exception):
        def __init__(self, status: int) -> None:
            self.response = type("Response", (), {"status_code": status, "headers": {}})()

    teams = delivery_error(Refused(401))
    assert isinstance(teams, DeliveryError) and teams.platform_down
    forbidden = delivery_error(Refused(403))
    assert isinstance(forbidden, DeliveryError) and forbidden.permanent
    assert not forbidden.platform_down
