"""Decision reviews: on a promise's date the deciding manager is asked whether the decision moved
its KPI; the answer is told to the idea's author (sealed when anonymous) and everyone who backed
it; a review left unanswered climbs the hierarchy like an unanswered idea.

The review card goes to the manager who decided, or (they left, or the operator decided) to the
managers of the team the idea is shown under. Only they, a manager above them, or an admin may
answer. Nothing here names an anonymous author: the rows and logs hold ids of ideas and reviews.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.review_cards import (
    KpiChange,
    answered_card,
    overdue_flag,
    review_author_notice,
    review_card,
    review_day,
    review_merged_notice,
    review_voter_notice,
)
from bot.compose.text import humanise_duration
from bot.domain import KpiDirection, ReviewState, ReviewVerdict, Role, normalise_choice
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.i18n import N_, _, ngettext
from bot.i18n.formats import format_number
from bot.messages import Message
from bot.outbox.queue import enqueue_in_their_languages, member_recipient
from bot.sealing import Sealer
from bot.services.anonymous_scope import load_team_scopes
from bot.services.escalation import (
    DEFAULT_AFTER,
    climb,
    flag_managers,
    managers_at_level,
    next_step_due,
    team_managers,
)
from bot.services.kpi_readings import day_start, reading_on
from bot.services.permissions import Acting, Operator, actor_id, require_role
from bot.services.promises import review_moment, zone_of
from bot.services.suggestion_audience import responder_name, tell_author, tell_backers
from bot.storage.models import DecisionReview, Member

log = logging.getLogger(__name__)

ANSWERS = ("helped", "revisit", "later")
LONGEST_POSTPONEMENT = 365


async def get_review(session: AsyncSession, review_id: int) -> DecisionReview:
    """The review, its row locked (PostgreSQL) so that two presses at once answer it once."""
    # The lock on the row alone: PostgreSQL refuses FOR UPDATE across the eager outer joins.
    await session.execute(
        select(DecisionReview.id).where(DecisionReview.id == review_id).with_for_update()
    )
    review = await session.get(DecisionReview, review_id, populate_existing=True)
    if review is None:
        raise NotFound(
            _(
                "There is no review #{number}; /review in chat lists those waiting for you "
                "(advocacy reviews list: all of them)."
            ).format(number=review_id)
        )
    return review


async def review_of_idea(session: AsyncSession, suggestion_id: int) -> DecisionReview:
    """The review people mean by an idea's number: its open one, else its latest answered one
    (so a second answer says it was answered). An idea has at most one open review."""
    reviews = list(
        await session.scalars(
            select(DecisionReview)
            .where(
                DecisionReview.suggestion_id == suggestion_id,
                DecisionReview.state != ReviewState.SUPERSEDED,
            )
            .order_by(DecisionReview.id.desc())
        )
    )
    chosen = next((r for r in reviews if r.state != ReviewState.ANSWERED), None)
    chosen = chosen or (reviews[0] if reviews else None)
    if chosen is None:
        raise NotFound(
            _(
                "Idea #{number} has no KPI check to review: a manager makes one by answering "
                "it planned or done with --objective KEY. /review alone lists those waiting for "
                "you."
            ).format(number=suggestion_id)
        )
    return chosen


async def kpi_change(session: AsyncSession, review: DecisionReview, now: datetime) -> KpiChange:
    """The KPI at the decision and its latest reading since the decision's day (none: None)."""
    latest = await reading_on(session, review.objective_id, now)
    after = (
        latest.value
        if latest is not None and latest.measured_on > day_start(review.decided_at)
        else None
    )
    return KpiChange(review.baseline_value, after, KpiDirection(review.expected))


async def reviewers(session: AsyncSession, review: DecisionReview) -> list[Member]:
    """Who is asked: the deciding manager, or if they left (or the operator decided) the
    managers of the team the idea is shown under (for an anonymous idea, never its small team)."""
    if review.decided_by_id is not None:
        decider = await session.get(Member, review.decided_by_id)
        if decider is not None and decider.left_at is None:
            return [decider]
    shown = (await load_team_scopes(session)).shown_team(review.suggestion)
    present = [m for m in await team_managers(session, shown) if m.left_at is None]
    return present or await managers_at_level(session, shown, 0)


