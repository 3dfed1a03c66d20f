"""Dates and numbers as the console's pages show them, in the language being spoken.

Registered as Jinja filters (``bot/console/web.py``): ``{{ item.expires_at | date }}`` reads
"6 Dec 2026" in English, "06.12.2026" in German and "2026/12/06" in Japanese, where a
``strftime('%d %b %Y')`` would say "Dec" to everyone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel import dates, numbers
from markupsafe import Markup

from bot.errors import DomainError
from bot.i18n import current_locale
from bot.i18n.formats import format_date, format_number, format_percent, format_signed
from bot.services.rollups import parse_period


def _aware(value: datetime) -> datetime:
    """A stored time without a zone is UTC (SQLite gives them back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dates.UTC)


def day_month(value: date | datetime) -> str:
    """``7 Dec`` / ``7. Dez.`` / ``12月7日``: a day in a period the page names the year of."""
    return dates.format_skeleton("MMMd", value, locale=current_locale())


def _with_time(day: str, value: datetime) -> str:
    """A day and a time joined the way the language joins them (CLDR's date-time pattern)."""
    # A 24-hour clock in every language (16:00, as the console always showed; not 4:00 PM).
    clock = dates.format_skeleton("Hm", _aware(value), locale=current_locale())
    pattern = dates.get_datetime_format("short", locale=current_locale())
    return str(pattern).replace("{1}", day).replace("{0}", clock)


def day_month_time(value: datetime) -> str:
    """``7 Dec, 09:00`` / ``7. Dez., 09:00`` / ``12月7日 9:00`` (in the time's own zone)."""
    return _with_time(day_month(_aware(value)), value)


def full_time(value: datetime) -> str:
    """``Mon, 7 Dec 2026, 09:00 CET``: a firing time, with its zone's abbreviation."""
    value = _aware(value)
    day = dates.format_skeleton("yMMMEd", value, locale=current_locale())
    return f"{_with_time(day, value)} {value.tzname() or ''}".rstrip()


def period(text: str) -> str:
    """A page's period (``?since=30d``) as words: ``30 days`` / ``30 Tage`` / ``30 日間``; days
    throughout, so that the menu's choices read alike (not "3 months" beside "30 days")."""
    try:
        delta = parse_period(text)
    except DomainError:
        return text
    if delta is None:
        return text
    return dates.format_timedelta(
        delta, granularity="day", threshold=100_000, locale=current_locale()
    )


def day(value: date | datetime) -> str:
    return format_date(value, "medium")


def signed(value: float, digits: int = 2) -> str:
    return format_signed(value, digits)


def percent(ratio: float) -> str:
    return format_percent(ratio)


def number(value: int | float) -> str:
    return format_number(value)


def one_decimal(value: float) -> str:
    """``2.0`` / ``2,0``: a usual rate, with its one decimal kept."""
    return numbers.format_decimal(value, format="#,##0.0", locale=current_locale())


def bdi(text: object) -> Markup:
    """People's words inside a translated sentence, isolated so that a right-to-left name does
    not reorder the words around it (``<bdi>``), escaped."""
    return Markup("<bdi>{}</bdi>").format(text)


def auto_dir(text: object) -> Markup:
    """A longer text of people's inside a sentence: its own direction, escaped."""
    return Markup('<span dir="auto">{}</span>').format(text)


def code(text: object) -> Markup:
    """A command or address inside a sentence, as it is typed."""
    return Markup("<code>{}</code>").format(text)


def strong_bad(text: object) -> Markup:
    """The words of a sentence that say what is bad, in the chart's red."""
    return Markup('<strong class="bad">{}</strong>').format(text)


FILTERS: dict[str, Any] = {
    "bdi": bdi,
    "code": code,
    "strong_bad": strong_bad,
    "auto_dir": auto_dir,
    "date": day,
    "day_month": day_month,
    "day_month_time": day_month_time,
    "full_time": full_time,
    "number": number,
    "one_decimal": one_decimal,
    "period": period,
    "percent": percent,
    "signed": signed,
}
