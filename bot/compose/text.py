"""Small text helpers for composers, in the language being spoken."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from babel import dates

from bot.i18n import _, current_locale, ngettext
from bot.i18n.formats import format_number, format_percent


def truncate(text: str, limit: int) -> str:
    value = " ".join(text.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def plural(count: int, word: str, plural_word: str | None = None) -> str:
    """English only (the word is not translated): for the admin CLI and logs. Text for people
    uses ``ngettext`` with the whole phrase."""
    return f"{count} {word if count == 1 else (plural_word or word + 's')}"


def humanise_duration(delta: timedelta | None) -> str:
    """'12 minutes', '5 hours', '3 days' in the language being spoken."""
    if delta is None:
        return "–"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        count = max(1, seconds // 60)
        return ngettext("{count} minute", "{count} minutes", count).format(
            count=format_number(count)
        )
    if seconds < 86_400 * 2:
        count = seconds // 3600
        return ngettext("{count} hour", "{count} hours", count).format(count=format_number(count))
    count = seconds // 86_400
    return ngettext("{count} day", "{count} days", count).format(count=format_number(count))


def percent(part: int, whole: int) -> str:
    """'42%' / '42 %'; a dash when there is nothing to divide."""
    return format_percent(part / whole) if whole else "–"


def day_month(value: date | datetime) -> str:
    """A day without its year: 'Dec 6' / '6. Dez.' / '12月6日' (Babel's skeleton ``MMMd``)."""
    return dates.format_skeleton("MMMd", value, locale=current_locale())


def day_with_weekday(value: date | datetime) -> str:
    """'Mon, Dec 7, 2026' / 'Mo., 7. Dez. 2026' / '2026年12月7日(月)'."""
    return dates.format_skeleton("yMMMEd", value, locale=current_locale())


def weekday_time(value: datetime) -> str:
    """When a digest fires next: 'Mon, Dec 7, 09:00' in the value's own time zone.

    CLDR has no ``MMMEdHm`` skeleton (Babel raised KeyError for it in every language), so the
    day and the time are formatted apart and joined by the locale's own date-time pattern."""
    locale = current_locale()
    day = dates.format_skeleton("MMMEd", value, tzinfo=value.tzinfo, locale=locale)
    time = dates.format_skeleton("Hm", value, tzinfo=value.tzinfo, locale=locale)
    pattern = str(dates.get_datetime_format("medium", locale=locale))
    return pattern.replace("{1}", day).replace("{0}", time)


def with_article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def quoted(text: str) -> str:
    """People's words in the quotation marks of the language being spoken."""
    return _("“{text}”").format(text=text)
