"""How a KPI's values read in every message: "52 minutes", "91.5%", "4.2 stars".

Numbers follow the language being spoken (1,500 / 1.500); the unit is the strategist's own word
and stays as they wrote it. The admin CLI speaks English.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.compose.text import day_month
from bot.i18n import N_, _
from bot.i18n.formats import format_date, format_number

if TYPE_CHECKING:
    from bot.storage.models import Objective


def kpi_number(value: float) -> str:
    """Whole numbers without decimals, others to at most two (74, 4.25, 0.5)."""
    if value == int(value) and abs(value) < 1e15:
        return format_number(int(value))
    return format_number(round(value, 2))


def kpi_value(value: float | None, unit: str | None) -> str:
    if value is None:
        return _("no reading")
    number = kpi_number(value)
    if not unit:
        return number
    if unit == "%":
        return f"{number}{unit}"
    # "1 hour", not "1 hours" (units are stored plural: hours, minutes, days, points); a rate
    # stays as it is: "1 per 1,000 customers".
    if abs(value) == 1 and unit.endswith("s") and not unit.endswith("ss") and "per " not in unit:
        unit = unit[:-1]
    return f"{number} {unit}"


def reading_day(day: datetime, since: datetime) -> str:
    """The day of a report's latest reading: "Dec 6" within the period; one from before it
    (no reading since) says its year and so, so a value from 2014 never passes for today's."""
    if day >= since.replace(hour=0, minute=0, second=0, microsecond=0):
        return day_month(day)
    return _("{date}, before the period").format(date=format_date(day))


def kpi_change(change: float | None, unit: str | None) -> str:
    """A change with its sign: "+5 minutes", "−12.5%", "no change"."""
    if change is None:
        return _("no earlier reading")
    if change == 0:
        return _("no change")
    return ("+" if change > 0 else "−") + kpi_value(abs(change), unit)


# A KPI's trend (bot/services/objectives_report.py), its change after it.
TRENDS = {
    "better": N_("better ({change})"),
    "worse": N_("worse ({change})"),
    "flat": N_("flat ({change})"),
    "up": N_("up ({change})"),
    "down": N_("down ({change})"),
}


def kpi_trend(trend: str | None, change: float | None, unit: str | None) -> str:
    """The judgement first (it respects which way is better), then the movement: "better
    (−22 minutes)", "worse (+3%)", "flat (no change)"."""
    if trend is None:
        return _("not enough readings")
    change_text = kpi_change(change, unit)
    said = TRENDS.get(trend)
    return _(said).format(change=change_text) if said else f"{trend} ({change_text})"


def kpi_distance(
    met: bool | None, to_go: float | None, target: float | None, unit: str | None
) -> str:
    """How far from target, in the KPI's direction: "met (target 60 minutes)", "12 minutes to go
    (target 60 minutes)", "no target set"."""
    if target is None:
        return _("no target set")
    goal = kpi_value(target, unit)
    if met is None:
        return _("no reading yet (target {target})").format(target=goal)
    if met:
        return _("met (target {target})").format(target=goal)
    return _("{distance} to go (target {target})").format(
        distance=kpi_value(to_go, unit), target=goal
    )


def target_text(value: float | None, unit: str | None, written: str | None) -> str:
    """The target as a number and as people wrote it, "60 minutes (under 1 hour)"; once where
    the two read the same ("7 days", not "7 days (7 days)")."""
    number = kpi_value(value, unit) if value is not None else ""
    said = " ".join((written or "").split())
    if number and said and not written_repeats(value, unit, written):
        return f"{number} ({said})"
    return number or said


def written_repeats(value: float | None, unit: str | None, written: str | None) -> bool:
    """Whether the target as written says no more than its number does ("7 days")."""
    said = " ".join((written or "").split()).lower()
    return value is not None and said == kpi_value(value, unit).lower()


def describe_kpi(objective: Objective) -> str:
    """'median first reply time in minutes, lower is better, target 60 minutes'."""
    kpi = objective.kpi or _("no KPI named")
    if objective.kpi_unit:
        kpi = _("{kpi} in {unit}").format(kpi=kpi, unit=objective.kpi_unit)
    parts = [kpi]
    if objective.kpi_direction == "lower":
        parts.append(_("lower is better"))
    elif objective.kpi_direction == "higher":
        parts.append(_("higher is better"))
    elif objective.kpi_direction:
        parts.append(f"{objective.kpi_direction} is better")
    if objective.target_value is not None:
        target = kpi_value(objective.target_value, objective.kpi_unit)
        parts.append(_("target {target}").format(target=target))
    elif objective.target:
        parts.append(_("target '{target}' (no number)").format(target=objective.target))
    return ", ".join(parts)
