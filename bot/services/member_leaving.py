"""Members who left the company, and who came back.

Someone who left keeps their row: their ideas, votes and feedback are history, and a named idea
keeps its author. But they are no longer *active*: not counted among their team's people when an
anonymous idea is placed (bot/services/anonymous_scope.py), not sent digests, not listed, and
their console sessions end. Each leaving records who said so (``left_by``), because sources
disagree: HR lags behind Slack, Slack accounts outlive contracts. A directory sync or an HR import
brings back only the people it marked as left itself; an admin's ``members return``, or the person
writing to the bot, brings back anyone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import islice

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.text import plural
from bot.errors import Conflict
from bot.i18n import N_
from bot.services.anonymous_scope import MIN_PEOPLE, load_team_scopes
from bot.services.members import describe_identity, get_member, validate_platform
from bot.services.permissions import Acting, require_role
from bot.storage.models import ConsoleLink, ConsoleSession, Member
from bot.storage.types import utcnow

# Who marked someone as left (Member.left_by).
ADMIN = "admin"
HR = "hr"
SLACK = "slack"

CHUNK = 5_000  # ids per statement: far below what SQLite and PostgreSQL accept as parameters


def leaving_day(moment: datetime | None = None) -> datetime:
    """When someone is recorded as having left: the day, as for first contact. The exact moment
    would say when an admin or a sync ran, which nobody needs."""
    return (moment or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)


def describe_left(member: Member) -> str:
    """'left on 2026-12-07 (hr)', or '' for an active member."""
    if member.left_at is None:
        return ""
    return f"left on {member.left_at:%Y-%m-%d} ({member.left_by or ADMIN})"


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


async def mark_left(
    session: AsyncSession, member_ids: Sequence[int], by: str, day: datetime | None = None
) -> int:
    """Mark these members as left (those still active), end their console sessions and spend
    their sign-in links; returns how many were marked."""
    day = leaving_day(day)
    marked = 0
    for chunk in chunks(member_ids):
        result = await session.execute(
            update(Member)
            .where(Member.id.in_(chunk), Member.left_at.is_(None))
            .values(left_at=day, left_by=by)
            .execution_options(synchronize_session=False)
        )
        marked += result.rowcount or 0
        # Someone who left no longer signs in to the console, on a session opened before.
        await session.execute(delete(ConsoleSession).where(ConsoleSession.member_id.in_(chunk)))
        await session.execute(
            delete(ConsoleLink).where(
                ConsoleLink.member_id.in_(chunk), ConsoleLink.used_at.is_(None)
            )
        )
    return marked


async def mark_returned(
    session: AsyncSession, member_ids: Sequence[int], by: str | None = None
) -> int:
    """Make these members active again; with ``by``, only those that source marked as left."""
    returned = 0
    for chunk in chunks(member_ids):
        statement = update(Member).where(Member.id.in_(chunk), Member.left_at.is_not(None))
        if by is not None:
            statement = statement.where(Member.left_by == by)
        result = await session.execute(
            statement.values(left_at=None, left_by=None).execution_options(
                synchronize_session=False
            )
        )
        returned += result.rowcount or 0
    return returned


async def leave_member(
    session: AsyncSession, actor: Acting, platform: str, user_id: str, *, workspace: str = ""
) -> Member:
    """An admin marks a member as left."""
    require_role(actor, (), N_("mark members as left"))
    platform = validate_platform(platform)
    member = await get_member(session, platform, user_id.strip(), workspace)
    if member.left_at is not None:
        raise Conflict(
            f"{member.display_name} already {describe_left(member)}; bring them back with: "
            f"advocacy members return {_command_args(platform, user_id, workspace)}"
        )
    await mark_left(session, [member.id], ADMIN)
    await session.refresh(member)
    return member


async def return_member(
    session: AsyncSession, actor: Acting, platform: str, user_id: str, *, workspace: str = ""
) -> Member:
    """An admin brings back a member who left, whoever marked them."""
    require_role(actor, (), N_("bring members back"))
    platform = validate_platform(platform)
    member = await get_member(session, platform, user_id.strip(), workspace)
    if member.left_at is None:
        raise Conflict(
            f"{member.display_name} ({describe_identity(platform, user_id.strip(), workspace)}) "
            "has not left; see: advocacy members list"
        )
    await mark_returned(session, [member.id])
    await session.refresh(member)
    return member


async def team_note(session: AsyncSession, member: Member) -> str:
    """What a leaving or a return changes for the member's team's anonymous ideas, in a line
    for the admin ('' when the team keeps them)."""
    if member.team_id is None or member.team is None:
        return ""
    scopes = await load_team_scopes(session)
    team = member.team.name
    people = (
        f"{team} has {plural(scopes.active.get(member.team_id, 0), 'active member')} besides "
        "its managers"
    )
    if scopes.large_enough(member.team_id):
        return f"{people}."
    placed = scopes.placement(member.team_id)
    where = f"under {placed.team_name}" if placed.team_name else "to every manager, under no team"
    return f"{people}, fewer than {MIN_PEOPLE}: its anonymous ideas are shown {where}."


def _command_args(platform: str, user_id: str, workspace: str) -> str:
    return f"{platform} {user_id.strip()}" + (f" --workspace {workspace}" if workspace else "")
