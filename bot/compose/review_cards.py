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
from bot.compose.suggestion_cards import status_word
from bot.compose.text import day_with_weekday, humanise_duration, truncate
from bot.domain import KpiDirection, ReviewVerdict
from bot.i18n import N_, _, ngettext
from bot.i18n.formats import format_date, format_number
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


# Which way a KPI should go, inside a sentence: "you expected it to go higher".
DIRECTIONS = {
    KpiDirection.HIGHER: N_("higher"),
    KpiDirection.LOWER: N_("lower"),
}
VERDICTS = {
    ReviewVerdict.HELPED: N_("it helped"),
    ReviewVerdict.DID_NOT_HELP: N_("it did not help; revisit"),
}


def verdict_label(verdict: str) -> str:
    """A verdict as people read it ("it helped"), in the language being spoken."""
    return _(VERDICTS[ReviewVerdict(verdict)])


def _direction(direction: str) -> str:
    return _(DIRECTIONS[KpiDirection(direction)])


def _sentence(text: str) -> str:
    """A sentence that starts with a KPI's name, its first letter raised, its full stop added."""
    # Translators: a whole sentence with its full stop (Japanese: "{sentence}。").
    return _("{sentence}.").format(sentence=f"{text[:1].upper()}{text[1:]}")


def kpi_name(review: DecisionReview) -> str:
    return review.objective.kpi or _("the KPI of {objective}").format(
        objective=review.objective.title
    )


def _decided(review: DecisionReview) -> str:
    return status_word(review.decided_status)


def change_sentence(review: DecisionReview, change: KpiChange) -> str:
    """'first reply time went from 74 to 52 minutes since #12 was done'."""
    kpi, unit = kpi_name(review), review.objective.kpi_unit
    said = {"kpi": kpi, "number": review.suggestion_id, "status": _decided(review)}
    if change.before is None and change.after is None:
        return _(
            "{kpi} has no readings around the decision yet (since #{number} was {status})"
        ).format(**said)
    if change.before is None:
        return _("{kpi} is {after}, with no reading before #{number} was {status}").format(
            after=kpi_value(change.after, unit), **said
        )
    if change.after is None:
        return _("{kpi} has no reading since #{number} was {status}; it stood at {before}").format(
            before=kpi_value(change.before, unit), **said
        )
    if change.after == change.before:
        return _("{kpi} stayed at {after} since #{number} was {status}").format(
            after=kpi_value(change.after, unit), **said
        )
    before = kpi_value(change.before, unit) if unit == "%" else kpi_number(change.before)
    return _("{kpi} went from {before} to {after} since #{number} was {status}").format(
        before=before, after=kpi_value(change.after, unit), **said
    )


def verdict_line(change: KpiChange, who: str | None = None) -> str:
    """Against what ``who`` (the deciding manager; None: the reader, on their own card)
    expected."""
    expected = change.as_expected
    if expected is None:
        return _("Not enough readings to say which way it moved.")
    direction = _direction(change.expected)
    if change.moved == "unchanged":
        line = (
            _("It did not move; you expected it to go {direction}.")
            if who is None
            else _("It did not move; {name} expected it to go {direction}.")
        )
    elif expected:
        line = (
            _("That is the way you expected ({direction}).")
            if who is None
            else _("That is the way {name} expected ({direction}).")
        )
    else:
        line = (
            _("That is not the way you expected: you expected it to go {direction}.")
            if who is None
            else _("That is not the way {name} expected: {name} expected it to go {direction}.")
        )
    return line.format(name=who, direction=direction)


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
        Button(_("Yes, it helped"), actions.REVIEW_ANSWER, value("helped"), ButtonStyle.PRIMARY),
        Button(_("No, revisit"), actions.REVIEW_ANSWER, value("revisit"), ButtonStyle.DANGER),
        *(
            Button(
                ngettext(
                    "Too early: look again in {count} day",
                    "Too early: look again in {count} days",
                    days,
                ).format(count=format_number(days)),
                actions.REVIEW_ANSWER,
                value("later", days),
            )
            for days in LATER_DAYS
        ),
    )


def _facts(review: DecisionReview, suggestion: Suggestion, change: KpiChange) -> tuple[Fact, ...]:
    unit = review.objective.kpi_unit
    kpi = kpi_name(review)
    return (
        Fact(
            _("Idea"),
            _("#{number}: {text}").format(
                number=suggestion.id, text=truncate(suggestion.text, 300)
            ),
        ),
        Fact(_("Objective"), review.objective.title),
        Fact(_("{kpi} at the decision").format(kpi=kpi), kpi_value(change.before, unit)),
        Fact(_("{kpi} now").format(kpi=kpi), kpi_value(change.after, unit)),
        Fact(
            _("Expected"),
            _("{direction} ({status} on {date})").format(
                direction=_direction(change.expected),
                status=_decided(review),
                date=format_date(review.decided_at),
            ),
        ),
    )


