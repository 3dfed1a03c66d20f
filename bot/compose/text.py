"""Small text helpers for composers."""

from __future__ import annotations

from datetime import timedelta


def truncate(text: str, limit: int) -> str:
    value = " ".join(text.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def plural(count: int, word: str, plural_word: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural_word or word + 's')}"


def humanise_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "–"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return plural(max(1, seconds // 60), "minute")
    if seconds < 86_400 * 2:
        return plural(seconds // 3600, "hour")
    return plural(seconds // 86_400, "day")


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def with_article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
