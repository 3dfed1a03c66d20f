"""Business objectives: the promises to customers that content, voice and ideas are tied to."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role
from bot.errors import Conflict, InvalidInput, NotFound
from bot.i18n import N_, _
from bot.services.kpi_readings import check_value
from bot.services.kpi_targets import filled_from_text, in_unit, normalise_unit, parse_direction
from bot.services.permissions import Acting, actor_id, require_role
from bot.storage.models import KpiReading, Member, Objective

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Who defines objectives and their KPIs.
DEFINERS = (Role.STRATEGIST, Role.MANAGER)


def validate_key(key: str) -> str:
    value = key.strip().lower()
    if not KEY_PATTERN.match(value):
        raise InvalidInput(
            _(
                "'{key}' is not a valid objective key; use lowercase letters, digits, '-' or '_' "
                "(for example: reply-within-1h)."
            ).format(key=key)
        )
    return value


async def add_objective(
    session: AsyncSession,
    actor: Acting,
    key: str,
    title: str,
    *,
    kpi: str | None = None,
    target: str | None = None,
    owner: Member | None = None,
    unit: str | None = None,
    direction: str | None = None,
    target_value: float | None = None,
) -> Objective:
    """A new objective; its KPI's unit, direction and numeric target are read from the written
    target where they are not given (see bot/services/kpi_targets.py)."""
    require_role(actor, DEFINERS, N_("define objectives"))
    key = validate_key(key)
    title = _title(title)
    if await find_objective(session, key) is not None:
        raise Conflict(
            _("The objective '{key}' already exists; see: advocacy objectives list").format(key=key)
        )
    target = _target(target)
    measured = _measured(target, unit, direction, target_value)
    objective = Objective(
        key=key,
        title=title,
        kpi=(kpi or "").strip()[:200] or None,
        target=target,
        kpi_unit=measured[0],
        kpi_direction=measured[1],
        target_value=measured[2],
        # Who answers for it; by default whoever defined it.
        owner_id=owner.id if owner is not None else actor_id(actor),
    )
    session.add(objective)
    await session.flush()
    return objective


# "Leave as it is" for edit_objective (None there means "clear").
KEEP: Any = object()


@dataclass(frozen=True)
class Edited:
    objective: Objective
    changed: tuple[str, ...]  # the fields that changed, in the order they were given


async def edit_objective(
    session: AsyncSession,
    actor: Acting,
    key: str,
    *,
    title: Any = KEEP,
    kpi: Any = KEEP,
    target: Any = KEEP,
    unit: Any = KEEP,
    direction: Any = KEEP,
    target_value: Any = KEEP,
) -> Edited:
    """Change what is given (None clears it). A new written target fills the unit, direction
    and number it plainly says, unless they are given too; a new unit of time converts the
    numeric target (60 minutes is 1 hour). The readings stay as they are."""
    require_role(actor, DEFINERS, N_("define objectives"))
    objective = await get_objective(session, key)
    given: dict[str, Any] = {}
    if title is not KEEP:
        given["title"] = _title(title or "")
    if kpi is not KEEP:
        given["kpi"] = (kpi or "").strip()[:200] or None
    if target is not KEEP:
        given["target"] = _target(target)
    if unit is not KEEP:
        given["kpi_unit"] = normalise_unit(unit)
    if direction is not KEEP:
        given["kpi_direction"] = parse_direction(direction)
    if target_value is not KEEP:
        given["target_value"] = None if target_value is None else check_value(target_value)
    if given.get("target"):
        unit_now = given.get("kpi_unit", objective.kpi_unit)
        read = filled_from_text(
            given["target"], unit_now, given.get("kpi_direction"), given.get("target_value")
        )
        for name, value in zip(("kpi_unit", "kpi_direction", "target_value"), read, strict=True):
            if value is not None:
                given.setdefault(name, value)
    new_unit = given.get("kpi_unit", objective.kpi_unit)
    if "target_value" not in given and objective.target_value is not None and objective.kpi_unit:
        # The same target in the new unit of time: 60 minutes is 1 hour, not 60 hours.
        converted = in_unit(objective.target_value, objective.kpi_unit, new_unit)
        if new_unit and converted is not None and converted != objective.target_value:
            given["target_value"] = converted
    if not given:
        raise InvalidInput(
            _(
                "Nothing to change: give --title, --kpi, --target, --unit, --direction or "
                "--target-value."
            )
        )
    changed = []
    for name, value in given.items():
        if getattr(objective, name) != value:
            setattr(objective, name, value)
            changed.append(name)
    await session.flush()
    return Edited(objective, tuple(changed))


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise InvalidInput(
            _("An objective needs a title, for example: 'Answer every customer within one hour'.")
        )
    if len(title) > 200:
        raise InvalidInput(_("An objective title can have at most 200 characters."))
    return title


def _target(target: str | None) -> str | None:
    text = " ".join((target or "").split())
    if len(text) > 100:
        raise InvalidInput(_("A written target can have at most 100 characters (under 1 hour)."))
    return text or None


def _measured(
    target: str | None, unit: str | None, direction: str | None, target_value: float | None
) -> tuple[str | None, str | None, float | None]:
    return filled_from_text(
        target,
        normalise_unit(unit),
        parse_direction(direction),
        None if target_value is None else check_value(target_value),
    )


async def latest_readings(session: AsyncSession) -> dict[int, KpiReading]:
    """Each objective's newest reading, by objective id (objectives without one are absent)."""
    newest = (
        select(KpiReading.objective_id, func.max(KpiReading.measured_on).label("day"))
        .group_by(KpiReading.objective_id)
        .subquery()
    )
    rows = await session.scalars(
        select(KpiReading).join(
            newest,
            (KpiReading.objective_id == newest.c.objective_id)
            & (KpiReading.measured_on == newest.c.day),
        )
    )
    return {reading.objective_id: reading for reading in rows}


async def list_readings(
    session: AsyncSession, actor: Acting, key: str, *, limit: int | None = None
) -> tuple[Objective, list[KpiReading]]:
    """An objective's readings, newest first (the last ``limit`` when given)."""
    require_role(actor, DEFINERS, N_("see KPI readings"))
    objective = await get_objective(session, key)
    query = (
        select(KpiReading)
        .where(KpiReading.objective_id == objective.id)
        .order_by(KpiReading.measured_on.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return objective, list(await session.scalars(query))


async def find_objective(session: AsyncSession, key: str) -> Objective | None:
    return (
        await session.scalars(select(Objective).where(Objective.key == key.strip().lower()))
    ).first()


async def get_objective(session: AsyncSession, key: str) -> Objective:
    objective = await find_objective(session, key)
    if objective is None:
        keys = [o.key for o in await list_objectives(session)]
        close = closest_key(key, keys)
        if close:
            text = _(
                "Unknown objective '{key}'. Did you mean '{close}'? Known objectives: {known}. "
                "Add one with: advocacy objectives add KEY TITLE"
            )
        else:
            text = _(
                "Unknown objective '{key}'. Known objectives: {known}. "
                "Add one with: advocacy objectives add KEY TITLE"
            )
        raise NotFound(text.format(key=key, close=close, known=", ".join(keys) or _("none yet")))
    return objective


def closest_key(key: str, keys: Iterable[str]) -> str | None:
    """The objective key a typo ('nsp') was most likely of ('nps'), or None."""
    close = difflib.get_close_matches(key.strip().lower(), list(keys), n=1, cutoff=0.6)
    return close[0] if close else None


async def list_objectives(session: AsyncSession) -> list[Objective]:
    return list(await session.scalars(select(Objective).order_by(Objective.key)))
