"""The objectives report: per business objective and period, what the bot did for it and what
came back. This is the headline instead of likes and impressions: did the objective's KPI move
the right way and reach its target, did the content help people (useful share), did customers'
voice on it get better, did ideas about it get answered and done? Beside the KPI, its timeline
(bot/services/objective_timeline.py) shows what might have moved it.

Each objective's figures are one ObjectiveFigures, made of smaller figures dataclasses (KPI,
suggestions...): a new kind of figure is one more field with its own dataclass.

Suggestion figures come from the rollup, so a group of fewer than five people is merged into
"other" here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import (
    FeedbackKind,
    KpiDirection,
    Role,
    SuggestionStatus,
)
from bot.i18n import N_
from bot.sealing import Sealer
from bot.services.escalation import DEFAULT_AFTER
from bot.services.objective_timeline import ObjectiveTimeline, build_timelines
from bot.services.permissions import OPERATOR, Acting, require_role
from bot.services.promise_figures import PromiseFigures, promise_figures
from bot.services.report_counters import (
    CLICKS,
    REACHED,
    SHARED,
    events_in,
    people_in,
    sent_by_run,
)
from bot.services.rollups import OTHER, build_rollup
from bot.services.theme_watch import ThemeWatch, watch_themes
from bot.storage.models import (
    ContentItem,
    Member,
    Objective,
    VoiceItem,
)
from bot.storage.types import utcnow

ACCEPTED = (SuggestionStatus.PLANNED, SuggestionStatus.DONE)
# A KPI that moved less than this share of its starting value over the period is flat.
FLAT_SHARE = 0.01


@dataclass
class KpiFigures:
    """The objective's KPI over the period: where it stands, how it moved, how far from target,
    read in the direction that is better for it."""

    unit: str | None = None
    direction: str | None = None  # "higher" or "lower" is better; None: not said
    target_value: float | None = None
    latest: float | None = None
    latest_on: datetime | None = None
    # The reading the period's change is counted from: the last one before the period, else
    # the period's first.
    start: float | None = None
    start_on: datetime | None = None

    @property
    def change(self) -> float | None:
        if self.latest is None or self.start is None or self.start_on == self.latest_on:
            return None
        return self.latest - self.start

    @property
    def met(self) -> bool | None:
        """Whether the latest reading meets the target (None: no target, reading or direction
        to tell by; a KPI without a direction meets its target only on it)."""
        if self.latest is None or self.target_value is None:
            return None
        if self.direction == KpiDirection.LOWER:
            return self.latest <= self.target_value
        if self.direction == KpiDirection.HIGHER:
            return self.latest >= self.target_value
        return self.latest == self.target_value

    @property
    def to_go(self) -> float | None:
        """How far the latest reading still is from the target (0 when met)."""
        if self.met is None:
            return None
        return 0.0 if self.met else abs(self.target_value - self.latest)  # type: ignore[operator]

    @property
    def trend(self) -> str | None:
        """better, worse or flat (where a direction is set); up, down or flat otherwise."""
        change = self.change
        if change is None:
            return None
        scale = max(abs(self.start or 0), abs(self.latest or 0))
        if abs(change) <= FLAT_SHARE * scale or change == 0:
            return "flat"
        if self.direction is None:
            return "up" if change > 0 else "down"
        better = (change > 0) == (self.direction == KpiDirection.HIGHER)
        return "better" if better else "worse"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kpi_unit": self.unit,
            "kpi_direction": self.direction,
            "kpi_target_value": self.target_value,
            "kpi_latest": self.latest,
            "kpi_latest_on": self.latest_on.date().isoformat() if self.latest_on else None,
            "kpi_change": self.change,
            "kpi_change_since": self.start_on.date().isoformat()
            if self.change is not None and self.start_on
            else None,
            "kpi_target_met": self.met,
            "kpi_to_go": self.to_go,
            "kpi_trend": self.trend,
        }


@dataclass
class SuggestionFigures:
    filed: int = 0
    answered: int = 0
    accepted: int = 0
    done: int = 0
    median_days_to_answer: float | None = None
    merged_into_other: bool = False


@dataclass
class ObjectiveFigures:
    key: str
    title: str
    owner: str | None
    kpi: str | None
    target: str | None
    items_sent: int = 0
    messages_sent: int = 0
    reached: int = 0
    found_useful: int = 0
    not_relevant: int = 0
    shares: int = 0
    clicks: int = 0
    voice: int = 0
    voice_before: int = 0
    sentiment: float | None = None
    sentiment_before: float | None = None
    suggestions: SuggestionFigures = field(default_factory=SuggestionFigures)
    kpi_figures: KpiFigures = field(default_factory=KpiFigures)
    timeline: ObjectiveTimeline = field(default_factory=ObjectiveTimeline)
    # Decisions that named this objective's KPI, and their reviews (promise_figures.py).
    promises: PromiseFigures = field(default_factory=PromiseFigures)

    @property
    def useful_share(self) -> float | None:
        """Of the people the content reached, the share who said it was useful."""
        return self.found_useful / self.reached if self.reached else None

    @property
    def sentiment_trend(self) -> float | None:
        if self.sentiment is None or self.sentiment_before is None:
            return None
        return self.sentiment - self.sentiment_before

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float | None, digits: int = 3) -> float | None:
            return round(value, digits) if value is not None else None

        s = self.suggestions
        return {
            "objective": self.key,
            "title": self.title,
            "owner": self.owner,
            "kpi": self.kpi,
            "target": self.target,
            "content_items_sent": self.items_sent,
            "content_messages_sent": self.messages_sent,
            "people_reached": self.reached,
            "found_useful": self.found_useful,
            "useful_share": rounded(self.useful_share),
            "not_relevant": self.not_relevant,
            "shares": self.shares,
            "tracked_clicks": self.clicks,
            "voice_items": self.voice,
            "voice_items_previous_period": self.voice_before,
            "sentiment": rounded(self.sentiment),
            "sentiment_previous_period": rounded(self.sentiment_before),
            "suggestions_filed": None if s.merged_into_other else s.filed,
            "suggestions_answered": None if s.merged_into_other else s.answered,
            "suggestions_accepted": None if s.merged_into_other else s.accepted,
            "suggestions_done": None if s.merged_into_other else s.done,
            "median_days_to_first_answer": None if s.merged_into_other else s.median_days_to_answer,
            "suggestions_in_other": s.merged_into_other,
            **self.kpi_figures.as_dict(),
            "ideas_done_on": None
            if self.timeline.ideas_withheld
            else [e.day.date().isoformat() for e in self.timeline.ideas_done],
            "content_sent_on": [e.day.date().isoformat() for e in self.timeline.content_sent],
            **self.promises.as_dict(),
        }


@dataclass
class ObjectivesReport:
    since: datetime
    until: datetime
    rows: list[ObjectiveFigures]
    # Suggestions of objectives with too few people to show apart (and of no objective).
    other_suggestions: SuggestionFigures | None
    promises: PromiseFigures = field(default_factory=PromiseFigures)
    # Customer themes of ideas done lately, before and after (bot/services/theme_watch.py).
    watched_themes: list[ThemeWatch] = field(default_factory=list)


async def build_objectives_report(
    session: AsyncSession,
    viewer: Acting,
    sealer: Sealer,
    period: timedelta = timedelta(days=30),
    *,
    overdue_after: timedelta = DEFAULT_AFTER,
) -> ObjectivesReport:
    require_role(viewer, (Role.MANAGER, Role.STRATEGIST), N_("see the objectives report"))
    until = utcnow()
    since = until - period
    objectives = list(await session.scalars(select(Objective).order_by(Objective.key)))
    owners = {
        m.id: m.display_name
        for m in await session.scalars(
            select(Member).where(Member.id.in_([o.owner_id for o in objectives if o.owner_id]))
        )
    }
    rows = {
        o.id: ObjectiveFigures(o.key, o.title, owners.get(o.owner_id or 0), o.kpi, o.target)
        for o in objectives
    }
    await _content(session, rows, since, until)
    await _voice(session, rows, since, until, period)
    other = await _suggestions(session, sealer, rows, objectives, period)
    await _kpis(session, rows, objectives, since, until)
    promises, overall = await promise_figures(session, since, until, overdue_after=overdue_after)
    for objective_id, figures in promises.items():
        if objective_id in rows:
            rows[objective_id].promises = figures
    watched = await watch_themes(session, period, until)
    return ObjectivesReport(since, until, list(rows.values()), other, overall, watched)


async def _kpis(
    session: AsyncSession,
    rows: dict[int, ObjectiveFigures],
    objectives: list[Objective],
    since: datetime,
    until: datetime,
) -> None:
    withheld = {o.id for o in objectives if rows[o.id].suggestions.merged_into_other}
    timelines = await build_timelines(
        session, [o.id for o in objectives], since, until, withheld=withheld
    )
    for objective in objectives:
        row = rows[objective.id]
        row.timeline = timelines[objective.id]
        points = row.timeline.readings
        row.kpi_figures = KpiFigures(
            unit=objective.kpi_unit,
            direction=objective.kpi_direction,
            target_value=objective.target_value,
            latest=points[-1].value if points else None,
            latest_on=points[-1].day if points else None,
            start=points[0].value if points else None,
            start_on=points[0].day if points else None,
        )


async def _content(
    session: AsyncSession, rows: dict[int, ObjectiveFigures], since: datetime, until: datetime
) -> None:
    """What the content did for each objective, from the counts kept as it happened
    (bot/services/report_counters.py): the window's runs with their sent deliveries, the people
    reached and answering by their latest time, shares and clicks by day."""
    item_objective = dict(
        (
            await session.execute(
                select(ContentItem.id, ContentItem.objective_id).where(
                    ContentItem.objective_id.is_not(None)
                )
            )
        ).all()
    )
    items: dict[int, set[int]] = {}
    runs_of: dict[int, list[int]] = {}
    for run_id, _started_at, content_ids, sent in await sent_by_run(session, since, until):
        objectives_in_run = {item_objective[i] for i in content_ids or () if i in item_objective}
        for objective_id in objectives_in_run:
            if objective_id not in rows:
                continue
            rows[objective_id].messages_sent += sent
            runs_of.setdefault(objective_id, []).append(run_id)
            items.setdefault(objective_id, set()).update(
                i for i in content_ids if item_objective.get(i) == objective_id
            )
    people = await people_in(session, since, until, runs_of)
    events = await events_in(session, since, until)
    for objective_id, row in rows.items():
        row.items_sent = len(items.get(objective_id, ()))
        row.reached = people.get((objective_id, REACHED), 0)
        row.found_useful = people.get((objective_id, FeedbackKind.USEFUL.value), 0)
        row.not_relevant = people.get((objective_id, FeedbackKind.NOT_RELEVANT.value), 0)
        row.shares = events.get((objective_id, SHARED), 0)
        row.clicks = events.get((objective_id, CLICKS), 0)


async def _voice(
    session: AsyncSession,
    rows: dict[int, ObjectiveFigures],
    since: datetime,
    until: datetime,
    period: timedelta,
) -> None:
    for start, end, current in ((since, until, True), (since - period, since, False)):
        figures = await session.execute(
            select(VoiceItem.objective_id, func.count(VoiceItem.id), func.avg(VoiceItem.sentiment))
            .where(VoiceItem.received_at >= start, VoiceItem.received_at < end)
            .group_by(VoiceItem.objective_id)
        )
        for objective_id, count, sentiment in figures:
            row = rows.get(objective_id)
            if row is None:
                continue
            if current:
                row.voice, row.sentiment = count, sentiment
            else:
                row.voice_before, row.sentiment_before = count, sentiment


async def _suggestions(
    session: AsyncSession,
    sealer: Sealer,
    rows: dict[int, ObjectiveFigures],
    objectives: list[Objective],
    period: timedelta,
) -> SuggestionFigures | None:
    rollup = await build_rollup(
        session, OPERATOR, sealer, by="objective", period=period, lists=False
    )
    by_key = {row.key: row for row in rollup.rows}
    key_to_id = {o.key: o.id for o in objectives}
    for key, objective_id in key_to_id.items():
        if key in by_key:
            rows[objective_id].suggestions = _figures(by_key[key])
        else:
            rows[objective_id].suggestions.merged_into_other = OTHER in by_key
    return _figures(by_key[OTHER]) if OTHER in by_key else None


def _figures(row: Any) -> SuggestionFigures:
    delays = row.answer_delays
    return SuggestionFigures(
        filed=row.total,
        answered=row.answered,
        accepted=sum(row.by_status.get(s.value, 0) for s in ACCEPTED),
        done=row.by_status.get(SuggestionStatus.DONE.value, 0),
        median_days_to_answer=round(median(delays).total_seconds() / 86_400, 2) if delays else None,
    )
