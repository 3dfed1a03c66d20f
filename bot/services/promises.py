"""A decision as a promise: when a manager sets an idea to planned or done, they may say which
objective's KPI it should move, which way, and when to look. The promise is a DecisionReview,
written in the answer's own transaction with the KPI as it stood that day (its baseline).

Why planned has a date too: a planned idea that never ships must not vanish either, so without
a date it is looked at after ``PLANNED_LOOK_AFTER``; and when it is then set to done, the promise
carries over to the done decision (a fresh look ``DONE_LOOK_AFTER`` later) unless the manager
gives a new one. A later decision on the idea (a status change, or a new promise) supersedes
the open review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import (
    DECIDED_STATUSES,
    KpiDirection,
    ReviewState,
    SuggestionStatus,
    closest_choice,
    normalise_choice,
)
from bot.errors import InvalidInput, NotFound, concerning
from bot.i18n import _
from bot.i18n.formats import format_date
from bot.services.kpi_readings import reading_on
from bot.services.objectives import find_objective, list_objectives
from bot.services.permissions import Acting, Operator, actor_id
from bot.storage.models import DecisionReview, Objective, Suggestion, SuggestionResponse

DONE_LOOK_AFTER = timedelta(days=30)
PLANNED_LOOK_AFTER = timedelta(days=90)
# Further than this is a typo (2072), not a plan.
LONGEST_WAIT = timedelta(days=3 * 365)
# The review card reaches the manager at this hour of their own day.
REVIEW_HOUR = time(9, 0)
OPEN_STATES = (ReviewState.WAITING, ReviewState.ASKED)

_IN_DAYS = re.compile(r"^(?:in\s+)?(\d{1,4})\s*(d|day|days|w|week|weeks)?$")


@dataclass(frozen=True)
class Promise:
    """What a manager promised with a decision, as typed (checked by ``check_promise``).
    ``review_in`` and ``review_on`` are alternatives; neither means the default wait."""

    objective_key: str
    expect: str | None = None
    review_in: timedelta | None = None
    review_on: date | None = None

    @classmethod
    def from_fields(cls, objective: str, expect: str = "", review: str = "") -> Promise | None:
        """From a form's or a command's text fields; None when no objective was chosen (an
        answer without a KPI check), but a direction or a date alone is refused."""
        objective, expect, review = objective.strip(), expect.strip(), review.strip()
        if not objective:
            if expect or review:
                raise InvalidInput(
                    _(
                        "Choose the objective whose KPI it should move; a direction or a review "
                        "date means nothing without one."
                    ),
                    field="objective",
                )
            return None
        with concerning("review"):
            review_in, review_on = parse_when(review) if review else (None, None)
        return cls(objective, expect or None, review_in, review_on)


def promise_from_options(
    objective: str | None,
    expect: str | None = None,
    review_in: str | None = None,
    review_on: str | None = None,
) -> Promise | None:
    """From command options (--objective, --expect, --review-in, --review-on)."""
    if review_in and review_on:
        raise InvalidInput(_("Give --review-in or --review-on, not both."), field="review")
    with concerning("review"):
        if review_in and parse_when(review_in)[0] is None:
            raise InvalidInput(
                _("--review-in takes a wait like 30d, not '{text}'.").format(text=review_in)
            )
        if review_on and parse_when(review_on)[1] is None:
            raise InvalidInput(
                _("--review-on takes a date like 2027-03-01, not '{text}'.").format(text=review_on)
            )
    return Promise.from_fields(objective or "", expect or "", review_in or review_on or "")


def parse_when(text: str) -> tuple[timedelta | None, date | None]:
    """'30d', '30', '4w', 'in 30 days' (a wait) or '2027-03-01' (a date)."""
    value = text.strip().lower()
    found = _IN_DAYS.match(value)
    if found:
        number = int(found.group(1))
        weeks = (found.group(2) or "d").startswith("w")
        return timedelta(days=number * (7 if weeks else 1)), None
    try:
        return None, date.fromisoformat(value)
    except ValueError:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise InvalidInput(
            _(
                "'{text}' is not a review date; write a wait like 30d or 4w, or a date like "
                "2027-03-01."
            ).format(text=shown)
        ) from None


def parse_direction(text: str) -> KpiDirection:
    value = normalise_choice(text)
    aliases = {"up": "higher", "down": "lower", "increase": "higher", "decrease": "lower"}
    value = aliases.get(value, value)
    try:
        return KpiDirection(value)
    except ValueError:
        raise InvalidInput(
            _("'{text}' is not a direction; the KPI should go higher or lower.").format(text=text),
            field="expect",
        ) from None


async def promised_objective(session: AsyncSession, key: str) -> Objective:
    """The objective named, or a refusal offering the closest key (a typo is the usual case)."""
    objective = await find_objective(session, key)
    if objective is not None:
        return objective
    keys = [o.key for o in await list_objectives(session)]
    guess = closest_choice(key, keys)
    shown = key if len(key) <= 40 else key[:37] + "..."
    if guess:
        text = _("There is no objective '{key}'. Did you mean {guess}?")
    else:
        text = _("There is no objective '{key}'. Objectives: {known}.")
    known = ", ".join(keys) or _("none yet")
    raise NotFound(text.format(key=shown, guess=guess, known=known), field="objective")


def zone_of(actor: Acting) -> ZoneInfo:
    name = "UTC" if isinstance(actor, Operator) else (actor.timezone or "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def review_moment(day: date, zone: ZoneInfo) -> datetime:
    """The review day at REVIEW_HOUR of the deciding manager's clock, in UTC."""
    return datetime.combine(day, REVIEW_HOUR, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class CheckedPromise:
    objective: Objective
    expected: KpiDirection
    review_on: datetime


async def check_promise(
    session: AsyncSession,
    promise: Promise,
    status: SuggestionStatus,
    actor: Acting,
    now: datetime,
) -> CheckedPromise:
    """Refuse what cannot be a promise, before anything is written: a KPI on a status that is no
    decision, an unknown objective, a direction the KPI has none of, a date already gone."""
    if status not in DECIDED_STATUSES:
        raise InvalidInput(
            _(
                "A KPI check goes with planned or done, not {status}: set the status to "
                "planned or done, or leave the objective empty."
            ).format(status=_(status.label)),
            field="objective",
        )
    objective = await promised_objective(session, promise.objective_key)
    if promise.expect:
        expected = parse_direction(promise.expect)
    elif objective.kpi_direction:
        expected = KpiDirection(objective.kpi_direction)
    else:
        raise InvalidInput(
            _(
                "{key}'s KPI has no better direction set; say which way it should move "
                "(higher or lower)."
            ).format(key=objective.key),
            field="expect",
        )
    zone = zone_of(actor)
    today = now.astimezone(zone).date()
    if promise.review_on is not None:
        day = promise.review_on
        if day <= today:
            text = (
                _("{day} is today; the review date must be after today.")
                if day == today
                else _("{day} is in the past; the review date must be after today.")
            )
            raise InvalidInput(text.format(day=day.isoformat()), field="review")
    else:
        wait = promise.review_in
        if wait is None:
            wait = DONE_LOOK_AFTER if status == SuggestionStatus.DONE else PLANNED_LOOK_AFTER
        if wait.days < 1:
            raise InvalidInput(_("Look at least one day after the decision."), field="review")
        day = today + timedelta(days=wait.days)
    if day - today > LONGEST_WAIT:
        raise InvalidInput(
            _("{day} is more than three years away; choose a nearer review date.").format(
                day=day.isoformat()
            ),
            field="review",
        )
    return CheckedPromise(objective, expected, review_moment(day, zone))


async def open_review(session: AsyncSession, suggestion_id: int) -> DecisionReview | None:
    """The idea's review still to be answered (waiting or asked), if any."""
    return (
        await session.scalars(
            select(DecisionReview)
            .where(
                DecisionReview.suggestion_id == suggestion_id,
                DecisionReview.state.in_(OPEN_STATES),
            )
            .order_by(DecisionReview.id.desc())
            .limit(1)
        )
    ).first()


async def carried_over(
    session: AsyncSession, suggestion: Suggestion, status: SuggestionStatus, actor: Acting
) -> Promise | None:
    """Planned with a promise, then done without a new one: the planned promise is looked at
    ``DONE_LOOK_AFTER`` the idea is done, since that is when it can start to move the KPI."""
    if status != SuggestionStatus.DONE or suggestion.status != SuggestionStatus.PLANNED:
        return None
    previous = await open_review(session, suggestion.id)
    if previous is None or previous.decided_status != SuggestionStatus.PLANNED:
        return None
    return Promise(previous.objective.key, previous.expected)


async def record_promise(
    session: AsyncSession,
    suggestion: Suggestion,
    response: SuggestionResponse,
    checked: CheckedPromise | None,
    actor: Acting,
    now: datetime,
) -> DecisionReview | None:
    """Write the decision's review (if it made a promise), superseding the open one when the
    decision changed the status or made a new promise."""
    changed = response.status_after != response.status_before
    if changed or checked is not None:
        await session.execute(
            update(DecisionReview)
            .where(
                DecisionReview.suggestion_id == suggestion.id,
                DecisionReview.state.in_(OPEN_STATES),
            )
            .values(state=ReviewState.SUPERSEDED)
            .execution_options(synchronize_session="fetch")
        )
    if checked is None:
        return None
    baseline = await reading_on(session, checked.objective.id, now)
    review = DecisionReview(
        suggestion=suggestion,
        response_id=response.id,
        objective=checked.objective,
        expected=checked.expected,
        decided_status=response.status_after,
        decided_at=now,
        decided_by_id=actor_id(actor),
        review_on=checked.review_on,
        baseline_value=baseline.value if baseline is not None else None,
        state=ReviewState.WAITING,
        created_at=now,
    )
    session.add(review)
    await session.flush()
    return review


def promise_note(review: DecisionReview, zone: ZoneInfo) -> str:
    """What the manager is told the promise is: '… will be checked on Mon 8 Mar 2027'."""
    day = format_date(review.review_on.astimezone(zone), "full")
    kpi = review.objective.kpi or _("the KPI of {objective}").format(
        objective=review.objective.title
    )
    if review.expected == KpiDirection.HIGHER:
        text = _("You will be asked on {day} whether {kpi} went higher as expected.")
    else:
        text = _("You will be asked on {day} whether {kpi} went lower as expected.")
    return text.format(day=day, kpi=kpi)
