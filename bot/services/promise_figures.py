"""Promise figures for the objectives report: of the decisions that named a KPI, how many were
reviewed, how many moved their KPI the way the manager expected (from the reading at the decision
to the one at the review), how many the manager said helped, and how many reviews are overdue.

Decisions count in the period they were made, answers in the period they were given; overdue is
as of the period's end. A decision a later one replaced is not counted (the later one is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.review_cards import KpiChange
from bot.domain import KpiDirection, ReviewState, ReviewVerdict
from bot.services.escalation import DEFAULT_AFTER
from bot.storage.models import DecisionReview


@dataclass
class PromiseFigures:
    decisions: int = 0
    answered: int = 0
    # Answered reviews with a reading at the decision and one since (what "moved" is judged on).
    comparable: int = 0
    moved_as_expected: int = 0
    helped: int = 0
    overdue: int = 0

    @property
    def moved_share(self) -> float | None:
        return self.moved_as_expected / self.comparable if self.comparable else None

    @property
    def helped_share(self) -> float | None:
        return self.helped / self.answered if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        """Flat, for CSV and JSON: ``promises_`` fields beside the report's others."""

        def rounded(value: float | None) -> float | None:
            return round(value, 3) if value is not None else None

        return {
            "promises_decisions": self.decisions,
            "promises_reviewed": self.answered,
            "promises_moved_as_expected_share": rounded(self.moved_share),
            "promises_helped_share": rounded(self.helped_share),
            "promises_overdue": self.overdue,
        }


def moved_as_expected(review: DecisionReview) -> bool | None:
    change = KpiChange(review.baseline_value, review.review_value, KpiDirection(review.expected))
    return change.as_expected


async def promise_figures(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    *,
    overdue_after: timedelta = DEFAULT_AFTER,
) -> tuple[dict[int, PromiseFigures], PromiseFigures]:
    """Figures per objective id, and for all objectives together."""
    reviews = await session.scalars(
        select(DecisionReview).where(
            DecisionReview.state != ReviewState.SUPERSEDED,
            or_(
                DecisionReview.decided_at.between(since, until),
                DecisionReview.answered_at.between(since, until),
                DecisionReview.state == ReviewState.ASKED,
            ),
        )
    )
    by_objective: dict[int, PromiseFigures] = {}
    overall = PromiseFigures()
    for review in reviews:
        figures = by_objective.setdefault(review.objective_id, PromiseFigures())
        for each in (figures, overall):
            _count(each, review, since, until, overdue_after)
    return by_objective, overall


def _count(
    figures: PromiseFigures,
    review: DecisionReview,
    since: datetime,
    until: datetime,
    overdue_after: timedelta,
) -> None:
    if since <= review.decided_at <= until:
        figures.decisions += 1
    answered_at = review.answered_at
    if review.state == ReviewState.ANSWERED and answered_at and since <= answered_at <= until:
        figures.answered += 1
        figures.helped += review.verdict == ReviewVerdict.HELPED
        moved = moved_as_expected(review)
        if moved is not None:
            figures.comparable += 1
            figures.moved_as_expected += moved
    asked_at = review.asked_at
    if review.state == ReviewState.ASKED and asked_at and asked_at <= until - overdue_after:
        figures.overdue += 1
