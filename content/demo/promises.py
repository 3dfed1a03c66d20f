"""The demo's decisions as promises: ideas done weeks ago with a KPI named, so that on a fresh
install some reviews were answered, some are waiting on the manager (one of them overdue) and
some are not due yet, and the report's promise figures and the review cards have something to
show. Each answer is dated where the idea's story puts it, like the demo's other history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import ReviewState
from bot.sealing import Sealer
from bot.services.decision_reviews import answer_review, ask_due_reviews
from bot.services.kpi_readings import reading_on
from bot.services.members import get_member
from bot.services.promises import Promise, open_review
from bot.storage.models import DecisionReview, Delivery, OutboundMessage, Suggestion

PLATFORM = "shell"


def promise_of(answer: dict[str, Any]) -> Promise | None:
    spec = answer.get("promise")
    if not spec:
        return None
    return Promise(
        spec["objective"], spec.get("expect"), review_in=timedelta(days=spec["review_days"])
    )


async def date_the_promise(
    session: AsyncSession, suggestion: Suggestion, answer: dict[str, Any], decided_at: datetime
) -> DecisionReview | None:
    """The review recorded with the answer, moved back to the day the answer was given."""
    spec = answer.get("promise")
    review = await open_review(session, suggestion.id) if spec else None
    if review is None:
        return None
    review.decided_at = review.created_at = decided_at
    review.review_on = decided_at + timedelta(days=spec["review_days"])
    baseline = await reading_on(session, review.objective_id, decided_at)
    review.baseline_value = baseline.value if baseline is not None else None
    return review


async def settle_reviews(
    session: AsyncSession,
    sealer: Sealer,
    reviews: list[tuple[DecisionReview, dict[str, Any]]],
    now: datetime,
) -> None:
    """Each review whose date has passed is asked on its date, and answered the day after
    where the demo's manager answered it: both compare the KPI as it stood then. An answered
    review's card reads as it did once pressed (its answer, no buttons), as Slack or Teams
    would show it: not a "did it help?" that only says "already answered" when pressed."""
    await session.flush()
    for review, answer in sorted(reviews, key=lambda pair: pair[0].review_on):
        if review.review_on > now:
            continue
        await ask_due_reviews(session, sealer, review.review_on)
        if review.state != ReviewState.ASKED:
            continue
        verdict = answer["promise"].get("verdict")
        if verdict is None:
            continue
        manager = await get_member(session, PLATFORM, answer["by"])
        answered_on = review.review_on + timedelta(days=1)
        outcome = await answer_review(session, sealer, manager, review.id, verdict, answered_on)
        cards = select(Delivery.message_id).where(Delivery.dedupe_key.like(f"review:{review.id}:%"))
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_(cards))
            .values(payload=outcome.card.to_dict())
        )
