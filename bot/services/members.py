"""Members, their platform identities, teams and the manager hierarchy."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role, closest_choice, parse_enum
from bot.errors import Conflict, InvalidInput, NotFound
from bot.events import Actor
from bot.i18n import N_, _, normalize_locale
from bot.platform.entry_points import installed_platforms
from bot.services.permissions import Acting, require_role
from bot.storage.models import Member, MemberIdentity, Team
from bot.storage.types import utcnow

PLATFORM_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,19}$")
MAX_NAME = 200
MAX_TEAM = 100


def validate_platform(platform: str) -> str:
    value = platform.strip().lower()
    if not PLATFORM_PATTERN.match(value):
        raise InvalidInput(
            _(
                "'{platform}' is not a platform name; use a short lowercase word such as "
                "slack, teams or shell."
            ).format(platform=platform)
        )
    return value


def validate_known_platform(platform: str, known: Collection[str] | None = None) -> str:
    """A platform a member can be created on: one whose adapter is installed (``known``, the
    application's registry; by default the installed adapters). A member on any other platform
    would never get a message: their deliveries would wait for ever."""
    value = validate_platform(platform)
    choices = sorted(installed_platforms() if known is None else known)
    if value not in choices:
        guess = closest_choice(value, choices)
        if guess:
            text = _(
                "'{platform}' is not a platform this bot knows; use {choices}. "
                "Did you mean {guess}?"
            )
        else:
            text = _("'{platform}' is not a platform this bot knows; use {choices}.")
        raise InvalidInput(
            text.format(platform=platform, choices=describe_choices(choices), guess=guess)
        )
    return value


def describe_choices(choices: Sequence[str]) -> str:
    """'shell, slack or teams'."""
    if len(choices) < 2:
        return "".join(choices) or _("an installed adapter's platform")
    return _("{some} or {last}").format(some=", ".join(choices[:-1]), last=choices[-1])


def validate_timezone(zone: str) -> str:
    value = zone.strip()
    if not value:
        raise InvalidInput(_("The time zone is empty; use an IANA name such as Europe/Paris."))
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        # HR exports write 'europe/paris' or 'EUROPE/PARIS': the same zone, spelt as IANA does.
        if (same := _zones_by_case().get(value.lower())) is not None:
            return same
        zones = _zones_by_case()
        guess = zones.get(closest_choice(value.lower(), zones, cutoff=0.8) or "")
        if guess:
            text = _(
                "Unknown time zone '{zone}'; use an IANA name such as Europe/Paris or "
                "Asia/Tokyo. Did you mean {guess}?"
            )
        else:
            text = _(
                "Unknown time zone '{zone}'; use an IANA name such as Europe/Paris or Asia/Tokyo."
            )
        raise InvalidInput(text.format(zone=zone, guess=guess)) from None
    return value


@cache
def _zones_by_case() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def validate_user_id(user_id: str) -> str:
    value = user_id.strip()
    if not value or len(value) > 255:
        raise InvalidInput(_("A user id must be between 1 and 255 characters."))
    return value


def clean_name(name: str | None, fallback: str) -> str:
    value = " ".join((name or "").split())
    return (value or fallback)[:MAX_NAME]


def describe_identity(platform: str, user_id: str, workspace: str = "") -> str:
    return f"{platform}:{workspace + '/' if workspace else ''}{user_id}"


async def find_member(
    session: AsyncSession, platform: str, user_id: str, workspace: str = ""
) -> Member | None:
    statement = (
        select(Member)
        .join(MemberIdentity, MemberIdentity.member_id == Member.id)
        .where(
            MemberIdentity.platform == platform,
            MemberIdentity.workspace == workspace,
            MemberIdentity.user_id == user_id,
        )
    )
    return (await session.scalars(statement)).first()


async def get_member(
    session: AsyncSession, platform: str, user_id: str, workspace: str = ""
) -> Member:
    member = await find_member(session, platform, user_id, workspace)
    if member is None:
        who = describe_identity(platform, user_id, workspace)
        where = f" --workspace {workspace}" if workspace else ""
        raise NotFound(
            _(
                "No member {who}. Add them with: advocacy members add {platform} {user_id}{where}"
            ).format(who=who, platform=platform, user_id=user_id, where=where)
        )
    return member


def first_contact_day() -> datetime:
    """When a member created on first contact is recorded as created: the day, not the moment.
    A newcomer's first message may be an anonymous idea, and a member row stamped milliseconds
    before it would name her."""
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def note_platform_locale(member: Member, tag: str | None) -> bool:
    """Follow the platform's language for a member who has not chosen one; True if it changed.

    Written only on a change, so a known member's row is not touched on every event."""
    locale = normalize_locale(tag)
    if locale is None or member.locale_chosen or member.locale == locale:
        return False
    member.locale = locale
    return True


async def resolve_actor(session: AsyncSession, actor: Actor) -> Member:
    """The member behind a platform user, created as an employee on first contact (and nothing
    is written for a known one: a row touched on every event would time-stamp each of them).

    Someone marked as left who writes to the bot is here after all: active again, whoever
    marked them (no time is written, only the mark cleared)."""
    member = await find_member(session, actor.platform, actor.user_id, actor.workspace)
    if member is not None:
        changed = note_platform_locale(member, actor.locale)
        if member.left_at is not None:
            member.left_at = None
            member.left_by = None
            changed = True
        if changed:
            await session.flush()
        return member
    timezone = "UTC"
    if actor.timezone:
        try:
            timezone = validate_timezone(actor.timezone)
        except InvalidInput:
            timezone = "UTC"
    day = first_contact_day()
    member = Member(
        display_name=clean_name(actor.display_name, actor.user_id),
        role=Role.EMPLOYEE,
        timezone=timezone,
        created_at=day,
        locale=normalize_locale(actor.locale),
    )
    member.identities.append(
        MemberIdentity(
            platform=actor.platform,
            workspace=actor.workspace,
            user_id=actor.user_id,
            created_at=day,
        )
    )
    session.add(member)
    await session.flush()
    return member


async def ensure_team(session: AsyncSession, name: str) -> Team:
    value = " ".join(name.split())
    if not value:
        raise InvalidInput(_("A team name must not be empty."))
    if len(value) > MAX_TEAM:
        raise InvalidInput(
            _("A team name can have at most {limit} characters.").format(limit=MAX_TEAM)
        )
    team = (await session.scalars(select(Team).where(Team.name == value))).first()
    if team is None:
        team = Team(name=value)
        session.add(team)
        await session.flush()
    return team


async def get_team(session: AsyncSession, name: str) -> Team:
    team = (await session.scalars(select(Team).where(Team.name == name.strip()))).first()
    if team is None:
        known = ", ".join(t.name for t in await list_teams(session)) or _("none yet")
        raise NotFound(
            _("Unknown team '{name}'. Known teams: {known}.").format(name=name, known=known)
        )
    return team


async def list_teams(session: AsyncSession) -> list[Team]:
    return list(await session.scalars(select(Team).order_by(Team.name)))


async def add_member(
    session: AsyncSession,
    actor: Acting,
    platform: str,
    user_id: str,
    *,
    name: str | None = None,
    team: str | None = None,
    role: str = Role.EMPLOYEE,
    timezone: str = "UTC",
    manager_user_id: str | None = None,
    workspace: str = "",
    platforms: Collection[str] | None = None,
) -> Member:
    """``platforms``: those a member may be on (the application's registry; by default the
    installed adapters)."""
    require_role(actor, (), N_("add members"))
    platform = validate_known_platform(platform, platforms)
    user_id = validate_user_id(user_id)
    parsed_role = parse_enum(Role, role, _("role"))
    zone = validate_timezone(timezone)
    existing = await find_member(session, platform, user_id, workspace)
    if existing is not None:
        who = describe_identity(platform, user_id, workspace)
        if existing.left_at is not None:
            where = f" --workspace {workspace}" if workspace else ""
            raise Conflict(
                _(
                    "{who} is already a member, marked as left on {day}; bring them back with: "
                    "advocacy members return {platform} {user_id}{where}"
                ).format(
                    who=who,
                    day=f"{existing.left_at:%Y-%m-%d}",
                    platform=platform,
                    user_id=user_id,
                    where=where,
                )
            )
        raise Conflict(
            _("{who} is already a member; change a role with: advocacy roles grant").format(who=who)
        )
    manager = None
    if manager_user_id:
        manager = await get_member(session, platform, manager_user_id.strip(), workspace)
    member = Member(
        display_name=clean_name(name, user_id),
        role=parsed_role,
        timezone=zone,
        team=await ensure_team(session, team) if team else None,
        manager_id=manager.id if manager else None,
    )
    member.identities.append(
        MemberIdentity(platform=platform, workspace=workspace, user_id=user_id)
    )
    session.add(member)
    await session.flush()
    return member


async def grant_role(
    session: AsyncSession,
    actor: Acting,
    platform: str,
    user_id: str,
    role: str,
    *,
    workspace: str = "",
) -> Member:
    require_role(actor, (), N_("grant roles"))
    parsed = parse_enum(Role, role, _("role"))
    member = await get_member(session, validate_platform(platform), user_id.strip(), workspace)
    member.role = parsed
    await session.flush()
    return member


async def list_members(session: AsyncSession, *, with_left: bool = False) -> list[Member]:
    """Members by name: the active ones, and with ``with_left`` those who left too."""
    statement = select(Member).order_by(Member.display_name, Member.id)
    if not with_left:
        statement = statement.where(Member.left_at.is_(None))
    return list(await session.scalars(statement))


async def managed_team_ids(session: AsyncSession, manager: Member) -> set[int]:
    """Teams a manager answers for: their own team and every team below them in the hierarchy.

    The database walks the hierarchy (a recursive query) rather than this process loading every
    member: rollup digests ask this once per manager. UNION, not UNION ALL, ends a loop in the
    hierarchy (a row already found is not searched again)."""
    below = (
        select(Member.id, Member.team_id)
        .where(Member.manager_id == manager.id)
        .cte("below", recursive=True)
    )
    below = below.union(
        select(Member.id, Member.team_id).join(below, Member.manager_id == below.c.id)
    )
    teams = set(await session.scalars(select(below.c.team_id).where(below.c.team_id.is_not(None))))
    if manager.team_id is not None:
        teams.add(manager.team_id)
    return teams
