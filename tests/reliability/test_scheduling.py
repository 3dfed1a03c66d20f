"""Scheduling a company can rely on: daylight saving, each reader's own clock, what members chose,
missed firings, and schedule changes that take effect without a restart."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.app import Application
from bot.domain import Role
from bot.errors import InvalidInput
from bot.local_cron import LocalCronTrigger
from bot.scheduler import DigestScheduler
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest, delete_digest, edit_digest, set_digest_enabled
from bot.services.members import add_member
from bot.services.permissions import OPERATOR
from bot.services.preferences import (
    PreferenceChange,
    apply_preferences,
    parse_preference_words,
    quiet_until,
)
from bot.storage.models import Delivery, Digest, DigestRun, Member
from bot.storage.types import utcnow

LONDON = ZoneInfo("Europe/London")


def local_days(firings: list[datetime], zone: ZoneInfo) -> list[str]:
    return [f.astimezone(zone).strftime("%m-%d %H:%M") for f in firings]


@pytest.mark.parametrize(
    ("cron", "start", "expected"),
    [
        # The clocks go back at 02:00 BST on 25 October 2026: 01:30 happens twice that night.
        (
            "30 1 * * *",
            datetime(2026, 10, 23, 12, tzinfo=UTC),
            ["10-24 01:30", "10-25 01:30", "10-26 01:30", "10-27 01:30"],
        ),
        # The clocks go forward at 01:00 GMT on 29 March 2026: 01:30 does not exist that night.
        (
            "30 1 * * *",
            datetime(2026, 3, 27, 12, tzinfo=UTC),
            ["03-28 01:30", "03-29 02:30", "03-30 01:30", "03-31 01:30"],
        ),
        # An ordinary morning time is untouched by either change.
        (
            "0 9 * * *",
            datetime(2026, 10, 23, 12, tzinfo=UTC),
            ["10-24 09:00", "10-25 09:00", "10-26 09:00", "10-27 09:00"],
        ),
    ],
)
def test_daylight_saving_neither_skips_nor_doubles_a_daily_digest(
    cron: str, start: datetime, expected: list[str]
) -> None:
    trigger = LocalCronTrigger(cron, "Europe/London")
    firings = trigger.firings(start, start + timedelta(days=4))
    assert local_days(firings, LONDON) == expected
    assert len(set(firings)) == len(firings) == 4
    # Each firing is found again from just before it: the scheduler and a restart agree.
    for fire in firings:
        assert trigger.get_next_fire_time(None, fire - timedelta(seconds=1)) == fire


def test_the_trigger_looks_back_to_the_previous_firing_on_the_same_clock() -> None:
    trigger = LocalCronTrigger("0 9 * * mon-fri", "America/New_York")
    monday = datetime(2026, 3, 9, 13, tzinfo=UTC)  # 09:00 EDT, the day after the change
    previous = trigger.previous_fire_time(monday, timedelta(days=8))
    assert previous is not None
    assert previous.astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M %z") == (
        "Fri 09:00 -0500"
    )


async def member(app: Application, user_id: str, zone: str = "UTC", **prefs: object) -> Member:
    async with app.db.transaction() as session:
        found = await add_member(
            session,
            OPERATOR,
            "remote",
            user_id,
            name=user_id.title(),
            timezone=zone,
            platforms=app.registry.platforms,
        )
        if prefs:
            await apply_preferences(session, found, PreferenceChange(**prefs))  # type: ignore[arg-type]
        return found


async def content_digest(app: Application, **overrides: object) -> Digest:
    values: dict[str, object] = {
        "kind": "content",
        "audience": "all",
        "cron": "0 9 * * *",
        "timezone": "Europe/Paris",
    }
    values.update(overrides)
    async with app.db.transaction() as session:
        await add_content(
            session, OPERATOR, f"https://example.com/{len(str(overrides))}", title="An article"
        )
        return await add_digest(session, OPERATOR, "morning", **values)  # type: ignore[arg-type]


async def new_article(app: Application, slug: str) -> None:
    async with app.db.transaction() as session:
        await add_content(session, OPERATOR, f"https://example.com/{slug}", title=slug)


async def recipients_of(app: Application, run_id: int) -> dict[str, Delivery]:
    async with app.db.transaction() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.run_id == run_id))
        return {row.recipient: row for row in rows}


async def fire(app: Application, digest: Digest, when: datetime, zone: str | None = None):
    async with app.db.transaction() as session:
        fresh = await session.get(Digest, digest.id)
        assert fresh is not None
        return await start_run(
            session,
            app.sealer,
            fresh,
            actor=OPERATOR,
            trigger="schedule",
            scheduled_for=when,
            composers=app.extensions.composers,
            zone=zone,
        )


async def test_a_local_time_digest_reaches_each_reader_at_their_own_nine(
    app: Application,
) -> None:
    await member(app, "paris", "Europe/Paris")
    await member(app, "berlin", "Europe/Berlin")
    await member(app, "newyork", "America/New_York")
    digest = await content_digest(app, local_time=True)
    day = (utcnow() - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    paris_nine = LocalCronTrigger("0 9 * * *", "Europe/Paris").get_next_fire_time(None, day)
    ny_nine = LocalCronTrigger("0 9 * * *", "America/New_York").get_next_fire_time(None, day)
    assert paris_nine is not None and ny_nine is not None

    europe = await fire(app, digest, paris_nine, "Europe/Paris")
    assert europe is not None
    assert set(await recipients_of(app, europe.run.id)) == {"paris", "berlin"}
    assert "1 in other time zones" in europe.run.note
    # Berlin's job fires at the same instant: that firing is already handled, nobody twice.
    assert await fire(app, digest, paris_nine, "Europe/Berlin") is None

    america = await fire(app, digest, ny_nine, "America/New_York")
    assert america is not None
    assert set(await recipients_of(app, america.run.id)) == {"newyork"}


async def test_local_time_is_refused_for_a_channel(app: Application) -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        await content_digest(app, local_time=True, audience="channel:remote:C1")


async def test_muted_and_weekly_members_get_what_they_chose(app: Application) -> None:
    await member(app, "daily")
    await member(app, "muted", mute=("content",))
    await member(app, "weekly", cadence="weekly")
    digest = await content_digest(app)
    now = utcnow()

    first = await fire(app, digest, now - timedelta(days=1))
    assert first is not None
    assert set(await recipients_of(app, first.run.id)) == {"daily", "weekly"}
    assert "1 muted this kind" in first.run.note
    await new_article(app, "tuesday")
    second = await fire(app, digest, now)
    assert second is not None
    assert set(await recipients_of(app, second.run.id)) == {"daily"}
    assert "1 weekly not due yet" in second.run.note

    # A week later the weekly member is due again.
    async with app.db.transaction() as session:
        for delivery in await session.scalars(select(Delivery)):
            delivery.created_at -= timedelta(days=7)
    await new_article(app, "next-week")
    third = await fire(app, digest, now + timedelta(minutes=1))
    assert third is not None
    assert "weekly" in await recipients_of(app, third.run.id)


async def test_quiet_hours_hold_a_delivery_until_they_end(app: Application) -> None:
    await member(app, "night", "Asia/Tokyo", quiet_hours="22:00-07:00")
    await member(app, "awake", "Asia/Tokyo")
    digest = await content_digest(app)
    outcome = await fire(app, digest, utcnow())
    assert outcome is not None
    deliveries = await recipients_of(app, outcome.run.id)
    async with app.db.transaction() as session:
        night = (await session.scalars(select(Member).where(Member.display_name == "Night"))).one()
    held_until = quiet_until(night, utcnow())
    if held_until is None:  # it is daytime in Tokyo now
        assert deliveries["night"].next_attempt_at <= utcnow()
    else:
        assert deliveries["night"].next_attempt_at == held_until
    assert deliveries["awake"].next_attempt_at <= utcnow()


def test_quiet_hours_end_at_the_local_time_whatever_the_date() -> None:
    sleeper = Member(display_name="S", timezone="Europe/London", quiet_hours="22:00-07:00")
    # 23:30 UTC on 24 October is 00:30 BST; the night includes the clocks going back.
    held = quiet_until(sleeper, datetime(2026, 10, 24, 23, 30, tzinfo=UTC))
    assert held is not None and held.astimezone(LONDON).strftime("%d %H:%M %Z") == "25 07:00 GMT"
    assert quiet_until(sleeper, datetime(2026, 10, 25, 12, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("words", "error"),
    [
        (["mute"], "Which digests"),
        (["mute", "newsletter"], "digest kind"),
        (["quiet", "25:00-07:00"], "22:00-07:00"),
        (["sometimes"], "Unknown preference"),
    ],
)
def test_bad_preferences_get_a_clear_error(words: list[str], error: str) -> None:
    with pytest.raises(InvalidInput, match=error):
        change = parse_preference_words(words)
        if change.quiet_hours:
            from bot.services.preferences import parse_quiet_hours

            parse_quiet_hours(change.quiet_hours)


async def test_schedule_changes_take_effect_without_a_restart(app: Application) -> None:
    async with app.db.transaction() as session:
        await add_member(
            session,
            OPERATOR,
            "remote",
            "dana",
            role=Role.STRATEGIST,
            platforms=app.registry.platforms,
        )
    digest = await content_digest(app)
    scheduler = DigestScheduler(app.db, app.sealer, refresh_seconds=3600)
    await scheduler.start()
    try:
        assert scheduler.scheduler is not None
        job = scheduler.scheduler.get_job(f"digest:{digest.id}")
        assert job is not None
        assert job.next_run_time.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") == "09:00"

        async with app.db.transaction() as session:
            await edit_digest(
                session, OPERATOR, "morning", cron="30 7 * * *", timezone="Asia/Tokyo"
            )
        await scheduler.refresh()
        job = scheduler.scheduler.get_job(f"digest:{digest.id}")
        assert job.next_run_time.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "07:30"

        async with app.db.transaction() as session:
            await set_digest_enabled(session, OPERATOR, "morning", False)
        await scheduler.refresh()
        assert scheduler.scheduler.get_job(f"digest:{digest.id}") is None

        async with app.db.transaction() as session:
            await set_digest_enabled(session, OPERATOR, "morning", True)
            await edit_digest(session, OPERATOR, "morning", local_time=True)
        await member(app, "tokyo", "Asia/Tokyo")
        await scheduler.refresh()
        jobs = {job.id for job in scheduler.scheduler.get_jobs()} - {"refresh"}
        assert jobs == {f"digest:{digest.id}@Asia/Tokyo", f"digest:{digest.id}@UTC"}

        async with app.db.transaction() as session:
            await delete_digest(session, OPERATOR, "morning")
        await scheduler.refresh()
        assert {job.id for job in scheduler.scheduler.get_jobs()} == {"refresh"}
    finally:
        await scheduler.stop()


async def daily_at(app: Application, missed_ago: timedelta, down_for: timedelta) -> datetime:
    """A daily digest whose last firing was ``missed_ago``, unchanged for ``down_for`` while no
    scheduler ran; returns that missed firing."""
    await member(app, "alice")
    missed = (utcnow() - missed_ago).replace(second=0, microsecond=0)
    digest = await content_digest(app, cron=f"{missed.minute} {missed.hour} * * *", timezone="UTC")
    async with app.db.transaction() as session:
        await session.execute(
            update(Digest).values(updated_at=utcnow() - down_for).where(Digest.id == digest.id)
        )
    return missed


async def start_and_stop_scheduler(app: Application) -> None:
    scheduler = DigestScheduler(app.db, app.sealer, grace=timedelta(hours=1))
    await scheduler.start()
    await scheduler.stop()


async def test_a_firing_missed_while_down_is_sent_once_within_the_grace_time(
    app: Application, caplog: pytest.LogCaptureFixture
) -> None:
    missed = await daily_at(app, timedelta(minutes=20), down_for=timedelta(days=3))
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    await start_and_stop_scheduler(app)
    await start_and_stop_scheduler(app)  # a second start (another leader) finds it handled
    async with app.db.transaction() as session:
        runs = list(await session.scalars(select(DigestRun)))
    assert [run.scheduled_for for run in runs] == [missed]
    assert "missed 3 firing(s)" in caplog.text  # three days down, the latest one sent
    assert "coalesced" in caplog.text


async def test_a_firing_older_than_the_grace_time_is_logged_not_sent(
    app: Application, caplog: pytest.LogCaptureFixture
) -> None:
    await daily_at(app, timedelta(hours=3), down_for=timedelta(hours=4))
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    await start_and_stop_scheduler(app)
    async with app.db.transaction() as session:
        assert list(await session.scalars(select(DigestRun))) == []
    assert "older than the grace time (60 min), so not sent" in caplog.text
    assert "advocacy digest run 'morning'" in caplog.text
