"""Digest schedules: what to send, to whom and when (a cron expression in an IANA time zone)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ChannelRef
from bot.domain import DigestKind, Role, parse_enum
from bot.errors import Conflict, InvalidInput, NotFound, concerning
from bot.i18n import N_, _
from bot.local_cron import LocalCronTrigger
from bot.services.members import get_team, validate_platform, validate_timezone
from bot.services.objectives import get_objective
from bot.services.permissions import Acting, actor_id, require_role
from bot.services.report_counters import recount
from bot.services.rollups import parse_period
from bot.storage.models import (
    Delivery,
    Digest,
    DigestRun,
    Member,
    MemberIdentity,
    OutboundMessage,
)
from bot.storage.types import utcnow

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$")


@dataclass(frozen=True)
class Audience:
    """``all`` members (each by DM), the members of one ``team:NAME``, or one shared
    ``channel:PLATFORM:CHANNEL_ID`` where the digest is posted once."""

    team: str | None = None
    channel: ChannelRef | None = None

    def __str__(self) -> str:
        if self.channel:
            return f"channel:{self.channel}"
        return f"team:{self.team}" if self.team else "all"


def parse_audience(text: str) -> Audience:
    value = text.strip()
    if value.lower() == "all":
        return Audience()
    prefix, _colon, rest = value.partition(":")
    if prefix.lower() == "team" and rest.strip():
        return Audience(team=rest.strip())
    if prefix.lower() == "channel" and rest.strip():
        try:
            channel = ChannelRef.parse(rest)
        except ValueError:
            raise InvalidInput(
                _("'{text}' is not a channel; write PLATFORM:CHANNEL_ID, e.g. slack:C0123.").format(
                    text=rest
                )
            ) from None
        return Audience(channel=validate_channel(channel))
    raise InvalidInput(
        _(
            "Unknown audience '{text}'; use 'all', 'team:NAME' (e.g. team:Support) or "
            "'channel:PLATFORM:CHANNEL_ID' (e.g. channel:slack:C0123ABCD)."
        ).format(text=text)
    )


# What a channel id looks like on each platform, and where to find it (shown with a bad one).
CHANNEL_ID_EXAMPLES = {
    "slack": N_("C0123ABCD (in Slack: the channel's name → About, at the bottom)"),
    "teams": N_("19:a1b2c3…@thread.tacv2 (in Teams: the channel's ⋯ → Get link to channel)"),
    "shell": N_("alerts (one word)"),
}


def validate_channel(channel: ChannelRef) -> ChannelRef:
    validate_platform(channel.platform)
    if not channel.channel_id or len(channel.channel_id) > 255 or " " in channel.channel_id:
        example = _(CHANNEL_ID_EXAMPLES.get(channel.platform, "C0123ABCD"))
        raise InvalidInput(
            _(
                "'{channel}' is not a channel id: it has no spaces, and on {platform} looks "
                "like {example}."
            ).format(channel=channel.channel_id, platform=channel.platform, example=example)
        )
    return channel


def cron_trigger(expression: str, zone: str) -> LocalCronTrigger:
    """A DST-safe trigger for a five-field cron expression, or a one-line error with the format."""
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidInput(
            _(
                "'{expression}' is not a cron expression; use five fields: minute hour day "
                "month weekday, for example '0 9 * * mon-fri' for 09:00 on weekdays."
            ).format(expression=expression)
        )
    try:
        return LocalCronTrigger(" ".join(fields), zone)
    except ValueError as error:
        raise InvalidInput(
            _("Bad cron expression '{expression}': {problem}.").format(
                expression=expression, problem=error
            )
        ) from None


def firing_cron(expression: str, zone: str) -> LocalCronTrigger:
    """``cron_trigger``, refused when no date ever matches it ('0 9 30 2 *', 30 February): such
    a schedule would be kept and never send anything."""
    trigger = cron_trigger(expression, zone)
    if trigger.get_next_fire_time(None, utcnow()) is None:
        raise InvalidInput(
            _(
                "'{expression}' never fires: no date matches its day and month (such as 30 "
                "February or 31 April); pick a day that exists, such as '0 9 28 2 *'."
            ).format(expression=expression)
        )
    return trigger


def next_fire_times(
    digest: Digest, count: int = 1, after: datetime | None = None
) -> list[datetime]:
    trigger = cron_trigger(digest.cron, digest.timezone)
    times: list[datetime] = []
    previous = None
    now = after or utcnow()
    for _step in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        previous = fire
        now = fire
    return times


def latest_fire_time(digest: Digest, now: datetime, window: timedelta) -> datetime | None:
    """The most recent scheduled firing in (now - window, now], or None."""
    firings = cron_trigger(digest.cron, digest.timezone).firings(
        now - window + timedelta(microseconds=1), now
    )
    return firings[-1] if firings else None


def parse_since(text: str, zone: str, now: datetime | None = None) -> datetime:
    """Where a manual run's period starts: a date (2026-11-03, midnight in ``zone``), a date and
    time, or a period back from now (30d, 4w)."""
    value = text.strip()
    moment = utcnow() if now is None else now
    if value[:1].isdigit() and value[-1:].lower() in ("h", "d", "w", "m", "y"):
        period = parse_period(value)
        assert period is not None
        return moment - period
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            _("'{text}' is not a date or a period; use for example 2026-11-03 or 30d.").format(
                text=text
            )
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    if parsed > moment:
        raise InvalidInput(
            _("{value} is in the future; give where the period starts.").format(value=value)
        )
    return parsed.astimezone(UTC)


def validate_digest_name(name: str) -> str:
    value = " ".join(name.split())
    if not NAME_PATTERN.match(value):
        raise InvalidInput(
            _(
                "'{name}' is not a usable digest name; use up to 100 letters, digits, spaces, "
                "'.', '-' or '_', starting with a letter or digit (e.g. Monday picks)."
            ).format(name=name)
        )
    return value


async def add_digest(
    session: AsyncSession,
    actor: Acting,
    name: str,
    *,
    kind: str,
    audience: str,
    cron: str,
    timezone: str,
    objective_key: str | None = None,
    local_time: bool = False,
) -> Digest:
    require_role(actor, (Role.STRATEGIST,), N_("schedule digests"))
    with concerning("name"):
        name = validate_digest_name(name)
        if await find_digest(session, name) is not None:
            raise Conflict(
                _("A digest named '{name}' already exists; see: advocacy digest list").format(
                    name=name
                )
            )
    with concerning("kind"):
        parsed_kind = parse_enum(DigestKind, kind, _("digest kind"))
    with concerning("timezone"):
        zone = validate_timezone(timezone)
    with concerning("cron"):
        firing_cron(cron, zone)
    parsed_audience = await _checked_audience(session, audience, parsed_kind)
    with concerning("local_time"):
        _check_local_time(local_time, parsed_audience)
    with concerning("objective"):
        objective = await get_objective(session, objective_key) if objective_key else None
    digest = Digest(
        name=name,
        kind=parsed_kind,
        audience=str(parsed_audience),
        cron=" ".join(cron.split()),
        timezone=zone,
        objective_id=objective.id if objective else None,
        created_by_id=actor_id(actor),
        local_time=local_time,
    )
    session.add(digest)
    await session.flush()
    return digest


async def _checked_audience(session: AsyncSession, text: str, kind: DigestKind) -> Audience:
    """The audience in ``text``, refused if it names an unknown team or a channel for a rollup
    (which goes to each manager privately)."""
    with concerning("audience"):
        audience = parse_audience(text)
        if audience.team:
            await get_team(session, audience.team)
        if audience.channel and kind == DigestKind.ROLLUP:
            raise InvalidInput(
                _("A rollup goes to each manager privately; choose 'all' or a team.")
            )
    return audience


def _check_local_time(local_time: bool, audience: Audience) -> None:
    if local_time and audience.channel:
        raise InvalidInput(
            _("A channel has no time zone of its own; local time is for digests sent to people.")
        )


async def edit_digest(
    session: AsyncSession,
    actor: Acting,
    name: str,
    *,
    cron: str | None = None,
    timezone: str | None = None,
    audience: str | None = None,
    objective_key: str | None = None,
    local_time: bool | None = None,
) -> Digest:
    """Change a schedule; the running scheduler picks it up on its next refresh."""
    require_role(actor, (Role.STRATEGIST,), N_("edit digests"))
    digest = await get_digest(session, name)
    with concerning("timezone"):
        zone = validate_timezone(timezone) if timezone is not None else digest.timezone
    expression = " ".join(cron.split()) if cron is not None else digest.cron
    with concerning("cron"):
        firing_cron(expression, zone)
    parsed_audience = await _checked_audience(
        session, audience if audience is not None else digest.audience, DigestKind(digest.kind)
    )
    wanted_local = digest.local_time if local_time is None else local_time
    with concerning("local_time"):
        _check_local_time(wanted_local, parsed_audience)
    if objective_key is not None:
        with concerning("objective"):
            objective = await get_objective(session, objective_key) if objective_key else None
        digest.objective_id = objective.id if objective else None
    digest.cron, digest.timezone = expression, zone
    digest.audience, digest.local_time = str(parsed_audience), wanted_local
    digest.updated_at = utcnow()
    await session.flush()
    return digest


async def set_digest_enabled(
    session: AsyncSession, actor: Acting, name: str, enabled: bool
) -> Digest:
    """Pause or resume a schedule (runs already queued still go out)."""
    require_role(actor, (Role.STRATEGIST,), N_("pause or resume digests"))
    digest = await get_digest(session, name)
    digest.enabled = enabled
    digest.updated_at = utcnow()
    await session.flush()
    return digest


async def delete_digest(session: AsyncSession, actor: Acting, name: str) -> str:
    """Delete a schedule and its run history; deliveries already queued still go out."""
    require_role(actor, (Role.STRATEGIST,), N_("delete digests"))
    digest = await get_digest(session, name)
    runs = select(DigestRun.id).where(DigestRun.digest_id == digest.id).scalar_subquery()
    for table in (Delivery, OutboundMessage):
        await session.execute(
            update(table)
            .where(table.run_id.in_(runs))
            .values(run_id=None)
            .execution_options(synchronize_session=False)
        )
    await session.execute(delete(DigestRun).where(DigestRun.digest_id == digest.id))
    await session.delete(digest)
    await session.flush()
    # Its runs' deliveries no longer count for any objective: the report's people are recounted.
    await recount(session, None)
    return digest.name


def describe_schedule(digest: Digest) -> str:
    """'0 9 * * mon-fri' in Europe/Paris, or at that time on each recipient's clock."""
    if digest.local_time:
        return _("'{cron}' on each recipient's own clock").format(cron=digest.cron)
    return f"'{digest.cron}' {digest.timezone}"


