"""Suggestion rollups for managers: by objective, team or status, with ageing and response rate.

Counting is done by the database (GROUP BY): ideas by group and status, and the people behind
each group. Only ages come back one number per idea, for the medians. An anonymous idea is
counted under the team it is shown under (bot/services/anonymous_scope.py), not necessarily its
author's, and its author is counted through a sealed tag opened here with the server's key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role, SuggestionStatus
from bot.errors import InvalidInput
from bot.i18n import N_, _
from bot.sealing import Sealer
from bot.services.anonymous_scope import load_team_scopes
from bot.services.members import managed_team_ids
from bot.services.permissions import Acting, Operator, require_role
from bot.services.suggestion_evidence import EvidenceSummary, Scrub, evidence_summaries
from bot.storage.models import Objective, Suggestion, Team
from bot.storage.types import UTCDateTime, seconds_between, utcnow

DIMENSIONS = ("objective", "team", "status")
# Row keys stay English (exports are joined on them); marked so that what shows them can say
# them in the reader's language with ``_(key)``.
NONE_LABEL = {"objective": N_("(no objective)"), "team": N_("(no team)"), "status": N_("(none)")}
OLDEST_WAITING = 5
TOP_VOTED = 5
# A breakdown row needs ideas from at least this many distinct people, or it is merged into
# OTHER: nobody can be singled out by elimination ("the only idea from a team of four").
MIN_CONTRIBUTORS = 5
OTHER = N_("other (groups of fewer than 5 people)")


# 100 years. Far longer periods reach back before year 1, where dates cannot be computed (they
# were a 500 in the console and a traceback in the CLI); "all" is the way to say everything.
MAX_PERIOD_DAYS = 36500


def parse_period(text: str | None) -> timedelta | None:
    """'30d', '12w', '6m' (months of 30 days), '48h', '2y' or 'all', up to 100 years."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    value = text.strip().lower()
    units = {"h": 1 / 24, "d": 1, "w": 7, "m": 30, "y": 365}
    number, unit = value[:-1], value[-1:]
    shown = text if len(text) <= 20 else text[:20] + "..."
    if unit not in units or not (number.isascii() and number.isdigit()) or not number.strip("0"):
        raise InvalidInput(
            _("'{text}' is not a period; use for example 7d, 4w, 6m or all.").format(text=shown)
        )
    digits = number.lstrip("0")
    if len(digits) > 9 or int(digits) * units[unit] > MAX_PERIOD_DAYS:
        raise InvalidInput(
            _(
                "'{text}' is longer than the longest period, 100 years (36500d, 5214w, 1216m, "
                "100y); use all for everything."
            ).format(text=shown)
        )
    return timedelta(days=int(digits) * units[unit])


@dataclass(frozen=True)
class Contributors:
    """Who filed a group's ideas: one keyed tag per person (Sealer.contributor_tag), the same
    for their named and anonymous ideas, so people are counted, not ideas. An anonymous idea
    stores its tag sealed (two ideas of one person differ in the database); it is opened here.
    One without a tag that opens (filed before sealed tags) may be anyone's, so it adds nobody:
    the count is low, never high, which is the safe side for anonymity."""

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
    # What people read for the group where the key is a code: an objective's title (exports keep
    # the key, which scripts join on).
    title: str | None = None

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
    # Waiting ideas that most customers said something similar about, and what each card shows.
    most_evidence: list[Suggestion] = field(default_factory=list)
    evidence: dict[int, EvidenceSummary] = field(default_factory=dict)


