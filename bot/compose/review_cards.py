"""Cards about decision reviews: the manager's "did it help?" card, the card after it was
answered, the flag for an overdue one, and what the idea's author and voters are told.

Every card says the KPI before and after in one sentence a person reads at a glance: "first reply
time went from 74 to 52 minutes since #12 was done".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.compose import actions
from bot.compose.kpi_text import kpi_number, kpi_value
from bot.compose.text import humanise_duration, truncate
from bot.domain import KpiDirection, ReviewVerdict, SuggestionStatus
from bot.messages import Button, ButtonStyle, Card, Fact, Message
from bot.storage.models import DecisionReview, Suggestion

LATER_DAYS = (7, 14, 30)


@dataclass(frozen=True)
class KpiChange:
    """The KPI at the decision and now (None: no reading then, or none since)."""

    before: float | None
    after: float | None
    expected: KpiDirection

    @property
    def moved(self) -> str | None:
        """'higher', 'lower' or 'unchanged'; None when either reading is missing."""
        if self.before is None or self.after is None:
            return None
        if self.after == self.before:
            return "unchanged"
        return KpiDirection.HIGHER if self.after > self.before else KpiDirection.LOWER

    @property
    def as_expected(self) -> bool | None:
        moved = self.moved
        return None if moved is None else moved == self.expected


def kpi_name(review: DecisionReview) -> str:
    return review.objective.kpi or f"the KPI of {review.objective.title}"


def _decided(review: DecisionReview) -> str:
    return SuggestionStatus(review.decided_status).label


def change_sentence(review: DecisionReview, change: KpiChange) -> str:
    """'first reply time went from 74 to 52 minutes since #12 was done'."""
    kpi, unit = kpi_name(review), review.objective.kpi_unit
    since = f"since #{review.suggestion_id} was {_decided(review)}"
    if change.before is None and change.after is None:
        return f"{kpi} has no readings around the decision yet ({since})"
    if change.before is None:
        before = f"before #{review.suggestion_id} was {_decided(review)}"
        return f"{kpi} is {kpi_value(change.after, unit)}, with no reading {before}"
    if change.after is None:
        return f"{kpi} has no reading {since}; it stood at {kpi_value(change.before, unit)}"
    if change.after == change.before:
        return f"{kpi} stayed at {kpi_value(change.after, unit)} {since}"
    before = kpi_value(change.before, unit) if unit == "%" else kpi_number(change.before)
    return f"{kpi} went from {before} to {kpi_value(change.after, unit)} {since}"


def verdict_line(change: KpiChange, who: str = "you") -> str:
    """Against what ``who`` (the deciding manager; "you" on their own card) expected."""
    expected = change.as_expected
    if expected is None:
        return "Not enough readings to say which way it moved."
    if change.moved == "unchanged":
        return f"It did not move; {who} expected it to go {change.expected}."
    if expected:
        return f"That is the way {who} expected ({change.expected})."
    return f"That is not the way {who} expected: {who} expected it to go {change.expected}."


def review_buttons(review: DecisionReview) -> tuple[Button, ...]:
    """Yes / no / too early; ``round`` ties a press to this card, so a press on a card that was
    already answered with "too early" is recognised as a repeat."""

    def value(answer: str, days: int | None = None) -> dict[str, object]:
        found: dict[str, object] = {
            "review": review.id,
            "answer": answer,
            "round": review.postponed,
        }
        if days is not None:
            found["days"] = days
        return found

    return (
        Button("Yes, it helped", actions.REVIEW_ANSWER, value("helped"), ButtonStyle.PRIMARY),
        Button("No, revisit", actions.REVIEW_ANSWER, value("revisit"), ButtonStyle.DANGER),
        *(
            Button(
                f"Too early: look again in {days} days", actions.REVIEW_ANSWER, value("later", days)
            )
            for days in LATER_DAYS
        ),
    )


def _facts(review: DecisionReview, suggestion: Suggestion, change: KpiChange) -> tuple[Fact, ...]:
    unit = review.objective.kpi_unit
    return (
        Fact("Idea", f"#{suggestion.id}: {truncate(suggestion.text, 300)}"),
        Fact("Objective", review.objective.title),
        Fact(f"{kpi_name(review)} at the decision", kpi_value(change.before, unit)),
        Fact(f"{kpi_name(review)} now", kpi_value(change.after, unit)),
        Fact("Expected", f"{change.expected} ({_decided(review)} on {review.decided_at:%d %b %Y})"),
    )


def review_card(
    review: DecisionReview,
    suggestion: Suggestion,
    change: KpiChange,
    *,
    title: str = "",
    who: str = "you",
) -> Message:
    """The manager's card on the review date: the KPI before and after, and did it help?
    ``who`` made the decision ("you" on the deciding manager's own card)."""
    sentence = change_sentence(review, change)
    title = title or f"Did #{suggestion.id} help? Time to check"
    text = f"{sentence[:1].upper()}{sentence[1:]}. {verdict_line(change, who)} Did it help?"
    return Message(
        fallback=f"{title}: {sentence}.",
        kind="decision_review",
        cards=(
            Card(
                title=title,
                text=text,
                facts=_facts(review, suggestion, change),
                buttons=review_buttons(review),
                footer="Your answer is told to the idea's author and everyone who voted for it.",
            ),
        ),
    )


def overdue_flag(
    review: DecisionReview,
    suggestion: Suggestion,
    change: KpiChange,
    *,
    waited: timedelta,
    reviewer: str,
) -> Message:
    """For the managers above: a review nobody answered. They may answer it themselves."""
    title = f"The review of #{suggestion.id} has waited {humanise_duration(waited)} for {reviewer}"
    return review_card(review, suggestion, change, title=title, who=reviewer)


def answered_card(
    review: DecisionReview, suggestion: Suggestion, change: KpiChange, note: str
) -> Message:
    """The manager's card once answered: the same figures, the answer instead of the buttons."""
    sentence = change_sentence(review, change)
    title = f"Review of #{suggestion.id}: {note}"
    return Message(
        fallback=f"{title}. {sentence}.",
        kind="decision_review",
        cards=(
            Card(
                title=title,
                text=f"{sentence[:1].upper()}{sentence[1:]}. {verdict_line(change)}",
                facts=_facts(review, suggestion, change),
            ),
        ),
    )


def _told(
    title: str,
    review: DecisionReview,
    suggestion: Suggestion,
    change: KpiChange,
    by: str,
    label: str,
) -> Message:
    verdict = ReviewVerdict(review.verdict or ReviewVerdict.HELPED)
    sentence = change_sentence(review, change)
    text = f"{sentence[:1].upper()}{sentence[1:]}. {by} says {verdict.label}."
    if verdict is ReviewVerdict.DID_NOT_HELP:
        text += " The manager will revisit the idea."
    return Message(
        fallback=f"{title}. {text}",
        kind="decision_review_answer",
        cards=(
            Card(
                title=title,
                text=text,
                facts=(
                    Fact(label, truncate(suggestion.text, 300)),
                    Fact("Objective", review.objective.title),
                    Fact("Checked by", by),
                ),
            ),
        ),
    )


def _outcome(review: DecisionReview) -> str:
    return "it helped" if review.verdict == ReviewVerdict.HELPED else "it did not help"


def review_author_notice(
    review: DecisionReview, suggestion: Suggestion, change: KpiChange, *, by: str
) -> Message:
    which = "anonymous suggestion" if suggestion.anonymous else "suggestion"
    title = f"Your {which} #{suggestion.id} was checked against its KPI: {_outcome(review)}"
    return _told(title, review, suggestion, change, by, "Your idea")


def review_voter_notice(
    review: DecisionReview, suggestion: Suggestion, change: KpiChange, *, by: str
) -> Message:
    title = (
        f"An idea you voted for (#{suggestion.id}) was checked against its KPI: {_outcome(review)}"
    )
    return _told(title, review, suggestion, change, by, "The idea")


def review_merged_notice(
    review: DecisionReview,
    suggestion: Suggestion,
    duplicate: Suggestion,
    change: KpiChange,
    *,
    by: str,
) -> Message:
    which = "anonymous suggestion" if duplicate.anonymous else "suggestion"
    title = (
        f"The idea your {which} #{duplicate.id} joined (#{suggestion.id}) was checked against "
        f"its KPI: {_outcome(review)}"
    )
    return _told(title, review, suggestion, change, by, "The idea")


def review_day(moment: datetime) -> str:
    return f"{moment:%a %d %b %Y}"
