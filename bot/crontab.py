"""Five-field cron expressions read as crontab reads them, on APScheduler's cron fields.

People paste crontab lines. APScheduler 3 numbers weekdays from Monday (0 = Monday), so its
``from_crontab`` fired ``1-5`` Tuesday to Saturday and refused ``7``. Crontab numbers them from
Sunday (0 and 7 both Sunday), and when both day-of-month and day-of-week are restricted (neither
starts with ``*``) a day matches when either does (``0 9 1 * mon``: the 1st, and every Monday).
Here the weekday field is turned into day names APScheduler cannot misread, and the "either"
rule into two triggers, whichever fires first.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.i18n import _

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
LAST_WEEKDAY = 7  # crontab accepts 7 for Sunday, as 0


def crontab_trigger(expression: str, zone: str = "UTC") -> BaseTrigger:
    """An APScheduler trigger firing exactly when crontab would fire ``expression``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            _("expected five fields (minute hour day month weekday), got {count}").format(
                count=len(fields)
            )
        )
    minute, hour, day, month, weekday = fields
    days_of_week = ",".join(DAY_NAMES[n] for n in sorted(weekdays(weekday)))
    timezone = ZoneInfo(zone)
    common = {"minute": minute, "hour": hour, "month": month, "timezone": timezone}
    if day.startswith("*") or weekday.startswith("*"):
        return CronTrigger(day=day, day_of_week=days_of_week, **common)
    return OrTrigger(
        [
            CronTrigger(day=day, **common),
            CronTrigger(day_of_week=days_of_week, **common),
        ]
    )


def weekdays(field: str) -> set[int]:
    """The days a crontab weekday field names, 0 = Sunday … 6 = Saturday (7 folded to 0)."""
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _slash, step_text = part.partition("/")
        step = _number(step_text, "step") if step_text else 1
        if step < 1:
            raise ValueError(_("the weekday step in '{part}' must be 1 or more").format(part=part))
        if span in ("*", "?"):
            first, last = 0, 6
        elif "-" in span:
            start, _dash, end = span.partition("-")
            first, last = _weekday(start), _weekday(end)
            if last < first:
                raise ValueError(_("the weekday range '{span}' runs backwards").format(span=span))
        else:
            first = _weekday(span)
            last = LAST_WEEKDAY if step_text else first
        days.update(n % 7 for n in range(first, last + 1, step))
    return days


def _weekday(text: str) -> int:
    if text in DAY_NAMES:
        return DAY_NAMES.index(text)
    value = _number(text, "weekday")
    if not 0 <= value <= LAST_WEEKDAY:
        raise ValueError(
            _("weekday {value} is out of range (0-7, 0 and 7 are Sunday)").format(value=value)
        )
    return value


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        if what == "step":
            raise ValueError(_("'{text}' is not a step (0-7 or sun-sat)").format(text=text))
        raise ValueError(_("'{text}' is not a weekday (0-7 or sun-sat)").format(text=text))
    return int(text)
