"""Dates in customer-voice files, read one way for the whole file.

1/2/2024 is 1 February in Europe and January 2 in the US; a file is written one way. The order is
taken from the file's own unambiguous dates (13/01/2024 can only be day first, 12/31/2024 only
month first) and used for every date of the file; only when no date tells is a day first assumed,
and the import says which order it used whenever a date could be read both ways.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

DAY_FIRST = "day/month/year"
MONTH_FIRST = "month/day/year"
# 1/2/2024, 01-02-24, 1.2.2024, with a time after it or not (14:05, 14:05:33, 2:05 PM).
_NUMERIC = re.compile(
    r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp]\.?[Mm]\.?)?)?"
)
_WORDED = ("%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S")

Told = tuple[str, str, int]  # the order, the date that tells it, its line


def told_order(value: str) -> str | None:
    """The order a numeric date can only be read in (13/01/2024: day first), or None when it
    reads either way or is not one. Dotted dates (1.2.2024) are always day first: not told."""
    found = _NUMERIC.fullmatch(value.strip())
    if not found or found[2] == ".":
        return None
    first, second = int(found[1]), int(found[3])
    if first > 12 >= second:
        return DAY_FIRST
    if second > 12 >= first:
        return MONTH_FIRST
    return None


def truncate_value(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass
class DateOrder:
    """How one file's dates are read. ``decide`` finds the first date in the file that tells
    the order; it is asked only when a date that reads both ways comes before any that tells."""

    decide: Callable[[], Told | None] | None = None
    order: str | None = None
    example: str = ""  # the date that told the order ("" when none did: day first assumed)
    line: int = 0
    ambiguous: str = ""  # the first date read in this order that could be read both ways
    reading: datetime | None = None  # what it was read as

    def parse(self, value: str, line: int = 0) -> datetime:
        text = value.strip()
        if text.replace(".", "", 1).isdigit() and len(text) >= 9:
            return datetime.fromtimestamp(float(text), UTC)  # epoch seconds
        if found := _NUMERIC.fullmatch(text):
            moment = self._numeric(found, text, line)
        else:
            moment = _other(text)
        if moment is None:
            raise ValueError(f"'{truncate_value(value)}' is not a date")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def described(self) -> str:
        """What the report says when a date could be read both ways ('' otherwise)."""
        if self.reading is None:
            return ""
        if self.example:
            where = f" on line {self.line}" if self.line else ""
            return f"dates read as {self.order}, as in {self.example}{where}"
        return (
            f"dates read as {DAY_FIRST}: no date in the file tells the order "
            f"({self.ambiguous} was read as {self.reading:%-d %B %Y})"
        )

    def _numeric(self, found: re.Match[str], text: str, line: int) -> datetime | None:
        first, second = int(found[1]), int(found[3])
        told = told_order(text)
        ambiguous = found[2] != "." and first != second and first <= 12 and second <= 12
        if self.order is None and told is not None:
            self.order, self.example, self.line = told, text, line
        elif self.order is None and ambiguous:
            decided = self.decide() if self.decide else None
            self.order, self.example, self.line = decided or (DAY_FIRST, "", 0)
        order = DAY_FIRST if found[2] == "." else self.order or DAY_FIRST
        day, month = (first, second) if order == DAY_FIRST else (second, first)
        year = int(found[4]) + (2000 if len(found[4]) == 2 else 0)
        hour, minute, seconds = int(found[5] or 0), int(found[6] or 0), int(found[7] or 0)
        if found[8]:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if found[8][0] in "Pp" else 0)
        try:
            moment = datetime(year, month, day, hour, minute, seconds)
        except ValueError:
            if told is None or told == order:
                return None
            seen = f" (as in {self.example} on line {self.line})" if self.example else ""
            raise ValueError(
                f"'{truncate_value(text)}' is not a date in {order} order, the order this "
                f"file's dates are read in{seen}"
            ) from None
        if ambiguous and self.reading is None:
            self.ambiguous, self.reading = text, moment
        return moment


def _other(text: str) -> datetime | None:
    """ISO 8601 (2024-01-31, 2024-01-31T14:05:00Z...), or a date with the month's name."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for pattern in _WORDED:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None