async def find_digest(session: AsyncSession, name: str) -> Digest | None:
    return (
        await session.scalars(select(Digest).where(Digest.name == " ".join(name.split())))
    ).first()


async def get_digest(session: AsyncSession, name: str) -> Digest:
    digest = await find_digest(session, name)
    if digest is None:
        known = ", ".join(d.name for d in await list_digests(session)) or _("none yet")
        raise NotFound(
            _("Unknown digest '{name}'. Known digests: {known}.").format(name=name, known=known)
        )
    return digest


async def list_digests(session: AsyncSession) -> list[Digest]:
    return list(await session.scalars(select(Digest).order_by(Digest.name)))


@dataclass(frozen=True)
class Reader:
    """A member of a digest's audience, with only what a run needs: their choices and where
    they get direct messages (their first platform identity; none: they cannot be reached)."""

    id: int
    timezone: str
    muted_kinds: list[str] | None
    cadence: str
    quiet_hours: str | None
    locale: str | None
    platform: str | None
    workspace: str
    user_id: str


AUDIENCE_PAGE = 2_000


async def audience_pages(
    session: AsyncSession, digest: Digest, page_size: int | None = None
) -> AsyncIterator[list[Reader]]:
    """The members a digest goes to by DM (none when it is posted in a channel), in pages of
    ``page_size`` by id: a run over 100,000 people never holds them all. People who left the
    company are not among them."""
    audience = parse_audience(digest.audience)
    if audience.channel:
        return
    size = page_size or AUDIENCE_PAGE
    first_identity = (
        select(func.min(MemberIdentity.id))
        .where(MemberIdentity.member_id == Member.id)
        .correlate(Member)
        .scalar_subquery()
    )
    statement = (
        select(
            Member.id,
            Member.timezone,
            Member.muted_kinds,
            Member.cadence,
            Member.quiet_hours,
            Member.locale,
            MemberIdentity.platform,
            MemberIdentity.workspace,
            MemberIdentity.user_id,
        )
        .outerjoin(MemberIdentity, MemberIdentity.id == first_identity)
        .where(Member.left_at.is_(None))
        .order_by(Member.id)
        .limit(size)
    )
    if audience.team:
        team = await get_team(session, audience.team)
        statement = statement.where(Member.team_id == team.id)
    if digest.kind == DigestKind.ROLLUP:
        statement = statement.where(Member.role.in_((Role.MANAGER, Role.ADMIN)))
    after = 0
    while True:
        rows = (await session.execute(statement.where(Member.id > after))).all()
        if not rows:
            return
        yield [
            Reader(
                id=row.id,
                timezone=row.timezone or "UTC",
                muted_kinds=row.muted_kinds,
                cadence=row.cadence,
                quiet_hours=row.quiet_hours,
                locale=row.locale,
                platform=row.platform,
                workspace=row.workspace or "",
                user_id=row.user_id or "",
            )
            for row in rows
        ]
        if len(rows) < size:
            return
        after = rows[-1].id
