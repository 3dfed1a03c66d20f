"""No black hole: an idea waiting too long for an answer is flagged to its team's manager, and if
it still waits, to the next level up, and so on to the top of the hierarchy.

Each step waits ``after`` again, so with 7 days the team's manager hears on day 7, their manager
on day 14. The author is never named in the flag (anonymous or not, the idea speaks for itself).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.suggestion_cards import answer_button, status_label
from bot.compose.text import humanise_duration, truncate
from bot.domain import Role
from bot.i18n import _, ngettext
from bot.i18n.formats import format_number
from bot.messages import Card, Fact, Message, subject_key
from bot.outbox.queue import enqueue_in_their_languages, member_recipient
from bot.sealing import Sealer
from bot.services.anonymous_scope import load_team_scopes
from bot.services.suggestions import OPEN_STATUSES
from bot.storage.models import Member, Suggestion, Team

log = logging.getLogger(__name__)

DEFAULT_AFTER = timedelta(days=7)
MANAGERS = (Role.MANAGER, Role.ADMIN)


async def team_managers(session: AsyncSession, team_id: int | None) -> list[Member]:
    """Who answers for a team: its managers, else whoever its members report to. Ideas of no
    team (an anonymous one from a small team may be one) go to the managers at the top."""
    if team_id is None:
        return list(
            await session.scalars(
                select(Member).where(Member.role.in_(MANAGERS), Member.manager_id.is_(None))
            )
        )
    members = list(await session.scalars(select(Member).where(Member.team_id == team_id)))
    managers = [m for m in members if m.role in MANAGERS]
    if managers:
        return managers
    ids = {m.manager_id for m in members if m.manager_id is not None}
    return list(await session.scalars(select(Member).where(Member.id.in_(ids))))


async def managers_at_level(session: AsyncSession, team_id: int | None, level: int) -> list[Member]:
    """Level 0: the team's managers; level 1: their managers; and so on (empty past the top).
    A manager who left is passed over for the one above them: a flag to nobody is lost."""
    return await climb(session, await team_managers(session, team_id), level)


async def climb(session: AsyncSession, managers: list[Member], levels: int) -> list[Member]:
    """The managers ``levels`` steps above ``managers`` (those still here; empty past the top)."""
    current = await _still_here(session, managers)
    for _level in range(levels):
        ids = {m.manager_id for m in current if m.manager_id is not None}
        above = list(await session.scalars(select(Member).where(Member.id.in_(ids))))
        current = await _still_here(session, above)
    return current


def next_step_due(waiting_since: datetime, level: int, now: datetime, after: timedelta) -> bool:
    """Whether something waiting since then is due for its flag at ``level``: each step waits
    ``after`` again."""
    return waiting_since <= now - after * (level + 1)


async def flag_managers(
    session: AsyncSession,
    sealer: Sealer,
    managers: list[Member],
    flag: Callable[[], Message],
    now: datetime,
) -> int:
    """Queue the ``flag`` to each of ``managers`` (after their quiet hours), composed in each
    one's language; how many were queued."""
    recipients = [r for m in managers if (r := member_recipient(m, now)) is not None]
    return await enqueue_in_their_languages(session, flag, recipients, sealer=sealer)


async def _still_here(session: AsyncSession, managers: list[Member]) -> list[Member]:
    """``managers``, with each who left replaced by the nearest one above who has not."""
    found: dict[int, Member] = {}
    seen: set[int] = set()
    waiting = list(managers)
    while waiting:
        manager = waiting.pop()
        if manager.id in seen:
            continue
        seen.add(manager.id)
        if manager.left_at is None:
            found[manager.id] = manager
        elif manager.manager_id is not None:
            above = await session.get(Member, manager.manager_id)
            if above is not None:
                waiting.append(above)
    return list(found.values())


def waiting_flag(
    suggestion: Suggestion, waited: timedelta, level: int, shown_under: str | None = None
) -> Message:
    """The flag a manager gets. An anonymous idea is not "from your team": it is counted where
    it is shown (``shown_under``, None for every manager), which is all the flag may say."""
    duration = humanise_duration(waited)
    if suggestion.anonymous and shown_under:
        title = _("Anonymous idea #{number} (counted under {team}) has waited {duration}").format(
            number=suggestion.id, team=shown_under, duration=duration
        )
    elif suggestion.anonymous:
        title = _("Anonymous idea #{number} (shown to every manager) has waited {duration}").format(
            number=suggestion.id, duration=duration
        )
    elif level == 0:
        title = _("Idea #{number} from your team has waited {duration}").format(
            number=suggestion.id, duration=duration
        )
    else:
        title = _("Idea #{number} from a team below you has waited {duration}").format(
            number=suggestion.id, duration=duration
        )
    facts = [
        Fact(_("Status"), status_label(suggestion.status)),
        Fact(_("Votes"), format_number(suggestion.vote_count)),
    ]
    if suggestion.objective is not None:
        facts.append(Fact(_("Objective"), suggestion.objective.title))
    if level:
        below = ngettext("{count} level below you", "{count} levels below you", level)
        facts.append(Fact(_("Already flagged to"), below.format(count=format_number(level))))
    return Message(
        fallback=_("{title} without an answer: {text}").format(
            title=title, text=truncate(suggestion.text, 200)
        ),
        kind="suggestion_escalation",
        cards=(
            Card(
                title=title,
                text=truncate(suggestion.text, 1500),
                facts=tuple(facts),
                buttons=(answer_button(suggestion.id),),
                subject=subject_key("suggestion", suggestion.id),
            ),
        ),
    )


async def escalate_waiting(
    session: AsyncSession, sealer: Sealer, now: datetime, after: timedelta = DEFAULT_AFTER
) -> int:
    """Flag every idea that has waited past its next step; returns how many flags were queued."""
    waiting = list(
        await session.scalars(
            select(Suggestion).where(
                Suggestion.first_response_at.is_(None),
                Suggestion.duplicate_of_id.is_(None),
                Suggestion.hidden_at.is_(None),
                Suggestion.status.in_(OPEN_STATUSES),
                Suggestion.created_at <= now - after,
            )
        )
    )
    if not waiting:
        return 0
    flagged = 0
    scopes = await load_team_scopes(session)
    for idea in waiting:
        level = idea.escalation_level
        if not next_step_due(idea.created_at, level, now, after):
            continue
        # An anonymous idea goes where it is shown: never to the managers of a team so small
        # that the flag would point at its author.
        shown = scopes.shown_team(idea)
        managers = await managers_at_level(session, shown, level)
        team = await session.get(Team, shown) if shown is not None else None
        queued = await flag_managers(
            session,
            sealer,
            managers,
            lambda idea=idea, level=level, team=team: waiting_flag(
                idea, now - idea.created_at, level, team.name if team else None
            ),
            now,
        )
        if not queued:
            continue  # past the top of the hierarchy: nobody left to tell
        flagged += queued
        idea.escalation_level = level + 1
        idea.escalated_at = now
        log.info(
            "idea #%d flagged at level %d after waiting %s",
            idea.id,
            level,
            humanise_duration(now - idea.created_at),
        )
    await session.flush()
    return flagged
