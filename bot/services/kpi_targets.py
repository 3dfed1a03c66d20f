"""An objective's KPI in numbers: its unit, which way is better, and the numeric target.

People write targets as text ("under 1 hour", "at least 90%"); where the text says a number
plainly, its number, unit and direction are read from it (``read_written_target``, the same
reading migration 0013 applied to the targets already stored; the migration keeps a frozen copy).
A number given on its own (``--target-value``) always wins over one read from the text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.domain import KpiDirection, parse_enum
from bot.errors import InvalidInput
from bot.i18n import N_, _

_LOWER = re.compile(r"\b(under|below|less than|at most|within|no more than|max(imum)?)\b|<")
_HIGHER = re.compile(r"\b(over|above|more than|at least|min(imum)?)\b|>")
# An optional currency sign, then a number ("1,000" and "1,000,000" are thousands, "4,5" and
# "4.5" decimals), then the word after it: its unit when that word is one ("hours", "%"), or ends
# the text ("4.5 stars").
_NUMBER = re.compile(
    r"([€$£¥])?\s*(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|-?\d+(?:[.,]\d+)?)(\s*)(%|percent\b|[a-z]+)?"
)
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# After a currency sign, "m" is a million, not minutes: "€1.5m", "$200k".
_SCALES = {"k": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
UNITS = {
    "%": "%",
    "percent": "%",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "seconds": "seconds",
    "d": "days",
    "day": "days",
    "days": "days",
}
# Units of time, in seconds: "under 1 hour" is a target of 60 for a KPI measured in minutes.
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86_400}
MAX_UNIT = 30


@dataclass(frozen=True)
class WrittenTarget:
    value: float | None
    unit: str | None
    direction: str | None


def read_written_target(text: str) -> WrittenTarget:
    """Number, unit and direction from a target as people wrote it; None where it is not plain
    (no number, or several: "between 2 and 4 hours" is not guessed at)."""
    lowered = text.strip().lower()
    numbers = list(_NUMBER.finditer(lowered))
    if len(numbers) != 1:
        return WrittenTarget(None, None, None)
    currency, number, space, word = numbers[0].groups()
    value = float(
        number.replace(",", "") if _THOUSANDS.fullmatch(number) else number.replace(",", ".")
    )
    direction = "lower" if _LOWER.search(lowered) else "higher" if _HIGHER.search(lowered) else None
    if currency:
        return WrittenTarget(value * _SCALES.get(word or "", 1), currency, direction)
    unit = UNITS.get(word or "")
    if word and unit is None:
        if not space:  # "1.5k", "3x": a suffix that is no unit is not plain
            return WrittenTarget(None, None, None)
        if not lowered[numbers[0].end() :].strip():
            unit = word[:MAX_UNIT]  # "4.5 stars"; not "1,000 active users" nor "2 per week"
    return WrittenTarget(value, unit, direction)


def normalise_unit(unit: str | None) -> str | None:
    """A unit as stored: "mins" is "minutes", "percent" is "%"; empty is none."""
    text = " ".join((unit or "").split())
    if len(text) > MAX_UNIT:
        raise InvalidInput(
            _("A KPI unit can have at most {limit} characters (minutes, %, NPS).").format(
                limit=MAX_UNIT
            )
        )
    return UNITS.get(text.lower(), text) or None


def parse_direction(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    return parse_enum(KpiDirection, text, _("direction (which way is better)")).value


def _decimal_point(text: str, what: str) -> str:
    """The number with a decimal point and no thousands separators, as spreadsheets in many
    countries write it: 52,5 is 52.5, 1,234.5 and 1.234,5 are 1234.5. A lone comma before
    three digits (1,000: a thousand, or one?) is refused rather than guessed."""
    if "," not in text:
        return text
    if re.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+,\d+", text):  # 1.234,5
        return text.replace(".", "").replace(",", ".")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+\.\d+", text):  # 1,234.5
        return text.replace(",", "")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3}){2,}", text):  # 1,000,000
        return text.replace(",", "")
    if re.fullmatch(r"[-+]?\d{1,3},\d{3}", text):
        whole, part = text.split(",")
        raise InvalidInput(
            _(AMBIGUOUS[what]).format(
                text=text, thousands=f"{whole}{part}", decimal=f"{whole}.{part}"
            )
        )
    return text.replace(",", ".") if re.fullmatch(r"[-+]?\d*,\d+", text) else text


def parse_number(text: str, what: str = "value") -> float:
    """A number as people type it: 74, 74.5, 52,5 (a decimal comma), -3, 1e3, 91.5% (the % is
    the unit's, dropped)."""
    cleaned = text.strip().removesuffix("%").strip().replace("_", "")
    cleaned = _decimal_point(cleaned, what)
    try:
        number = float(cleaned)
    except ValueError:
        raise InvalidInput(_(NOT_A_NUMBER[what]).format(text=text.strip())) from None
    if not math.isfinite(number):
        raise InvalidInput(_(NOT_FINITE[what]).format(text=text.strip()))
    return number


# What ``parse_number`` says, by what the number is ("value" or "target value").
AMBIGUOUS = {
    "value": N_(
        "the value '{text}' could be {thousands} or {decimal}: write it without the comma, "
        "or with a decimal point"
    ),
    "target value": N_(
        "the target value '{text}' could be {thousands} or {decimal}: write it without the "
        "comma, or with a decimal point"
    ),
}
NOT_A_NUMBER = {
    "value": N_("the value '{text}' is not a number"),
    "target value": N_("the target value '{text}' is not a number"),
}
NOT_FINITE = {
    "value": N_("the value must be a finite number, not '{text}'"),
    "target value": N_("the target value must be a finite number, not '{text}'"),
}


def check_percent(text: str, unit: str | None) -> None:
    """A value typed with % ("50%") for a KPI measured in another unit (hours) is refused: the %
    is dropped as the unit's only when the KPI is in % or has no unit."""
    if text.strip().endswith("%") and unit and unit != "%":
        raise InvalidInput(
            _("the value '{text}' is a percentage, but this KPI is measured in {unit}").format(
                text=text.strip(), unit=unit
            )
        )


def in_unit(value: float, written: str | None, unit: str | None) -> float | None:
    """``value`` written in unit ``written`` expressed in ``unit``; None when they cannot be
    compared (hours against %, say). The same unit, or no unit on either side, is as it is."""
    if not written or not unit or written == unit:
        return value
    if written in _SECONDS and unit in _SECONDS:
        return value * _SECONDS[written] / _SECONDS[unit]
    return None


def filled_from_text(
    target: str | None,
    unit: str | None,
    direction: str | None,
    target_value: float | None,
) -> tuple[str | None, str | None, float | None]:
    """(unit, direction, target value): what was given, and what the written target says where
    nothing was given. A target in another unit of time is converted ("under 1 hour" for a KPI
    in minutes is 60); one in a unit that does not compare is not guessed at."""
    if not target:
        return unit, direction, target_value
    written = read_written_target(target)
    if written.value is None:
        return unit, direction, target_value
    if target_value is None:
        target_value = in_unit(written.value, written.unit, unit)
    return unit or written.unit, direction or written.direction, target_value
