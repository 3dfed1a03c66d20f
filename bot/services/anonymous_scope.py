"""Where an anonymous idea is shown: under its author's team only when that team is large enough
to hide her, otherwise one level up the manager hierarchy, and so on.

An idea's team decides which managers see it (their own team and every team below them) and the
group it is counted in. Under a team of one, "anonymous" would name her. So an anonymous idea is
placed under the author's team only when the team has at least ``MIN_PEOPLE`` *active members*:
members who have not left the company (bot/services/member_leaving.py) and do not hold the
manager or admin role, because the people who read a team's ideas cannot be hidden from
themselves. Otherwise it goes to the *next level up*: the team of the first
person above the team's members in the hierarchy (their manager, or their manager's manager when
the manager sits in the same team). At the top of the hierarchy, where there is no level up, the
idea stays with the top team only if the people whose anonymous ideas end up there are at least
``MIN_PEOPLE``; else it is placed under no team, where every manager sees it.

The placement is decided at filing and stored as the idea's team (the author's own team is not
stored at all). Teams shrink, so it is checked again whenever ideas are shown: an anonymous idea
whose stored team has since become too small is shown where a new idea from there would go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, case, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role
from bot.storage.models import Member, Suggestion, Team

# The same five people as the rollups' smallest group (bot/services/rollups.py).
MIN_PEOPLE = 5
READERS = (Role.MANAGER, Role.ADMIN)

Reason = Literal["own", "up", "top", "organisation", "no_team"]


def coarse_time(moment: datetime) -> datetime:
    """An anonymous idea's stored time, to the hour: with the exact time, a reader of the
    database could match the idea to whoever was active at that moment."""
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Placement:
    """Where an anonymous idea goes and why, for the author's confirmation."""

    team_id: int | None
    team_name: str | None
    own_team_name: str | None
    reason: Reason


class TeamScopes:
    """The teams, their active members and the level above each, read once for a decision."""

    def __init__(
        self,
        names: dict[int, str],
        active: dict[int, int],
        parents: dict[int, int],
    ) -> None:
        self.names = names
        self.active = active
        self.parents = parents
        self._catchment = self._catchments()
        self.moved: dict[int, int | None] = {
            team: placed for team in names if (placed := self.place(team)) != team
        }

    def large_enough(self, team: int) -> bool:
        return self.active.get(team, 0) >= MIN_PEOPLE

    def _top_of_small_chain(self, team: int) -> int | None:
        """The top team reached from ``team`` through teams too small to hide anyone (None when
        a large enough team comes first, or the hierarchy loops)."""
        seen: set[int] = set()
        current = team
        while current not in seen:
            seen.add(current)
            if self.large_enough(current):
                return None
            parent = self.parents.get(current)
            if parent is None:
                return current
            current = parent
        return None

    def _catchments(self) -> dict[int, int]:
        """For each top team: the active members of every team whose anonymous ideas end up
        there (itself and the small teams below it with no large team in between)."""
        people: dict[int, int] = {}
        for team in self.names:
            top = self._top_of_small_chain(team)
            if top is not None:
                people[top] = people.get(top, 0) + self.active.get(team, 0)
        return people

    def place(self, team: int | None) -> int | None:
        """The team an anonymous idea from ``team`` is shown under (None: every manager's)."""
        return self.placement(team).team_id

    def placement(self, team: int | None) -> Placement:
        own = self.names.get(team) if team is not None else None
        if team is None:
            return Placement(None, None, None, "no_team")
        seen: set[int] = set()
        current = team
        while current not in seen:
            seen.add(current)
            if self.large_enough(current):
                reason: Reason = "own" if current == team else "up"
                return Placement(current, self.names.get(current), own, reason)
            parent = self.parents.get(current)
            if parent is None:
                if self._catchment.get(current, 0) >= MIN_PEOPLE:
                    reason = "own" if current == team else "top"
                    return Placement(current, self.names.get(current), own, reason)
                break
            current = parent
        return Placement(None, None, own, "organisation")

    def shown_team(self, suggestion: Suggestion) -> int | None:
        """The team an idea is shown and counted under now: a named idea's own; an anonymous
        one's stored placement, moved up if that team has since become too small."""
        team = suggestion.team_id
        if not suggestion.anonymous or team is None:
            return team
        return self.moved.get(team, team)

    def visible_to(self, teams: Collection[int], suggestion: Suggestion) -> bool:
        """Whether a manager of ``teams`` sees the idea (ideas of no team are everyone's)."""
        shown = self.shown_team(suggestion)
        return shown is None or shown in teams

    def shown_team_column(self) -> ColumnElement[Any]:
        """``shown_team`` as SQL, for grouping ideas by team in the database."""
        if not self.moved:
            return Suggestion.team_id
        return case(
            (
                Suggestion.anonymous & Suggestion.team_id.in_(list(self.moved)),
                # Cast: when every team moves to none, PostgreSQL would take NULLs for text.
                cast(case(self.moved, value=Suggestion.team_id), Integer),
            ),
            else_=Suggestion.team_id,
        )

    def visible_clause(self, teams: Collection[int]) -> ColumnElement[bool]:
        """``visible_to`` as SQL. Written on the stored team (not ``shown_team_column``) so that
        the database can still find a manager's ideas through the team index."""
        mine = set(teams)
        clause = Suggestion.team_id.in_(mine) | Suggestion.team_id.is_(None)
        moved_in = [
            t for t, to in self.moved.items() if t not in mine and (to is None or to in mine)
        ]
        moved_out = [
            t for t, to in self.moved.items() if t in mine and to is not None and to not in mine
        ]
        if moved_in:
            clause = clause | (Suggestion.anonymous & Suggestion.team_id.in_(moved_in))
        if moved_out:
            clause = clause & ~(Suggestion.anonymous & Suggestion.team_id.in_(moved_out))
        return clause


