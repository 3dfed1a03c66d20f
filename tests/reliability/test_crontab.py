"""Digest schedules follow crontab exactly (weekdays from Sunday, 7 = Sunday, day-of-month OR
day-of-week when both are restricted), checked against croniter as an independent oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.crontab import weekdays
from bot.errors import InvalidInput
from bot.local_cron import LocalCronTrigger
from bot.services.digests import firing_cron

START = datetime(2026, 12, 6, 10, 7, tzinfo=UTC)  # a Sunday

TRICKY = [
    "0 9 * * 1-5",
    "0 9 * * 0",
    "0 9 * * 7",
    "0 9 * * 5-7",
    "30 8 * * sun",
    "0 9 * * mon-fri",
    "0 9 * * */2",
    "0 9 * * 1-5/2",
    "0 9 1 * mon",
    "0 9 1,15 * 0",
    "0 9 */10 * 6",
    "0 9 13 * fri",
    "15 */6 * 2 sat,sun",
    "0 0 29 2 *",
    "0 0 29 2 1",
]


def ours(expression: str, count: int) -> list[datetime]:
    trigger = LocalCronTrigger(expression, "UTC")
    found, previous, now = [], None, START
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        found.append(fire.astimezone(UTC).replace(tzinfo=None))
        previous, now = fire, fire + timedelta(microseconds=1)
    return found


def oracle(expression: str, count: int) -> list[datetime]:
    """croniter, told crontab(5)'s rule for the two day fields: "either" only when both are
    restricted, that is neither starts with "*" (croniter alone counts "*/10" as restricted)."""
    _, _, day, _, weekday = expression.split()
    either = not (day.startswith("*") or weekday.startswith("*"))
    it = croniter(expression, START.replace(tzinfo=None), day_or=either)
    return [it.get_next(datetime) for _ in range(count)]


@pytest.mark.parametrize("expression", TRICKY)
def test_schedules_fire_when_crontab_would(expression: str) -> None:
    assert ours(expression, 40) == oracle(expression, 40)


def field(stars: list[str], parts: list[str]) -> st.SearchStrategy[str]:
    """A star form alone, or a list of specific parts (a star inside a list means nothing)."""
    return st.one_of(
        st.sampled_from(stars),
        st.lists(st.sampled_from(parts), min_size=1, max_size=3).map(",".join),
    )


WEEKDAYS = field(
    ["*", "*/2", "*/3"],
    ["0", "1", "5", "6", "7", "sun", "mon", "fri", "sat", "1-5", "0-3", "4-7", "1-5/2", "mon-wed"],
)
DAYS = field(["*", "*/5"], ["1", "15", "31", "1-7", "10-20/3", "28"])


@settings(max_examples=80, deadline=None)
@given(weekday=WEEKDAYS, day=DAYS, hour=st.sampled_from(["*", "0", "9", "23", "*/7", "8-17"]))
def test_any_day_and_weekday_combination_matches_the_oracle(
    weekday: str, day: str, hour: str
) -> None:
    expression = f"5 {hour} {day} * {weekday}"
    assert ours(expression, 25) == oracle(expression, 25)


def test_bad_weekdays_are_refused_with_the_reason() -> None:
    for field, reason in (("8", "out of range"), ("fri-mon", "backwards"), ("xyz", "not a")):
        with pytest.raises(ValueError, match=reason):
            weekdays(field)
    assert weekdays("7") == weekdays("0") == {0}


@pytest.mark.parametrize("expression", ["0 9 30 2 *", "0 9 31 4,6,9,11 *", "0 0 31 2 *"])
def test_a_schedule_that_never_fires_is_refused(expression: str) -> None:
    with pytest.raises(InvalidInput, match="never fires"):
        firing_cron(expression, "Europe/Paris")


def test_rare_but_real_days_are_accepted() -> None:
    for expression in ("0 9 29 2 *", "0 9 31 4 mon", "0 9 31 * *"):
        assert firing_cron(expression, "UTC").get_next_fire_time(None, START) is not None
