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
from bot.services.members import managed_team_ids
from bot.services.permissions import Acting, Operator, require_role
from bot.storage.models import Objective, Suggestion, Team
from bot.storage.types import utcnow

DIMENSIONS = ("objective", "team", "status")
NONE_LABEL = {"objective": "(no objective)", "team": "(no team)", "status": "(none)"}
OLDEST_WAITING = 5


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


@dataclass
class RollupRow:
    key: str
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    votes: int = 0
    waiting_ages: list[timedelta] = field(default_factory=list, repr=False)
    answer_delays: list[timedelta] = field(default_factory=list, repr=False)

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


async def build_rollup(
    session: AsyncSession, viewer: Acting, *, by: str = "objective", period: timedelta | None = None
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
    filters = [Suggestion.duplicate_of_id.is_(None), *scope_filter]
    if since is not None:
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
        joined(select(group, Suggestion.created_at, Suggestion.first_response_at)).where(*filters)
    )
    for key, created_at, first_response_at in timings:
        label = key if key is not None else NONE_LABEL[by]
        for row in (rows[label], total):
            if first_response_at is None:
                row.waiting_ages.append(now - created_at)
            else:
                row.answer_delays.append(first_response_at - created_at)

    oldest = list(
        await session.scalars(
            select(Suggestion)
            .where(*filters, Suggestion.first_response_at.is_(None))
            .order_by(Suggestion.created_at, Suggestion.id)
            .limit(OLDEST_WAITING)
        )
    )
    ordered = sorted(rows.values(), key=lambda r: (-r.total, r.key))
    if by == "status":
        order = [s.value for s in SuggestionStatus]
        ordered = sorted(rows.values(), key=lambda r: order.index(r.key) if r.key in order else 99)
    return Rollup(by, since, now, scope, ordered, total, oldest)
