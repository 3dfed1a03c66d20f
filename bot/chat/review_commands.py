"""Promises and their reviews in chat: the KPI options of ``/answer``, ``/review``, and the
buttons of the review card ("Yes, it helped" / "No, revisit" / "Too early")."""

from __future__ import annotations

from bot.chat.context import ChatContext
from bot.chat.parsing import parse_id, take_flags
from bot.domain import ReviewState, Role
from bot.errors import InvalidInput
from bot.events import ActionInvoked, Reply
from bot.i18n import _, ngettext
from bot.i18n.formats import join_sentences
from bot.messages import Card, Fact, Message
from bot.services.decision_reviews import (
    ReviewOutcome,
    answer_review,
    describe_state,
    list_reviews,
    review_of_idea,
)
from bot.services.permissions import require_role
from bot.services.promises import Promise, promise_from_options, promise_note, zone_of
from bot.services.suggestions import AnswerOutcome
from bot.storage.types import utcnow

PROMISE_FLAGS = {"objective": True, "expect": True, "review-in": True, "review-on": True}
REVIEW_USAGE = "/review IDEA helped|revisit|later N"


def take_promise_flags(text: str, found: dict[str, str | bool]) -> str:
    """Pull --objective/--expect/--review-in/--review-on off the front of ``text`` into
    ``found``; returns the rest."""
    flags, rest = take_flags(text, PROMISE_FLAGS)
    found.update(flags)
    return rest


def promise_of(flags: dict[str, str | bool]) -> Promise | None:
    def text(name: str) -> str | None:
        value = flags.get(name)
        return value if isinstance(value, str) else None

    return promise_from_options(
        text("objective"), text("expect"), text("review-in"), text("review-on")
    )


def promise_told(ctx: ChatContext, outcome: AnswerOutcome) -> str:
    """The answer's confirmation, with when the promise is checked (if it made one)."""
    if outcome.review is None:
        return ""
    return promise_note(outcome.review, zone_of(ctx.member))


def _told(outcome: ReviewOutcome) -> str:
    if outcome.already or outcome.review.state != ReviewState.ANSWERED:
        return ""
    if outcome.author_told or outcome.others_told:
        return _("The author and everyone who backed the idea will be told.")
    return _("Nobody backed it who can be reached, so nobody else is told.")


async def review(ctx: ChatContext, text: str) -> Reply:
    """'/review 12 helped', '/review 12 later 14'; '/review' alone lists the open reviews that
    are yours (all of them for an admin): those asked, then those coming up."""
    require_role(ctx.member, (Role.MANAGER,), _("answer decision reviews"))
    words = text.split()
    now = utcnow()
    if not words:
        return await _reviews_waiting(ctx)
    if len(words) < 2:
        raise InvalidInput(
            _("Write {usage}, for example /review 12 helped.").format(usage=REVIEW_USAGE)
        )
    # People know ideas by their number (the card says "since #12 was done"), not reviews.
    review_id = (await review_of_idea(ctx.session, parse_id(words[0], "idea"))).id
    days = None
    if len(words) > 2:
        if not (words[2].isascii() and words[2].isdigit()):
            raise InvalidInput(
                _("'{word}' is not a number of days; write {usage}.").format(
                    word=words[2], usage=REVIEW_USAGE
                )
            )
        days = int(words[2])
    outcome = await answer_review(
        ctx.session, ctx.sealer, ctx.member, review_id, words[1], now, days=days
    )
    ctx.queued_messages = outcome.author_told or outcome.others_told > 0
    return Reply(
        messages=[Message.text(join_sentences(outcome.note, _told(outcome)))],
        duplicate=outcome.already,
    )


async def _reviews_waiting(ctx: ChatContext) -> Reply:
    now = utcnow()
    mine = None if ctx.member.role == Role.ADMIN else ctx.member
    found = await list_reviews(ctx.session, now, reviewer=mine)
    # Those asked first (they wait for an answer), then the ones coming up.
    asked = [r for r in found if r.state == ReviewState.ASKED]
    asked += [r for r in found if r.state == ReviewState.WAITING]
    if not asked:
        return Reply.say(_("No decision reviews wait for you, asked or coming up."))
    facts = tuple(
        Fact(
            _("Idea #{number}").format(number=r.suggestion_id),
            f"{r.objective.title}: {describe_state(r, now)}",
        )
        for r in asked[:20]
    )
    count = len(asked)
    return Reply(
        messages=[
            Message(
                fallback=ngettext(
                    "{count} decision review for you", "{count} decision reviews for you", count
                ).format(count=count),
                cards=(
                    Card(
                        title=ngettext(
                            "{count} decision review for you, asked first",
                            "{count} decision reviews for you, asked first",
                            count,
                        ).format(count=count),
                        text=_("Answer with {usage}.").format(usage=REVIEW_USAGE),
                        facts=facts,
                    ),
                ),
            )
        ]
    )


async def review_button(ctx: ChatContext, event: ActionInvoked) -> Reply:
    """A press on the review card: the answer is recorded once; the card shows it instead of
    its buttons, and a second press says it was already answered."""
    value = event.value
    review_id = parse_id(str(value.get("review", "")), "review")
    days = value.get("days")
    card_round = value.get("round")
    outcome = await answer_review(
        ctx.session,
        ctx.sealer,
        ctx.member,
        review_id,
        str(value.get("answer", "")),
        utcnow(),
        days=days if isinstance(days, int) else None,
        card_round=card_round if isinstance(card_round, int) else None,
    )
    ctx.queued_messages = outcome.author_told or outcome.others_told > 0
    return Reply(
        messages=[Message.text(join_sentences(outcome.note, _told(outcome)))],
        update=outcome.card if event.message_ref else None,
        duplicate=outcome.already,
    )