async def load_team_scopes(session: AsyncSession) -> TeamScopes:
    """Read the teams and the hierarchy: one pass over the members, for any number of ideas."""
    teams = await session.execute(select(Team.id, Team.name))
    people = await session.execute(
        select(Member.id, Member.team_id, Member.manager_id, Member.role, Member.left_at)
    )
    return team_scopes(teams, people)


def team_scopes(
    teams: Iterable[Any],
    people: Iterable[Any],
) -> TeamScopes:
    """TeamScopes from rows of (team id, name) and (member id, team id, manager id, role[, left
    at]); a plain function so that migration 0010 can place the anonymous ideas filed before it.

    People who left are not counted, and do not choose a team's level up; the hierarchy is still
    walked through them (a manager who left still links her reports to the level above)."""
    team_of: dict[int, int | None] = {}
    manager_of: dict[int, int | None] = {}
    active: Counter[int] = Counter()
    departed: set[int] = set()
    for member_id, team_id, manager_id, role, *left in people:
        team_of[member_id] = team_id
        manager_of[member_id] = manager_id
        if left and left[0] is not None:
            departed.add(member_id)
        elif team_id is not None and role not in READERS:
            active[team_id] += 1
    above: dict[int, Counter[int]] = {}
    for member_id, team_id in team_of.items():
        if team_id is not None and member_id not in departed:
            parent = _first_team_above(member_id, team_id, team_of, manager_of)
            if parent is not None:
                above.setdefault(team_id, Counter())[parent] += 1
    # Members of one team may report into different teams: the level up is where most do.
    parents = {team: min(counts, key=lambda t: (-counts[t], t)) for team, counts in above.items()}
    names = {team_id: name for team_id, name in teams}
    return TeamScopes(names, dict(active), parents)


def _first_team_above(
    member_id: int,
    team_id: int,
    team_of: dict[int, int | None],
    manager_of: dict[int, int | None],
) -> int | None:
    """The team of the first person above ``member_id`` who is outside ``team_id`` (people with
    no team are passed over); None at the top or in a loop."""
    seen = {member_id}
    current = manager_of.get(member_id)
    while current is not None and current not in seen:
        seen.add(current)
        team = team_of.get(current)
        if team is not None and team != team_id:
            return team
        current = manager_of.get(current)
    return None
