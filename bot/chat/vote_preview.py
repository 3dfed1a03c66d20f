"""What a press of a Vote button will show, read before the vote is written.

A platform that waits for a press's answer (a Teams invoke carries the updated card) can answer
from this as soon as the press is durably in the inbox, while the inbox's worker writes the vote
(``cast_vote``). Only what the write cannot contradict is previewed: a known member whose
language and status the write leaves as they are, an idea open for votes. Everything else (a
first contact, an idea closed, merged or hidden, a button that names no idea) gives None, and
the platform waits for the write as before. The count is the committed one plus this vote: a
snapshot, like every card's count once others vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from bot.chat.parsing import parse_id
from bot.compose import actions
from bot.compose.feedback import card_subjects
from bot.compose.suggestion_cards import announcement, voting_card
from bot.errors import DomainError
from bot.events import ActionInvoked
from bot.i18n import _, speaking
from bot.i18n.locales import normalize_locale
from bot.messages import Message
from bot.outbox.queue import deliveries_in_flight, find_delivery_by_ref
from bot.plugins import Extensions
from bot.services.members import find_member
from bot.services.suggestion_evidence import evidence_summaries
from bot.services.suggestions import OPEN_STATUSES
from bot.storage.database import Database
from bot.storage.models import Suggestion, SuggestionVote


@dataclass(frozen=True)
class VotePreview:
    """``counted``: the press adds a vote (False: the member's vote is there already).
    ``update``: the pressed card as the write will leave it (None: the press updates no card,
    the card is not one of the bot's deliveries). ``locale``: the member's language."""

    suggestion_id: int
    counted: bool
    update: Message | None
    locale: str | None


def is_vote(event: object) -> bool:
    return isinstance(event, ActionInvoked) and event.action_id == actions.SUGGESTION_VOTE


async def preview_vote(
    db: Database,
    event: ActionInvoked,
    *,
    extensions: Extensions | None = None,
    pending: bool = False,
) -> VotePreview | None:
    """The vote ``event`` will cast, as ``cast_vote`` will show it; None when that cannot be
    known without the write. ``pending``: a press of this member for this idea is accepted and
    not yet written (it will count; this one will not)."""
    try:
        suggestion_id = parse_id(str(event.value.get("suggestion", "")), "suggestion")
    except DomainError:
        return None
    actor = event.actor
    async with db.reading() as session:
        member = await find_member(session, actor.platform, actor.user_id, actor.workspace)
        if member is None or member.left_at is not None:
            return None  # the write creates or reactivates the member
        locale = normalize_locale(actor.locale)
        if locale is not None and not member.locale_chosen and member.locale != locale:
            return None  # the write follows the platform's new language
        suggestion = await session.get(Suggestion, suggestion_id)
        if (
            suggestion is None
            or suggestion.duplicate_of_id is not None
            or suggestion.hidden_at is not None
            or suggestion.status not in OPEN_STATUSES
        ):
            return None  # the write refuses it, and says why
        voted = pending or (
            await session.scalar(
                select(SuggestionVote.member_id).where(
                    SuggestionVote.suggestion_id == suggestion.id,
                    SuggestionVote.member_id == member.id,
                )
            )
            is not None
        )
        count = suggestion.vote_count + (1 if pending or not voted else 0)
        set_committed_value(suggestion, "vote_count", count)
        delivery = None
        if event.message_ref:
            delivery = await find_delivery_by_ref(session, actor.platform, event.message_ref)
            if delivery is None:
                subject = ("suggestion", suggestion.id)
                for candidate in await deliveries_in_flight(session, actor.platform, member.id):
                    if subject in card_subjects(Message.from_dict(candidate.message.payload)):
                        delivery = candidate
                        break
        update = None
        with speaking(member.locale):
            if delivery is not None:
                scrub = extensions.scrubber if extensions is not None else None
                weight = await evidence_summaries(session, [suggestion], scrub)
                evidence = weight.get(suggestion.id)
                update = (
                    announcement(suggestion, evidence)
                    if delivery.channel
                    else Message(
                        fallback=_("Suggestion #{number}").format(number=suggestion.id),
                        cards=(voting_card(suggestion, voted=True, evidence=evidence),),
                    )
                )
        return VotePreview(suggestion.id, not voted, update, member.locale)