async def build_rollup(
    session: AsyncSession,
    viewer: Acting,
    sealer: Sealer,
    *,
    by: str = "objective",
    period: timedelta | None = None,
    scrub: Scrub | None = None,
    lists: bool = True,
) -> Rollup:
    """``scrub`` masks personal data in customers' quotes; without it, evidence shows counts.
    ``lists=False`` leaves out the ideas shown by name (oldest waiting, most voted, most
    evidence) for callers that read only the rows' figures (the objectives report)."""
    require_role(viewer, (Role.MANAGER,), N_("see suggestion rollups"))
    if by not in DIMENSIONS:
        raise InvalidInput(
            _("Unknown breakdown '{by}'; use one of: {choices}.").format(
                by=by, choices=", ".join(DIMENSIONS)
            )
        )
    now = utcnow()
    since = now - period if period else None
    scope_filter = []
    scope = "all teams"
    scopes = await load_team_scopes(session)
    if not isinstance(viewer, Operator) and viewer.role != Role.ADMIN:
        teams = await managed_team_ids(session, viewer)
        scope = "your teams"
        # Someone above every team (a CEO) needs no filter, and without one the planner is free
        # to walk the created_at index instead of looking ideas up team by team.
        if not teams.issuperset(scopes.names):
            scope_filter.append(scopes.visible_clause(teams))
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
        statement = statement.outerjoin(Objective, Objective.id == Suggestion.objective_id)
        if by != "team":
            return statement
        # An anonymous idea whose team has become too small is counted where it is now shown.
        return statement.outerjoin(Team, Team.id == scopes.shown_team_column())

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

    # Medians need every idea's age, so those come back one row per idea, but as a number the
    # database computes rather than two datetimes to parse and subtract here.
    answered_or_now = func.coalesce(Suggestion.first_response_at, literal(now, UTCDateTime()))
    timings = await session.execute(
        joined(
            select(
                group,
                Suggestion.first_response_at.is_(None),
                seconds_between(answered_or_now, Suggestion.created_at),
            )
        ).where(*filters)
    )
    for key, waiting, seconds in timings:
        label = key if key is not None else NONE_LABEL[by]
        row = rows.get(label)
        if row is None:  # a group filed between the two statements (PostgreSQL reads committed)
            row = rows[label] = RollupRow(key=label)
        age = timedelta(milliseconds=round(seconds * 1000))
        (row.waiting_ages if waiting else row.answer_delays).append(age)
    for row in rows.values():
        total.waiting_ages += row.waiting_ages
        total.answer_delays += row.answer_delays
    await _count_contributors(session, sealer, joined, group, filters, by, rows, total)

    if not lists:
        if by == "objective":
            await _add_objective_titles(session, rows)
        return Rollup(by, since, now, scope, _ordered(rows, by), total, [], [], previous_total)
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
    weighed = list(
        await session.scalars(
            select(Suggestion)
            .where(
                *filters,
                Suggestion.status.in_([SuggestionStatus.NEW, SuggestionStatus.UNDER_REVIEW]),
                Suggestion.evidence_count > 0,
            )
            .order_by(Suggestion.evidence_count.desc(), Suggestion.created_at)
            .limit(TOP_VOTED)
        )
    )
    evidence = await evidence_summaries(session, [*oldest, *weighed], scrub)
    if by == "objective":
        await _add_objective_titles(session, rows)
    return Rollup(
        by,
        since,
        now,
        scope,
        _ordered(rows, by),
        total,
        oldest,
        top,
        previous_total,
        weighed,
        evidence,
    )


def _ordered(rows: dict[str, RollupRow], by: str) -> list[RollupRow]:
    """Groups of fewer than 5 people merged, largest first (statuses in their own order)."""
    kept = merge_small_groups(rows)
    if by == "status":
        order = [s.value for s in SuggestionStatus]
        return sorted(kept, key=lambda r: order.index(r.key) if r.key in order else 99)
    return sorted(kept, key=lambda r: (r.key == OTHER, -r.total, r.key))


async def _add_objective_titles(session: AsyncSession, rows: dict[str, RollupRow]) -> None:
    """Managers read objectives by title ('Answer every customer within one hour'), not by the
    key a strategist typed ('reply-within-1h')."""
    titles = await session.execute(
        select(Objective.key, Objective.title).where(Objective.key.in_(list(rows)))
    )
    for key, title in titles:
        rows[key].title = title


async def _count_contributors(
    session: AsyncSession,
    sealer: Sealer,
    joined: Any,
    group: Any,
    filters: list[Any],
    by: str,
    rows: dict[str, RollupRow],
    total: RollupRow,
) -> None:
    """Who is behind each group: the database returns each (group, author, sealed tag) once, so
    a named person with many ideas costs one row and one keyed tag, not one per idea; anonymous
    ideas cost a row each (their sealed tags all differ)."""
    authors = await session.execute(
        joined(select(group, Suggestion.author_id, Suggestion.contributor_tag))
        .where(*filters)
        .group_by(group, Suggestion.author_id, Suggestion.contributor_tag)
    )
    tags: dict[int, str] = {}
    people: dict[str, set[str]] = {}
    untagged: set[str] = set()
    for key, author_id, sealed_tag in authors:
        label = key if key is not None else NONE_LABEL[by]
        if author_id is not None:
            tag = tags.get(author_id)
            if tag is None:
                tag = tags[author_id] = sealer.contributor_tag(author_id)
        else:
            # Sealed with a random IV, so each anonymous idea is a row of its own here; the
            # sealer remembers what it opened, and the next rollup opens nothing again.
            tag = sealer.open_contributor(sealed_tag) if sealed_tag else None
        if tag is None:
            untagged.add(label)
        else:
            people.setdefault(label, set()).add(tag)
    for label, row in rows.items():
        row.contributors = Contributors(frozenset(people.get(label, ())), label in untagged)
    total.contributors = Contributors(
        frozenset().union(*people.values()), untagged_anonymous=bool(untagged)
    )
