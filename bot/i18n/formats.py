"""Dates, times, numbers and "3 days ago" in the language being spoken (Babel's CLDR data).

Composers call these instead of ``strftime`` or ``f"{n:,}"``: "Dec 6, 2026" in English is
"06.12.2026" in German and "2026/12/06" in Japanese, and 1,234 is 1.234 in German.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers

from bot.i18n.context import current_locale


def _zone(zone: str | None) -> ZoneInfo | None:
    return ZoneInfo(zone) if zone else None


def format_date(value: date | datetime, form: str = "medium", zone: str | None = None) -> str:
    """``6 Dec 2026`` / ``06.12.2026`` / ``2026/12/06``; a datetime is first put in ``zone``."""
    if isinstance(value, datetime) and zone:
        value = value.astimezone(ZoneInfo(zone))
    return dates.format_date(value, format=form, locale=current_locale())


def format_day(value: date | datetime, zone: str | None = None) -> str:
    """A short day for headings: ``Mon 7 Dec`` / ``Mo., 7. Dez.`` / ``12月7日(月)``."""
    if isinstance(value, datetime) and zone:
        value = value.astimezone(ZoneInfo(zone))
    return dates.format_skeleton("MMMEd", value, locale=current_locale())


def format_datetime(value: datetime, form: str = "medium", zone: str | None = None) -> str:
    return dates.format_datetime(value, format=form, tzinfo=_zone(zone), locale=current_locale())


def format_time(value: datetime, form: str = "short", zone: str | None = None) -> str:
    return dates.format_time(value, format=form, tzinfo=_zone(zone), locale=current_locale())


def format_relative(delta: timedelta, granularity: str = "minute") -> str:
    """``3 days ago`` / ``vor 3 Tagen`` / ``3 日前`` (``delta`` negative = in the past)."""
    return dates.format_timedelta(
        delta, granularity=granularity, add_direction=True, locale=current_locale()
    )


def format_duration(delta: timedelta, granularity: str = "minute") -> str:
    """``3 days`` / ``3 Tage`` / ``3 日間``: a length of time, no direction."""
    return dates.format_timedelta(delta, granularity=granularity, locale=current_locale())


def format_number(value: int | float) -> str:
    return numbers.format_decimal(value, locale=current_locale())


def format_percent(ratio: float) -> str:
    """``0.42`` -> ``42%`` / ``42 %`` / ``42%``."""
    return numbers.format_percent(ratio, locale=current_locale())


def format_signed(value: float, digits: int = 2) -> str:
    """A sentiment or change with its sign: ``+0.42`` / ``+0,42``."""
    pattern = "+0." + "0" * digits + ";-0." + "0" * digits if digits else "+0;-0"
    return numbers.format_decimal(value, format=pattern, locale=current_locale())


def format_day_time(
    value: datetime, day: str = "MMMEd", clock: str = "Hm", zone: str | None = None
) -> str:
    """A day and a time of day: ``Mon, Dec 7, 09:00`` / ``Mo., 7. Dez., 09:00`` /
    ``12月7日(月) 9:00``. CLDR has no skeleton for both together (Babel raises KeyError for
    ``MMMEdHm``): each part is formatted alone and joined by the language's own pattern."""
    if zone:
        value = value.astimezone(ZoneInfo(zone))
    locale = Locale.parse(current_locale())
    day_text = dates.format_skeleton(day, value, tzinfo=value.tzinfo, locale=locale)
    clock_text = dates.format_skeleton(clock, value, tzinfo=value.tzinfo, locale=locale)
    pattern = str(locale.datetime_formats.get("medium", "{1} {0}"))
    return pattern.replace("{1}", day_text).replace("{0}", clock_text)


# Languages whose sentences follow each other with no space ("…ました。提案者に…").
_NO_SPACE_BETWEEN_SENTENCES = ("ja",)


def join_sentences(*sentences: str) -> str:
    """Sentences one after another, as the language spoken writes them: a space between them,
    none in Japanese (a space after "。" reads as a stray gap). Empty ones are left out."""
    glue = "" if current_locale() in _NO_SPACE_BETWEEN_SENTENCES else " "
    return glue.join(part.strip() for part in sentences if part and part.strip())
