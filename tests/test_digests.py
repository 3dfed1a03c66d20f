"""Digest schedules and runs: validation, composition, audiences and once-only firings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.domain import DigestKind, Role, RunStatus
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.messages import LinkButton
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest, latest_fire_time, next_fire_times
from bot.services.permissions import OPERATOR
from bot.services.suggestions import file_suggestion
from bot.services.voice import store_voice_item
from bot.storage.models import Delivery, Digest
from bot.storage.types import utcnow
from tests.conftest import make_member


async def add(app: Application, name: str = "weekly", **overrides: str) -> Digest:
    values = {
        "kind": "content",
        "audience": "all",
        "cron": "0 9 * * mon",
        "timezone": "Europe/Paris",
    }
    values.update(overrides)
    async with app.db.transaction() as session:
        return await add_digest(session, OPERATOR, name, **values)


@pytest.mark.parametrize(
    ("overrides", "hint"),
    [
        ({"cron": "0 9 * *"}, "five fields"),
        ({"cron": "0 25 * * *"}, "Bad cron"),
        ({"timezone": "Paris"}, "IANA"),
        ({"kind": "newsletter"}, "content, voice, rollup"),
        ({"audience": "everyone"}, "team:NAME"),
        ({"audience": "team:Nowhere"}, "Unknown team"),
    ],
)
async def test_bad_schedules_are_refused_with_a_hint(
    app: Application, overrides: dict[str, str], hint: str
) -> None:
    with pytest.raises((InvalidInput, NotFound)) as raised:
        await add(app, **overrides)
    assert hint in raised.value.message
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Digest.id))) == 0


async def test_only_strategists_schedule_digests(app: Application) -> None:
    alice = await make_member(app, "alice")
    dana = await make_member(app, "dana", role=Role.STRATEGIST)
    async with app.db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await add_digest(
                session,
                alice,
                "x",
                kind="content",
                audience="all",
                cron="0 9 * * *",
                timezone="UTC",
            )
        digest = await add_digest(
            session, dana, "x", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
    assert digest.created_by_id == dana.id


async def test_next_firings_follow_the_digests_time_zone_across_daylight_saving(
    app: Application,
) -> None:
    digest = await add(app, cron="0 9 * * *", timezone="Europe/Paris")
    # Paris leaves summer time on 2026-10-25: 09:00 local is 07:00 UTC before, 08:00 UTC after.
    start = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    firings = next_fire_times(digest, 2, after=start)
    assert [f.astimezone(UTC).hour for f in firings] == [8, 8]
    before = next_fire_times(digest, 1, after=datetime(2026, 10, 23, 0, 0, tzinfo=UTC))
    assert before[0].astimezone(UTC).hour == 7
    latest = latest_fire_time(digest, datetime(2026, 10, 26, 8, 30, tzinfo=UTC), timedelta(hours=1))
    assert latest == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


async def test_a_content_run_queues_one_delivery_per_member_and_only_new_items(
    app: Application,
) -> None:
    for name in ("alice", "bob", "carol"):
        await make_member(app, name)
    async with app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/a", title="A")
    digest = await add(app)
    async with app.db.transaction() as session:
        first = await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert first is not None and first.queued == 3
    async with app.db.transaction() as session:
        second = await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert second is not None and second.queued == 0
    assert second.run.status == RunStatus.SKIPPED and "content add" in second.note
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 3


async def test_a_scheduled_firing_is_queued_once(app: Application) -> None:
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/a", title="A")
    digest = await add(app)
    when = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    async with app.db.transaction() as session:
        first = await start_run(
            session, app.sealer, digest, actor=OPERATOR, trigger="schedule", scheduled_for=when
        )
    async with app.db.transaction() as session:
        again = await start_run(
            session, app.sealer, digest, actor=OPERATOR, trigger="schedule", scheduled_for=when
        )
    assert first is not None and first.queued == 1
    assert again is None


async def test_team_audience_reaches_only_that_team(app: Application) -> None:
    await make_member(app, "alice", team="Support")
    await make_member(app, "bob", team="Sales")
    async with app.db.transaction() as session:
        await add_content(session, OPERATOR, "https://example.com/a", title="A")
    digest = await add(app, audience="team:Sales")
    async with app.db.transaction() as session:
        outcome = await start_run(session, app.sealer, digest, actor=OPERATOR)
        recipients = list(await session.scalars(select(Delivery.recipient)))
    assert outcome is not None and recipients == ["bob"]


async def test_employees_cannot_send_digests(app: Application) -> None:
    alice = await make_member(app, "alice")
    digest = await add(app)
    async with app.db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await start_run(session, app.sealer, digest, actor=alice)


async def test_content_cards_carry_feedback_share_and_suggest_actions(
    app: Application, remote
) -> None:
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        await add_content(
            session,
            OPERATOR,
            "https://example.com/a?utm_source=x",
            title="A",
            share_text="Read this",
        )
    digest = await add(app)
    async with app.db.transaction() as session:
        await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert app.worker is not None
    await app.worker.drain()
    message = remote.sent[0].message
    item = message.cards[1]
    labels = [b.label for b in item.buttons]
    assert labels[:2] == ["Useful", "Not relevant"]
    assert {"Share on LinkedIn", "Share on X", "Suggest an idea", "Comment"} <= set(labels)
    shares = [b.url for b in item.buttons if isinstance(b, LinkButton) and "Share" in b.label]
    assert all(url.startswith(app.settings.public_url + "/s/") for url in shares)
    clicks = [app.links.read(url.rsplit("/", 1)[1]) for url in shares]
    assert {c.network for c in clicks if c} == {"linkedin", "x"}
    assert all(c and "example.com" in c.url and c.delivery_id for c in clicks)


async def test_voice_digest_groups_themes_and_masks_personal_data(app: Application, remote) -> None:
    await make_member(app, "alice")
    now = utcnow()
    async with app.db.transaction() as session:
        for n, (text, sentiment, theme) in enumerate(
            [
                (
                    "Invoice doubled, email me at jo@example.org or +44 20 7946 0958",
                    -0.9,
                    "billing",
                ),
                ("Billing page is clear now", 0.6, "billing"),
                ("Slow replies", -0.5, "response time"),
            ]
        ):
            await store_voice_item(
                session,
                source="helpdesk",
                external_id=str(n),
                text=text,
                sentiment=sentiment,
                themes=[theme],
                received_at=now - timedelta(days=1),
            )
        assert not await store_voice_item(session, source="helpdesk", external_id="0", text="dup")
    digest = await add(app, kind=DigestKind.VOICE)
    async with app.db.transaction() as session:
        without_content = await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert without_content is not None and without_content.queued == 0
    assert "content package" in (without_content.run.note or "")
    async with app.db.transaction() as session:
        outcome = await start_run(
            session, app.sealer, digest, actor=OPERATOR, composers=app.extensions.composers
        )
    assert outcome is not None and outcome.queued == 1
    assert app.worker is not None
    await app.worker.drain()
    cards = remote.sent[0].message.cards
    assert cards[1].title == "Billing: 2 voices"
    assert "jo@example.org" not in cards[1].text and "7946" not in cards[1].text
    assert "[email]" in cards[1].text and "[phone]" in cards[1].text


async def test_rollup_digest_goes_to_managers_with_their_own_scope(
    app: Application, remote
) -> None:
    await make_member(app, "boss", role=Role.MANAGER, team="Support")
    alice = await make_member(app, "alice", team="Support", manager="boss")
    async with app.db.transaction() as session:
        await file_suggestion(session, app.sealer, alice, "Idea", platform="remote")
    digest = await add(app, kind=DigestKind.ROLLUP)
    async with app.db.transaction() as session:
        outcome = await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert outcome is not None and outcome.queued == 1
    assert app.worker is not None
    await app.worker.drain()
    assert [s.target.recipient for s in remote.sent] == ["boss"]
    assert remote.sent[0].message.kind == "rollup"
