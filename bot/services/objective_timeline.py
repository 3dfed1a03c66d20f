"""What might have moved an objective's KPI, on the KPI's own time axis: the readings, the days
ideas about the objective were set to done, the days content for it went out, and customers'
weekly sentiment on the voice tied to it. The report and its chart put them side by side; they
show coincidence in time, and the manager judges the cause.

An idea appears as its number and day only, never its text or author (the report is seen by
managers of other teams too), and not at all where the rollup merges the objective's ideas into
"other" (fewer than five people: their number and timing could single someone out).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import SuggestionStatus
from bot.services.kpi_readings import day_start, reading_on, readings_between
from bot.services.report_counters import sent_by_run
from bot.storage.models import (
    ContentItem,
    Suggestion,
    SuggestionResponse,
    VoiceItem,
)

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Point:
    day: datetime  # midnight UTC
    value: float


@dataclass(frozen=True)
class IdeaDone:
    day: datetime
    suggestion_id: int


@dataclass(frozen=True)
class ContentSent:
    day: datetime
    items: int  # the objective's items in that day's digests
    messages: int  # digest messages sent with them


@dataclass(frozen=True)
class SentimentWeek:
    """Customers' mean sentiment (-1 to 1) over the week that ends on ``end``."""

    end: datetime
    mean: float
    items: int


@dataclass
class ObjectiveTimeline:
    # The readings in the period, after the last one before it (where the line starts from).
    readings: list[Point] = field(default_factory=list)
    ideas_done: list[IdeaDone] = field(default_factory=list)
    # True where ideas are merged into "other" and so not shown.
    ideas_withheld: bool = False
    content_sent: list[ContentSent] = field(default_factory=list)
    sentiment: list[SentimentWeek] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def day(moment: datetime) -> str:
            return moment.date().isoformat()

        return {
            "readings": [{"date": day(p.day), "value": p.value} for p in self.readings],
            "ideas_done": None
            if self.ideas_withheld
            else [{"date": day(e.day), "idea": e.suggestion_id} for e in self.ideas_done],
            "content_sent": [
                {"date": day(e.day), "items": e.items, "messages": e.messages}
                for e in self.content_sent
            ],
            "sentiment_weekly": [
                {"week_to": day(w.end), "mean": round(w.mean, 3), "items": w.items}
                for w in self.sentiment
            ],
        }


async def build_timelines(
    session: AsyncSession,
    objective_ids: list[int],
    since: datetime,
    until: datetime,
    *,
    withheld: Collection[int] = (),
) -> dict[int, ObjectiveTimeline]:
    """Each objective's timeline over [since, until]; ``withheld``: objectives whose ideas are
    merged into "other" (their done ideas are left out)."""
    timelines = {objective_id: ObjectiveTimeline() for objective_id in objective_ids}
    for objective_id, timeline in timelines.items():
        timeline.readings = await _readings(session, objective_id, since, until)
        timeline.ideas_withheld = objective_id in withheld
    await _ideas_done(session, timelines, since, until)
    await _content_sent(session, timelines, since, until)
    await _sentiment(session, timelines, since, until)
    return timelines


async def _readings(
    session: AsyncSession, objective_id: int, since: datetime, until: datetime
) -> list[Point]:
    inside = await readings_between(session, objective_id, since, until)
    before = await reading_on(session, objective_id, day_start(since) - timedelta(days=1))
    return [Point(r.measured_on, r.value) for r in ([before] if before else []) + inside]


async def _ideas_done(
    session: AsyncSession, timelines: dict[int, ObjectiveTimeline], since: datetime, until: datetime
) -> None:
    """The day each idea was last set to done in the period (one marker per idea)."""
    rows = await session.execute(
        select(Suggestion.objective_id, Suggestion.id, func.max(SuggestionResponse.created_at))
        .join(SuggestionResponse, SuggestionResponse.suggestion_id == Suggestion.id)
        .where(
            Suggestion.objective_id.in_(list(timelines)),
            Suggestion.status == SuggestionStatus.DONE,
            Suggestion.hidden_at.is_(None),
            Suggestion.duplicate_of_id.is_(None),
            SuggestionResponse.status_after == SuggestionStatus.DONE,
            SuggestionResponse.created_at >= since,
            SuggestionResponse.created_at <= until,
        )
        .group_by(Suggestion.objective_id, Suggestion.id)
    )
    for objective_id, suggestion_id, at in rows:
        timeline = timelines[objective_id]
        if not timeline.ideas_withheld:
            timeline.ideas_done.append(IdeaDone(day_start(at), suggestion_id))
    for timeline in timelines.values():
        timeline.ideas_done.sort(key=lambda e: (e.day, e.suggestion_id))


async def _content_sent(
    session: AsyncSession, timelines: dict[int, ObjectiveTimeline], since: datetime, until: datetime
) -> None:
    """Per day, the objective's items in digest runs that reached someone, and the messages."""
    item_objective = dict(
        (
            await session.execute(
                select(ContentItem.id, ContentItem.objective_id).where(
                    ContentItem.objective_id.in_(list(timelines))
                )
            )
        ).all()
    )
    if not item_objective:
        return
    # Sent deliveries per run are counted as they are recorded (report_counters.py).
    runs = [
        (run_id, started_at, content_ids, sent)
        for run_id, started_at, content_ids, sent in await sent_by_run(
            session, since, until, until_inclusive=True
        )
        if sent
    ]
    by_day: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for _run_id, started_at, content_ids, sent in runs:
        counts: dict[int, int] = defaultdict(int)
        for item_id in content_ids or ():
            if item_id in item_objective:
                counts[item_objective[item_id]] += 1
        for objective_id, items in counts.items():
            totals = by_day[(objective_id, day_start(started_at))]
            totals[0] += items
            totals[1] += sent
    for (objective_id, day), (items, messages) in sorted(by_day.items(), key=lambda kv: kv[0][1]):
        timelines[objective_id].content_sent.append(ContentSent(day, items, messages))


async def _sentiment(
    session: AsyncSession, timelines: dict[int, ObjectiveTimeline], since: datetime, until: datetime
) -> None:
    """Mean sentiment per whole week counted back from ``until`` (the newest point is a full
    week, as in the voice chart)."""
    rows = await session.execute(
        select(VoiceItem.objective_id, VoiceItem.received_at, VoiceItem.sentiment).where(
            VoiceItem.objective_id.in_(list(timelines)),
            VoiceItem.received_at >= since,
            VoiceItem.received_at <= until,
            VoiceItem.sentiment.is_not(None),
        )
    )
    weeks: dict[tuple[int, int], list[float]] = defaultdict(list)
    for objective_id, received_at, sentiment in rows:
        weeks[(objective_id, (until - received_at) // WEEK)].append(sentiment)
    for (objective_id, back), values in sorted(weeks.items(), key=lambda kv: -kv[0][1]):
        timelines[objective_id].sentiment.append(
            SentimentWeek(until - back * WEEK, sum(values) / len(values), len(values))
        )
