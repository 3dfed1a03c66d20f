"""Digest schedules and runs: validation, composition, audiences and once-only firings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.shell import ShellAdapterFactory
from bot.app import Application, open_application
from bot.domain import DigestKind, Role, RunStatus
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.messages import LinkButton
from bot.platform import AdapterRegistry, DeliveryError
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest, latest_fire_time, next_fire_times
from bot.services.permissions import OPERATOR
from bot.services.suggestions import file_suggestion
from bot.services.voice import store_voice_item
from bot.storage.models import ContentReceipt, Delivery, Digest
from bot.storage.types import utcnow
from tests.conftest import make_member
from tests.fakes import RemoteAdapterFactory


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


# ----- nobody is sent a content item twice --------------------------------------------------------


async def add_items(app: Application, *names: str) -> None:
    async with app.db.transaction() as session:
        for name in names:
            await add_content(session, OPERATOR, f"https://example.com/{name}", title=name)


async def run_content(
    app: Application, digest: Digest, *, include_sent: bool = False
) -> tuple[int, str]:
    async with app.db.transaction() as session:
        outcome = await start_run(
            session,
            app.sealer,
            digest,
            actor=OPERATOR,
            composers=app.extensions.composers,
            include_sent=include_sent,
        )
    assert outcome is not None
    return outcome.queued, outcome.note


def titles_by_recipient(remote) -> dict[str, list[str]]:
    got: dict[str, list[str]] = {}
    for sent in remote.sent:
        got.setdefault(sent.target.recipient, []).extend(c.title for c in sent.message.cards[1:])
    return {who: sorted(titles) for who, titles in got.items()}


async def test_a_second_digest_to_a_team_sends_only_what_its_members_have_not_had(
    app: Application, remote
) -> None:
    await make_member(app, "alice", team="Support")
    await make_member(app, "bob", team="Sales")
    await add_items(app, "a", "b", "c")
    everyone = await add(app, "everyone")
    assert (await run_content(app, everyone))[0] == 2
    assert app.worker is not None
    await app.worker.drain()
    remote.sent.clear()
    await add_items(app, "d")
    await make_member(app, "carol", team="Support")  # joined after the first digest
    support = await add(app, "support picks", audience="team:Support")
    queued, note = await run_content(app, support)
    await app.worker.drain()
    assert queued == 2
    assert titles_by_recipient(remote) == {"alice": ["d"], "carol": ["a", "b", "c", "d"]}
    assert "4 items in 2 selections" in note


async def test_someone_who_had_everything_is_sent_no_empty_digest(app: Application, remote) -> None:
    await make_member(app, "alice")
    await add_items(app, "a")
    digest = await add(app)
    await run_content(app, digest)
    await make_member(app, "bob")
    queued, note = await run_content(app, digest)
    assert queued == 1 and "1 recipient had every item already" in note
    queued, note = await run_content(app, digest)
    assert queued == 0 and "already had every approved item" in note
    assert app.worker is not None
    await app.worker.drain()
    assert titles_by_recipient(remote) == {"alice": ["a"], "bob": ["a"]}


async def test_items_of_a_dead_lettered_delivery_count_as_not_received(
    app: Application, remote
) -> None:
    await make_member(app, "alice")
    await make_member(app, "bob")
    await add_items(app, "a", "b")
    digest = await add(app)
    await run_content(app, digest)
    remote.fail_next(DeliveryError("user_not_found", permanent=True))
    assert app.worker is not None
    stats = await app.worker.drain()
    assert sum(stats.dead.values()) == 1
    (missed,) = {"alice", "bob"} - set(titles_by_recipient(remote))
    remote.sent.clear()
    assert (await run_content(app, digest))[0] == 1
    await app.worker.drain()
    assert titles_by_recipient(remote) == {missed: ["a", "b"]}


async def test_a_run_that_fails_half_way_counts_nothing_as_sent(app: Application, remote) -> None:
    await make_member(app, "alice")
    await add_items(app, "a")
    digest = await add(app)
    with pytest.raises(RuntimeError):
        async with app.db.transaction() as session:
            await start_run(
                session, app.sealer, digest, actor=OPERATOR, composers=app.extensions.composers
            )
            raise RuntimeError("the process died before the run committed")
    assert (await run_content(app, digest))[0] == 1


async def test_what_was_sent_is_remembered_across_a_restart(settings, remote) -> None:
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    async with open_application(settings, registry=registry) as first:
        await make_member(first, "alice")
        await add_items(first, "a")
        digest = await add(first)
        assert (await run_content(first, digest))[0] == 1
    async with open_application(settings, registry=registry) as second:
        queued, note = await run_content(second, digest)
        assert queued == 0 and "already had" in note
        await add_items(second, "b")
        assert (await run_content(second, digest))[0] == 1


async def test_two_digests_run_at_once_send_each_item_once(app: Application) -> None:
    for name in ("alice", "bob", "carol"):
        await make_member(app, name, team="Support")
    await add_items(app, "a", "b", "c")
    first = await add(app, "first")
    second = await add(app, "second", audience="team:Support")
    outcomes = await asyncio.gather(run_content(app, first), run_content(app, second))
    assert sorted(queued for queued, _ in outcomes) == [0, 3]
    async with app.db.transaction() as session:
        counts = (
            await session.execute(
                select(
                    ContentReceipt.target, ContentReceipt.content_item_id, func.count()
                ).group_by(ContentReceipt.target, ContentReceipt.content_item_id)
            )
        ).all()
    assert len(counts) == 9 and {n for _, _, n in counts} == {1}


async def test_a_strategist_can_send_items_again_on_purpose(app: Application, remote) -> None:
    await make_member(app, "alice")
    await add_items(app, "a")
    digest = await add(app)
    await run_content(app, digest)
    assert (await run_content(app, digest))[0] == 0
    queued, note = await run_content(app, digest, include_sent=True)
    assert queued == 1 and "already sent included" in note
    assert app.worker is not None
    await app.worker.drain()
    assert titles_by_recipient(remote) == {"alice": ["a", "a"]}
    when = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    async with app.db.transaction() as session:
        with pytest.raises(InvalidInput):
            await start_run(
                session,
                app.sealer,
                digest,
                actor=OPERATOR,
                trigger="schedule",
                scheduled_for=when,
                include_sent=True,
            )


async def test_a_channel_digest_remembers_what_the_channel_had(app: Application, remote) -> None:
    await make_member(app, "alice")
    await add_items(app, "a")
    digest = await add(app, audience="channel:remote:C1")
    assert (await run_content(app, digest))[0] == 1
    assert (await run_content(app, digest))[0] == 0
    await add_items(app, "b")
    assert (await run_content(app, digest))[0] == 1
    assert app.worker is not None
    await app.worker.drain()
    assert titles_by_recipient(remote) == {"C1": ["a", "b"]}