async def require_reviewer(session: AsyncSession, actor: Acting, review: DecisionReview) -> None:
    """The reviewing manager, a manager above them, or an admin (or the operator)."""
    require_role(actor, (Role.MANAGER,), N_("answer decision reviews"))
    if isinstance(actor, Operator) or actor.role == Role.ADMIN:
        return
    current = await reviewers(session, review)
    seen: set[int] = set()
    while current:
        if any(m.id == actor.id for m in current):
            return
        seen |= {m.id for m in current}
        current = [m for m in await climb(session, current, 1) if m.id not in seen]
    raise PermissionDenied(
        _(
            "The review of #{number} is for the manager who decided it (or one above "
            "them); you are neither."
        ).format(number=review.suggestion_id)
    )


async def ask_due_reviews(session: AsyncSession, sealer: Sealer, now: datetime) -> int:
    """Send the card of every review whose date has come; returns how many cards were queued.
    A review is asked once per date: its state changes in the same transaction, and the card's
    dedupe key includes the round (a postponed review is asked again on its new date)."""
    due = list(
        await session.scalars(
            select(DecisionReview)
            .where(
                DecisionReview.state == ReviewState.WAITING,
                DecisionReview.review_on <= now,
            )
            .order_by(DecisionReview.review_on)
        )
    )
    queued = 0
    for review in due:
        if review.suggestion.hidden_at is not None:  # taken off the board: nothing to ask
            review.state = ReviewState.SUPERSEDED
            continue
        managers = await reviewers(session, review)
        recipients = [r for m in managers if (r := member_recipient(m, now)) is not None]
        if not recipients:
            log.warning("review #%d is due but nobody can be asked (no manager)", review.id)
            continue
        change = await kpi_change(session, review, now)
        review.review_value = change.after
        review.state = ReviewState.ASKED
        review.asked_at = now
        review.escalation_level = 0
        # Each manager reads the card in their own language.
        queued += await enqueue_in_their_languages(
            session,
            lambda review=review, change=change: review_card(review, review.suggestion, change),
            recipients,
            sealer=sealer,
            dedupe_prefix=f"review:{review.id}:{review.postponed}",
        )
        log.info("review #%d of idea #%d asked", review.id, review.suggestion_id)
    await session.flush()
    return queued


async def escalate_overdue_reviews(
    session: AsyncSession, sealer: Sealer, now: datetime, after: timedelta = DEFAULT_AFTER
) -> int:
    """Reviews asked and unanswered for ``after`` go to the managers above the reviewer, and
    each ``after`` again one level higher (the same steps as unanswered ideas)."""
    asked = list(
        await session.scalars(
            select(DecisionReview).where(
                DecisionReview.state == ReviewState.ASKED,
                DecisionReview.asked_at <= now - after,
            )
        )
    )
    flagged = 0
    for review in asked:
        assert review.asked_at is not None
        level = review.escalation_level
        if not next_step_due(review.asked_at, level, now, after):
            continue
        asked_of = await reviewers(session, review)
        above = await climb(session, asked_of, level + 1)
        names = ", ".join(m.display_name for m in asked_of)
        change = await kpi_change(session, review, now)

        def flag(
            review: DecisionReview = review,
            change: KpiChange = change,
            names: str = names,
            waited: timedelta = now - review.asked_at,
        ) -> Message:
            return overdue_flag(
                review,
                review.suggestion,
                change,
                waited=waited,
                reviewer=names or _("the deciding manager"),
            )

        queued = await flag_managers(session, sealer, above, flag, now)
        if not queued:
            continue  # past the top of the hierarchy: nobody left to tell
        flagged += queued
        review.escalation_level = level + 1
        review.escalated_at = now
        log.info("review #%d flagged at level %d", review.id, level + 1)
    await session.flush()
    return flagged


@dataclass(frozen=True)
class ReviewOutcome:
    review: DecisionReview
    # What the manager is told, and the card as it now stands (for updating it in place).
    note: str
    card: Message
    # A repeated press or command: nothing changed.
    already: bool = False
    author_told: bool = False
    others_told: int = 0


