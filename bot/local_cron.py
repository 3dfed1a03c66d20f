"""Cron schedules on a local wall clock that daylight-saving changes neither skip nor double.

APScheduler 3's ``CronTrigger`` with a zone fires an ambiguous local time twice when the clocks
go back (01:30 on the last Sunday of October in London fires at 00:30 and 01:30 UTC). So the
cron expression is evaluated on the naive wall clock (where every time occurs once) and each wall
time is then placed on the real time line: an ambiguous time takes its first occurrence, a time
that does not exist (the hour skipped in spring) moves forward by the gap. A firing is never at or
before the previous one, so sub-hourly schedules collapse the skipped hour rather than doubling.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from bot.crontab import crontab_trigger

# The largest daylight-saving gap in use (Lord Howe is 30 minutes, the rest one hour); a wall
# time this far before ``now`` may still map to an instant after it.
LARGEST_GAP = timedelta(hours=2)
# A five-field cron fires at least once in eight years (29 February on a given weekday aside).
SEARCH_LIMIT = 10_000


def place_on_timeline(wall: datetime, zone: tzinfo) -> datetime:
    """The instant at which a naive local ``wall`` time happens in ``zone`` (DST-safe).

    ``fold=0`` (PEP 495) reads an ambiguous time as its first occurrence, and a time in the
    spring gap with the offset from before the change, which lands it after the gap by exactly
    the gap's length (01:30 in London on the last Sunday of March is 02:30 BST).
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


class LocalCronTrigger(BaseTrigger):
    """An APScheduler trigger for a five-field cron expression on ``zone``'s wall clock."""

    def __init__(self, expression: str, zone: str) -> None:
        self.expression = expression
        self.zone = ZoneInfo(zone)
        # UTC has no daylight saving: the naive wall clock, each time exactly once. Read as
        # crontab reads it (weekdays from Sunday; day-of-month or day-of-week).
        self._wall = crontab_trigger(expression, "UTC")

    def _walls_from(self, start: datetime) -> Iterator[datetime]:
        fire = self._wall.get_next_fire_time(None, start.replace(tzinfo=UTC))
        for _ in range(SEARCH_LIMIT):
            if fire is None:
                return
            yield fire.replace(tzinfo=None)
            fire = self._wall.get_next_fire_time(fire, fire + timedelta(seconds=1))

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first firing at or after ``now`` and after ``previous_fire_time``."""
        local_now = now.astimezone(self.zone).replace(tzinfo=None)
        for wall in self._walls_from(local_now - LARGEST_GAP):
            instant = place_on_timeline(wall, self.zone)
            if instant < now or (previous_fire_time is not None and instant <= previous_fire_time):
                continue
            return instant.astimezone(self.zone)
        return None

    def firings(self, start: datetime, end: datetime) -> list[datetime]:
        """Every firing in [start, end], in order (UTC instants in the zone)."""
        found: list[datetime] = []
        fire = self.get_next_fire_time(None, start)
        while fire is not None and fire <= end:
            found.append(fire)
            fire = self.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        return found

    def previous_fire_time(self, before: datetime, window: timedelta) -> datetime | None:
        """The latest firing strictly before ``before``, looking back at most ``window``."""
        earlier = self.firings(before - window, before - timedelta(microseconds=1))
        return earlier[-1] if earlier else None

    def __str__(self) -> str:
        return f"cron[{self.expression}] in {self.zone.key}"

    def __repr__(self) -> str:
        return f"<LocalCronTrigger {self.expression!r} {self.zone.key}>"
