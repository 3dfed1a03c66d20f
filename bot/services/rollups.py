"""Suggestion rollups for managers: by objective, team or status, with ageing and response rate.

Counting is done by the database (GROUP BY); only the ages of ideas still waiting for an answer
come back row by row, for the medians.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role, SuggestionStatus
from bot.errors import InvalidInput
from bot.sealing import Sealer
from bot.services.members import managed_team_ids
from bot.services.permissions import Acting, Operator, require_role
from bot.storage.models import Objective, Suggestion, Team
from bot.storage.types import utcnow

DIMENSIONS = ("objective", "team", "status")
NONE_LABEL = {"objective": "(no objective)", "team": "(no team)", "status": "(none)"}
OLDEST_WAITING = 5
TOP_VOTED = 5
# A breakdown row needs ideas from at least this many distinct people, or it is merged into
# OTHER: nobody can be singled out by elimination ("the only idea from a team of four").
MIN_CONTRIBUTORS = 5
OTHER = "other (groups of fewer than 5 people)"


def parse_period(text: str | None) -> timedelta | None:
    """'30d', '12w', '6m' (months of 30 days), '48h' or 'all'."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    value = text.strip().lower()
    units = {"h": 1 / 24, "d": 1, "w": 7, "m": 30, "y": 365}
    number, unit = value[:-1], value[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise InvalidInput(f"'{text}' is not a period; use for example 7d, 4w, 6m or all.")
    return timedelta(days=int(number) * units[unit])


@dataclass(frozen=True)
class Contributors:
    """Who filed a group's ideas: one keyed tag per person (Sealer.contributor_tag), the same
    for their named and anonymous ideas, so people are counted, not ideas. An anonymous idea
    without a tag (filed before tags existed) may be anyone's, so it adds nobody: the count is
    low, never high, which is the safe side for anonymity."""

    people: frozenset[str] = frozenset()
    untagged_anonymous: bool = False

    @property
    def at_least(self) -> int:
        return max(len(self.people), 1 if self.untagged_anonymous else 0)

    def union(self, other: Contributors) -> Contributors:
        return Contributors(
            self.people | other.people, self.untagged_anonymous or other.untagged_anonymous
        )


def merge_small_groups(rows: dict[str, RollupRow]) -> list[RollupRow]:
    """Rows of fewer than MIN_CONTRIBUTORS people go into one OTHER row; while OTHER is itself
    that small, the next smallest row joins it (else the total minus the rest would show it)."""
    visible = {k: r for k, r in rows.items() if r.contributors.at_least >= MIN_CONTRIBUTORS}
    small = [r for k, r in rows.items() if k not in visible]
    if not small:
        return list(visible.values())
    other = RollupRow(key=OTHER)
    for row in small:
        other.absorb(row)
    while other.contributors.at_least < MIN_CONTRIBUTORS and visible:
        smallest = min(visible.values(), key=lambda r: (r.contributors.at_least, r.total))
        other.absorb(visible.pop(smallest.key))
    return [*visible.values(), other]


@dataclass
class RollupRow:
    key: str
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    votes: int = 0
    waiting_ages: list[timedelta] = field(default_factory=list, repr=False)
    answer_delays: list[timedelta] = field(default_factory=list, repr=False)
    contributors: Contributors = field(default_factory=lambda: Contributors(), repr=False)

    def absorb(self, other: RollupRow) -> None:
        """Add another row's figures to this one (merging a small group into OTHER)."""
        self.total += other.total
        for status, count in other.by_status.items():
            self.by_status[status] = self.by_status.get(status, 0) + count
        self.answered += other.answered
        self.votes += other.votes
        self.waiting_ages += other.waiting_ages
        self.answer_delays += other.answer_delays
        self.contributors = self.contributors.union(other.contributors)

    @property
    def waiting(self) -> int:
        return len(self.waiting_ages)

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.total if self.total else None

    @property
    def median_wait(self) -> timedelta | None:
        return median(self.waiting_ages) if self.waiting_ages else None

    @property
    def oldest_wait(self) -> timedelta | None:
        return max(self.waiting_ages) if self.waiting_ages else None

    @property
    def median_time_to_answer(self) -> timedelta | None:
        return median(self.answer_delays) if self.answer_delays else None

    def as_dict(self) -> dict[str, Any]:
        def days(delta: timedelta | None) -> float | None:
            return round(delta.total_seconds() / 86_400, 2) if delta is not None else None

        return {
            "key": self.key,
            "total": self.total,
            **{status.value: self.by_status.get(status.value, 0) for status in SuggestionStatus},
            "answered": self.answered,
            "response_rate": round(self.response_rate, 4)
            if self.response_rate is not None
            else None,
            "votes": self.votes,
            "waiting": self.waiting,
            "median_wait_days": days(self.median_wait),
            "oldest_wait_days": days(self.oldest_wait),
            "median_days_to_answer": days(self.median_time_to_answer),
            "contributors_at_least": self.contributors.at_least,
        }


@dataclass
class Rollup:
    by: str
    since: datetime | None
    generated_at: datetime
    scope: str
    rows: list[RollupRow]
    total: RollupRow
    oldest_waiting: list[Suggestion]
    top_voted: list[Suggestion] = field(default_factory=list)
    # Ideas filed in the period before this one, for the change (None without a period).
    previous_total: int | None = None


async def build_rollup(
    session: AsyncSession,
    viewer: Acting,
    sealer: Sealer,
    *,
    by: str = "objective",
    period: timedelta | None = None,
) -> Rollup:
    require_role(viewer, (Role.MANAGER,), "see suggestion rollups")
    if by not in DIMENSIONS:
        raise InvalidInput(f"Unknown breakdown '{by}'; use one of: {', '.join(DIMENSIONS)}.")
    now = utcnow()
    since = now - period if period else None
    scope_filter = []
    scope = "all teams"
    if not isinstance(viewer, Operator) and viewer.role != Role.ADMIN:
        teams = await managed_team_ids(session, viewer)
        scope_filter.append(Suggestion.team_id.in_(teams) | Suggestion.team_id.is_(None))
        scope = "your teams"
    filters = [Suggestion.duplicate_of_id.is_(None), Suggestion.hidden_at.is_(None), *scope_filter]
    previous_total = None
    if since is not None and period is not None:
        previous_total = int(
            await session.scalar(
                select(func.count(Suggestion.id)).where(
                    *filters,
                    Suggestion.created_at >= since - period,
                    Suggestion.created_at < since,
                )
            )
            or 0
        )
        filters.append(Suggestion.created_at >= since)

    group = {
        "objective": Objective.key,
        "team": Team.name,
        "status": Suggestion.status,
    }[by]

    def joined(statement: Any) -> Any:
        return statement.outerjoin(Objective, Objective.id == Suggestion.objective_id).outerjoin(
            Team, Team.id == Suggestion.team_id
        )

    counts = await session.execute(
        joined(
            select(
                group,
                Suggestion.status,
                func.count(Suggestion.id),
                func.count(Suggestion.first_response_at),
                func.coalesce(func.sum(Suggestion.vote_count), 0),
            )
        )
        .where(*filters)
        .group_by(group, Suggestion.status)
    )
    rows: dict[str, RollupRow] = {}
    total = RollupRow(key="total")
    for key, status, count, answered, votes in counts:
        label = key if key is not None else NONE_LABEL[by]
        for row in (rows.setdefault(label, RollupRow(key=label)), total):
            row.total += count
            row.by_status[status] = row.by_status.get(status, 0) + count
            row.answered += answered
            row.votes += int(votes)

    timings = await session.execute(
        joined(
            select(
                group,
                Suggestion.created_at,
                Suggestion.first_response_at,
                Suggestion.author_id,
                Suggestion.contributor_tag,
            )
        ).where(*filters)
    )
    for key, created_at, first_response_at, author_id, tag in timings:
        label = key if key is not None else NONE_LABEL[by]
        if author_id is not None:
            tag = sealer.contributor_tag(author_id)
        who = Contributors(frozenset({tag}) if tag else frozenset(), tag is None)
        for row in (rows[label], total):
            if first_response_at is None:
                row.waiting_ages.append(now - created_at)
            else:
                row.answer_delays.append(first_response_at - created_at)
            row.contributors = row.contributors.union(who)

    oldest = list(
        await session.scalars(
            select(Suggestion)
            .where(*filters, Suggestion.first_response_at.is_(None))
            .order_by(Suggestion.created_at, Suggestion.id)
            .limit(OLDEST_WAITING)
        )
    )
    top = list(
        await session.scalars(
            select(Suggestion)
            .where(*filters, Suggestion.vote_count > 0)
            .order_by(Suggestion.vote_count.desc(), Suggestion.created_at)
            .limit(TOP_VOTED)
        )
    )
    kept = merge_small_groups(rows)
    ordered = sorted(kept, key=lambda r: (r.key == OTHER, -r.total, r.key))
    if by == "status":
        order = [s.value for s in SuggestionStatus]
        ordered = sorted(kept, key=lambda r: order.index(r.key) if r.key in order else 99)
    return Rollup(by, since, now, scope, ordered, total, oldest, top, previous_total)