def parse_answer(text: str) -> str:
    value = normalise_choice(text)
    aliases = {
        "yes": "helped",
        "help": "helped",
        "it_helped": "helped",
        "no": "revisit",
        "did_not_help": "revisit",
        "not_helped": "revisit",
        "too_early": "later",
        "postpone": "later",
    }
    value = aliases.get(value, value)
    if value not in ANSWERS:
        raise InvalidInput(
            _(
                "'{text}' is not an answer to a review; say helped, revisit or later N (days)."
            ).format(text=text)
        )
    return value


def _already(review: DecisionReview) -> str:
    if review.state == ReviewState.ANSWERED:
        verdict = ReviewVerdict(review.verdict or ReviewVerdict.HELPED)
        if review.answered_at:
            return _("The review of #{number} was already answered on {day}: {verdict}.").format(
                number=review.suggestion_id,
                day=review_day(review.answered_at),
                verdict=verdict.label,
            )
        return _("The review of #{number} was already answered: {verdict}.").format(
            number=review.suggestion_id, verdict=verdict.label
        )
    return _("The review of #{number} was already put off: it is asked again on {day}.").format(
        number=review.suggestion_id, day=review_day(review.review_on)
    )


async def answer_review(
    session: AsyncSession,
    sealer: Sealer,
    actor: Acting,
    review_id: int,
    answer: str,
    now: datetime,
    *,
    days: int | None = None,
    card_round: int | None = None,
) -> ReviewOutcome:
    """Record the manager's answer: helped or revisit (told to the author and backers), or later
    (asked again in ``days``). ``card_round`` is the round of the card pressed: a press on a card
    already answered changes nothing and says so."""
    answer = parse_answer(answer)
    review = await get_review(session, review_id)
    await require_reviewer(session, actor, review)
    change = await kpi_change(session, review, now)
    suggestion = review.suggestion
    if review.state == ReviewState.SUPERSEDED:
        raise InvalidInput(
            _("A later decision on #{number} replaced this review; nothing to answer.").format(
                number=suggestion.id
            )
        )
    stale_card = card_round is not None and card_round != review.postponed
    if review.state == ReviewState.ANSWERED or stale_card:
        note = _already(review)
        return ReviewOutcome(review, note, _card_now(review, change), already=True)
    if answer == "later":
        return _postpone(review, actor, change, days, now)
    review.verdict = ReviewVerdict.HELPED if answer == "helped" else ReviewVerdict.DID_NOT_HELP
    review.state = ReviewState.ANSWERED
    review.answered_at = now
    review.answered_by_id = actor_id(actor)
    review.review_value = change.after
    await session.flush()
    # Each notice is composed in the language of the one it goes to, not the manager's.
    author_told = await tell_author(
        session,
        sealer,
        suggestion,
        lambda: review_author_notice(review, suggestion, change, by=responder_name(actor)),
    )
    others = await tell_backers(
        session,
        sealer,
        suggestion,
        responder=actor,
        voter_message=lambda: review_voter_notice(
            review, suggestion, change, by=responder_name(actor)
        ),
        merged_message=lambda duplicate: review_merged_notice(
            review, suggestion, duplicate, change, by=responder_name(actor)
        ),
    )
    log.info("review #%d of idea #%d answered", review.id, suggestion.id)
    verdict = ReviewVerdict(review.verdict)
    note = _("Recorded for #{number}: {verdict}.").format(
        number=suggestion.id, verdict=verdict.label
    )
    if verdict is ReviewVerdict.DID_NOT_HELP:
        note += " " + _("Reopen it with /answer {number} under review ...").format(
            number=suggestion.id
        )
    return ReviewOutcome(
        review,
        note,
        answered_card(review, suggestion, change, verdict.label),
        author_told=author_told,
        others_told=others,
    )