def review_card(
    review: DecisionReview,
    suggestion: Suggestion,
    change: KpiChange,
    *,
    title: str = "",
    who: str | None = None,
) -> Message:
    """The manager's card on the review date: the KPI before and after, and did it help?
    ``who`` made the decision (None on the deciding manager's own card)."""
    sentence = change_sentence(review, change)
    title = title or _("Did #{number} help? Time to check").format(number=suggestion.id)
    text = " ".join((_sentence(sentence), verdict_line(change, who), _("Did it help?")))
    return Message(
        fallback=_("{title}: {text}").format(
            title=title, text=_("{sentence}.").format(sentence=sentence)
        ),
        kind="decision_review",
        cards=(
            Card(
                title=title,
                text=text,
                facts=_facts(review, suggestion, change),
                buttons=review_buttons(review),
                footer=_("Your answer is told to the idea's author and everyone who voted for it."),
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
    title = _("The review of #{number} has waited {duration} for {name}").format(
        number=suggestion.id, duration=humanise_duration(waited), name=reviewer
    )
    return review_card(review, suggestion, change, title=title, who=reviewer)


def answered_card(
    review: DecisionReview, suggestion: Suggestion, change: KpiChange, note: str
) -> Message:
    """The manager's card once answered: the same figures, the answer instead of the buttons."""
    sentence = change_sentence(review, change)
    title = _("Review of #{number}: {note}").format(number=suggestion.id, note=note)
    return Message(
        fallback=f"{title}. " + _("{sentence}.").format(sentence=sentence),
        kind="decision_review",
        cards=(
            Card(
                title=title,
                text=f"{_sentence(sentence)} {verdict_line(change)}",
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
    says = _("{name} says {verdict}.").format(name=by, verdict=verdict_label(verdict))
    text = f"{_sentence(sentence)} {says}"
    if verdict is ReviewVerdict.DID_NOT_HELP:
        text += " " + _("The manager will revisit the idea.")
    return Message(
        fallback=f"{title}. {text}",
        kind="decision_review_answer",
        cards=(
            Card(
                title=title,
                text=text,
                facts=(
                    Fact(label, truncate(suggestion.text, 300)),
                    Fact(_("Objective"), review.objective.title),
                    Fact(_("Checked by"), by),
                ),
            ),
        ),
    )


def _helped(review: DecisionReview) -> bool:
    return review.verdict == ReviewVerdict.HELPED


def review_author_notice(
    review: DecisionReview, suggestion: Suggestion, change: KpiChange, *, by: str
) -> Message:
    if suggestion.anonymous:
        title = (
            _("Your anonymous suggestion #{number} was checked against its KPI: it helped")
            if _helped(review)
            else _(
                "Your anonymous suggestion #{number} was checked against its KPI: it did not help"
            )
        )
    else:
        title = (
            _("Your suggestion #{number} was checked against its KPI: it helped")
            if _helped(review)
            else _("Your suggestion #{number} was checked against its KPI: it did not help")
        )
    return _told(title.format(number=suggestion.id), review, suggestion, change, by, _("Your idea"))


def review_voter_notice(
    review: DecisionReview, suggestion: Suggestion, change: KpiChange, *, by: str
) -> Message:
    title = (
        _("An idea you voted for (#{number}) was checked against its KPI: it helped")
        if _helped(review)
        else _("An idea you voted for (#{number}) was checked against its KPI: it did not help")
    )
    return _told(title.format(number=suggestion.id), review, suggestion, change, by, _("The idea"))


def review_merged_notice(
    review: DecisionReview,
    suggestion: Suggestion,
    duplicate: Suggestion,
    change: KpiChange,
    *,
    by: str,
) -> Message:
    if duplicate.anonymous:
        title = (
            _(
                "The idea your anonymous suggestion #{number} joined (#{target}) was checked "
                "against its KPI: it helped"
            )
            if _helped(review)
            else _(
                "The idea your anonymous suggestion #{number} joined (#{target}) was checked "
                "against its KPI: it did not help"
            )
        )
    else:
        title = (
            _(
                "The idea your suggestion #{number} joined (#{target}) was checked against its "
                "KPI: it helped"
            )
            if _helped(review)
            else _(
                "The idea your suggestion #{number} joined (#{target}) was checked against its "
                "KPI: it did not help"
            )
        )
    return _told(
        title.format(number=duplicate.id, target=suggestion.id),
        review,
        suggestion,
        change,
        by,
        _("The idea"),
    )


def review_day(moment: datetime) -> str:
    """'Mon, Dec 7, 2026' in the language being spoken."""
    return day_with_weekday(moment)
