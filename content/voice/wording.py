"""Lengths of time, days and moments in customer-voice messages, in the language being spoken.

English keeps the wording these messages always had ("7 days", "6 Dec 2026", "10 Mar 00:00");
other languages get their own forms from Babel's CLDR data ("7 Tage", "06.12.2026", "3月10日 0:00").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel import dates

from bot.i18n import ENGLISH, current_locale, ngettext
from bot.i18n.formats import format_date, format_number


def duration(delta: timedelta) -> str:
    """``45 minutes``, ``36 hours``, ``7 days``: minutes under an hour, hours under two days."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        count = max(1, seconds // 60)
        return ngettext("{count} minute", "{count} minutes", count).format(count=count)
    if seconds < 86_400 * 2:
        count = seconds // 3600
        return ngettext("{count} hour", "{count} hours", count).format(count=count)
    count = seconds // 86_400
    return ngettext("{count} day", "{count} days", count).format(count=format_number(count))


def day(moment: datetime) -> str:
    """``6 Dec 2026`` / ``06.12.2026`` / ``2026/12/06`` (``moment`` already in its zone)."""
    if current_locale() == ENGLISH:
        return f"{moment.day} {moment:%b %Y}"
    return format_date(moment)


def day_and_time(moment: datetime) -> str:
    """``10 Mar 00:00`` / ``10. März, 00:00`` / ``3月10日 0:00`` (``moment`` in its zone)."""
    if current_locale() == ENGLISH:
        return f"{moment:%d %b %H:%M}"
    return dates.format_skeleton("MMMdHm", moment, locale=current_locale())


def day_time_and_year(moment: datetime) -> str:
    """``06 Dec 2026 14:00`` / ``06.12.2026, 14:00``."""
    if current_locale() == ENGLISH:
        return f"{moment:%d %b %Y %H:%M}"
    return dates.format_skeleton("yMMMdHm", moment, locale=current_locale())