def _postpone(
    review: DecisionReview, actor: Acting, change: KpiChange, days: int | None, now: datetime
) -> ReviewOutcome:
    if days is None:
        raise InvalidInput(_("Say in how many days to look again, for example: later 14."))
    if not 1 <= days <= LONGEST_POSTPONEMENT:
        raise InvalidInput(
            _("Look again in 1 to {longest} days, not {days}.").format(
                longest=LONGEST_POSTPONEMENT, days=days
            )
        )
    zone = zone_of(actor)
    review.review_on = review_moment(now.astimezone(zone).date() + timedelta(days=days), zone)
    review.state = ReviewState.WAITING
    review.postponed += 1
    review.asked_at = None
    review.escalation_level = 0
    review.escalated_at = None
    # A manager above (or an admin) puts it off for the one who decided: they are asked again.
    if actor_id(actor) == review.decided_by_id:
        text = ngettext(
            "Too early for #{number}: you will be asked again on {day} (in {count} day).",
            "Too early for #{number}: you will be asked again on {day} (in {count} days).",
            days,
        )
    else:
        text = ngettext(
            "Too early for #{number}: the deciding manager is asked again on {day} "
            "(in {count} day).",
            "Too early for #{number}: the deciding manager is asked again on {day} "
            "(in {count} days).",
            days,
        )
    note = text.format(
        number=review.suggestion_id, day=review_day(review.review_on), count=format_number(days)
    )
    log.info("review #%d put off by %d days", review.id, days)
    return ReviewOutcome(review, note, answered_card(review, review.suggestion, change, note))


def _card_now(review: DecisionReview, change: KpiChange) -> Message:
    if review.state == ReviewState.ANSWERED:
        label = ReviewVerdict(review.verdict or ReviewVerdict.HELPED).label
    else:
        label = _("asked again on {day}").format(day=review_day(review.review_on))
    return answered_card(review, review.suggestion, change, label)


async def list_reviews(
    session: AsyncSession,
    now: datetime,
    *,
    due: bool = False,
    overdue_after: timedelta | None = None,
    reviewer: Member | None = None,
) -> list[DecisionReview]:
    """Open and answered reviews, soonest first. ``due``: asked and not answered; with
    ``overdue_after``: asked and unanswered for that long. ``reviewer``: only those asked of
    this manager, or flagged to them as overdue (a manager above)."""
    statement = select(DecisionReview).where(DecisionReview.state != ReviewState.SUPERSEDED)
    if due or overdue_after is not None:
        statement = statement.where(DecisionReview.state == ReviewState.ASKED)
    if overdue_after is not None:
        statement = statement.where(DecisionReview.asked_at <= now - overdue_after)
    found = list(await session.scalars(statement.order_by(DecisionReview.review_on)))
    if reviewer is None:
        return found
    return [r for r in found if await _waits_for(session, r, reviewer)]


async def _waits_for(session: AsyncSession, review: DecisionReview, member: Member) -> bool:
    """Asked of ``member``, or flagged to them: overdue, and they are one of the levels above
    the reviewer that its flags have reached (they got the card and may answer it)."""
    current = await reviewers(session, review)
    if any(m.id == member.id for m in current):
        return True
    if review.state != ReviewState.ASKED:
        return False
    for _level in range(review.escalation_level):
        current = await climb(session, current, 1)
        if any(m.id == member.id for m in current):
            return True
    return False


async def review_lines(
    session: AsyncSession, suggestion_ids: list[int], now: datetime
) -> dict[int, str]:
    """The latest review of each idea (superseded ones aside), described in one line."""
    if not suggestion_ids:
        return {}
    found = await session.scalars(
        select(DecisionReview)
        .where(
            DecisionReview.suggestion_id.in_(suggestion_ids),
            DecisionReview.state != ReviewState.SUPERSEDED,
        )
        .order_by(DecisionReview.id)
    )
    lines = {}
    for review in found:
        kpi = review.objective.kpi or review.objective.title
        expected = KpiDirection(review.expected)
        template = (
            _("{kpi} should go higher; {state}")
            if expected is KpiDirection.HIGHER
            else _("{kpi} should go lower; {state}")
        )
        lines[review.suggestion_id] = template.format(kpi=kpi, state=describe_state(review, now))
    return lines


def describe_state(review: DecisionReview, now: datetime) -> str:
    """One line on where a review stands, for lists and the console."""
    if review.state == ReviewState.ANSWERED:
        return ReviewVerdict(review.verdict or ReviewVerdict.HELPED).label
    if review.state == ReviewState.ASKED and review.asked_at is not None:
        return _("asked {duration} ago, not answered").format(
            duration=humanise_duration(now - review.asked_at)
        )
    if review.state == ReviewState.SUPERSEDED:
        return _("replaced by a later decision")
    return _("due on {day}").format(day=review_day(review.review_on))
