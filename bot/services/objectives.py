"""Business objectives: the promises to customers that content, voice and ideas are tied to."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role
from bot.errors import Conflict, InvalidInput, NotFound
from bot.services.permissions import Acting, actor_id, require_role
from bot.storage.models import Member, Objective

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def validate_key(key: str) -> str:
    value = key.strip().lower()
    if not KEY_PATTERN.match(value):
        raise InvalidInput(
            f"'{key}' is not a valid objective key; use lowercase letters, digits, '-' or '_' "
            "(for example: reply-within-1h)."
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
) -> Objective:
    require_role(actor, (Role.STRATEGIST, Role.MANAGER), "define objectives")
    key = validate_key(key)
    title = " ".join(title.split())
    if not title:
        raise InvalidInput(
            "An objective needs a title, for example: 'Answer every customer within one hour'."
        )
    if len(title) > 200:
        raise InvalidInput("An objective title can have at most 200 characters.")
    if await find_objective(session, key) is not None:
        raise Conflict(f"The objective '{key}' already exists; see: advocacy objectives list")
    objective = Objective(
        key=key,
        title=title,
        kpi=(kpi or "").strip()[:200] or None,
        target=(target or "").strip()[:100] or None,
        # Who answers for it; by default whoever defined it.
        owner_id=owner.id if owner is not None else actor_id(actor),
    )
    session.add(objective)
    await session.flush()
    return objective


async def find_objective(session: AsyncSession, key: str) -> Objective | None:
    return (
        await session.scalars(select(Objective).where(Objective.key == key.strip().lower()))
    ).first()


async def get_objective(session: AsyncSession, key: str) -> Objective:
    objective = await find_objective(session, key)
    if objective is None:
        known = ", ".join(o.key for o in await list_objectives(session)) or "none yet"
        raise NotFound(
            f"Unknown objective '{key}'. Known objectives: {known}. "
            "Add one with: advocacy objectives add KEY TITLE"
        )
    return objective


async def list_objectives(session: AsyncSession) -> list[Objective]:
    return list(await session.scalars(select(Objective).order_by(Objective.key)))
