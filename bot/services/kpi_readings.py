"""KPI readings: the measured values of an objective's KPI, one per day.

Why a day: KPIs are reported daily or weekly by the systems that own them (a help desk's median
first reply time, a survey's NPS); a second value for the same day is a correction and replaces
the first, so a re-sent file or webhook changes nothing. Every way readings come in (CLI, CSV,
webhook, console, demo) goes through ``record_reading``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import KpiSource, Role
from bot.errors import InvalidInput
from bot.i18n import N_, _
from bot.services.permissions import Acting, actor_id, require_role
from bot.storage.models import KpiReading, Objective
from bot.storage.types import utcnow

# Who may record readings: the people who own objectives.
RECORDERS = (Role.STRATEGIST, Role.MANAGER)
# A reading further ahead than this is a typo (a year 2062), not a forecast.
FUTURE_DAYS = 1


def day_start(day: date | datetime) -> datetime:
    """Midnight UTC of the day: how ``measured_on`` is stored."""
    if isinstance(day, datetime):
        day = day.astimezone(UTC).date() if day.tzinfo else day.date()
    return datetime.combine(day, time.min, tzinfo=UTC)


def check_value(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(
            _("A KPI reading must be a finite number, not {value}.").format(value=repr(value))
        )
    if abs(value) > 1e15:
        raise InvalidInput(
            _("{value} is out of range for a KPI reading.").format(value=f"{value:g}")
        )
    return float(value)


def check_day(day: date | datetime) -> datetime:
    start = day_start(day)
    today = day_start(utcnow())
    if (start - today).days > FUTURE_DAYS:
        raise InvalidInput(
            _("{day} is in the future; a reading describes a day that has happened.").format(
                day=start.date().isoformat()
            )
        )
    if start.year < 2000:
        raise InvalidInput(
            _("{day} is too far in the past for a reading.").format(day=start.date().isoformat())
        )
    return start


@dataclass(frozen=True)
class Recorded:
    reading: KpiReading
    # "added", "updated" (the day had another value) or "unchanged" (the same value again).
    outcome: str
    previous: float | None = None


async def record_reading(
    session: AsyncSession,
    actor: Acting,
    objective: Objective,
    value: float,
    day: date | datetime,
    *,
    source: KpiSource = KpiSource.CLI,
) -> Recorded:
    """Record the KPI's value on a day; a second value that day replaces the first."""
    require_role(actor, RECORDERS, N_("record KPI readings"))
    value = check_value(value)
    measured_on = check_day(day)
    existing = (
        await session.scalars(
            select(KpiReading).where(
                KpiReading.objective_id == objective.id, KpiReading.measured_on == measured_on
            )
        )
    ).first()
    if existing is not None:
        if existing.value == value:
            return Recorded(existing, "unchanged", existing.value)
        previous = existing.value
        existing.value = value
        existing.source = source
        existing.recorded_by_id = actor_id(actor)
        existing.updated_at = utcnow()
        await session.flush()
        return Recorded(existing, "updated", previous)
    reading = KpiReading(
        objective_id=objective.id,
        measured_on=measured_on,
        value=value,
        source=source,
        recorded_by_id=actor_id(actor),
    )
    session.add(reading)
    await session.flush()
    return Recorded(reading, "added")


async def reading_on(
    session: AsyncSession, objective_id: int, moment: datetime
) -> KpiReading | None:
    """The latest reading on or before the moment's day: the KPI as it stood then."""
    return (
        await session.scalars(
            select(KpiReading)
            .where(
                KpiReading.objective_id == objective_id,
                KpiReading.measured_on <= day_start(moment),
            )
            .order_by(KpiReading.measured_on.desc())
            .limit(1)
        )
    ).first()


async def readings_between(
    session: AsyncSession, objective_id: int, start: datetime, end: datetime
) -> list[KpiReading]:
    """Readings whose day lies in [start, end], oldest first."""
    return list(
        await session.scalars(
            select(KpiReading)
            .where(
                KpiReading.objective_id == objective_id,
                KpiReading.measured_on >= day_start(start),
                KpiReading.measured_on <= day_start(end),
            )
            .order_by(KpiReading.measured_on)
        )
    )
