"""What a press of a Vote button will show, read before the vote is written.

A platform that waits for a press's answer (a Teams invoke carries the updated card) can answer
from this as soon as the press is durably in the inbox, while the inbox's worker writes the vote
(``cast_vote``). Only what the write cannot contradict is previewed: a vote for an idea open
for votes (by anyone: a first contact is created by the write, then votes). Everything else
(an idea closed, merged or hidden, a button that names no idea) gives None, and the platform
waits for the write as before. The count is the committed one plus this vote: a
snapshot, like every card's count once others vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.chat.parsing import parse_id
from bot.compose import actions
from bot.compose.feedback import card_subjects
from bot.compose.suggestion_cards import announcement, voting_card
from bot.errors import DomainError
from bot.events import ActionInvoked
from bot.i18n import speaking
from bot.i18n.locales import normalize_locale
from bot.messages import Message
from bot.outbox.queue import deliveries_in_flight, find_delivery_by_ref
from bot.plugins import Extensions
from bot.services.suggestion_evidence import evidence_summaries
from bot.services.suggestions import OPEN_STATUSES
from bot.storage.database import Database
from bot.storage.models import Delivery, Member, MemberIdentity, Suggestion, SuggestionVote


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
        # Columns, not objects: loading a member or an idea loads its relations too, each a
        # statement more, and a press waits for every one of them.
        member = (
            await session.execute(
                select(Member.id, Member.locale, Member.locale_chosen)
                .join(MemberIdentity, MemberIdentity.member_id == Member.id)
                .where(
                    MemberIdentity.platform == actor.platform,
                    MemberIdentity.workspace == actor.workspace,
                    MemberIdentity.user_id == actor.user_id,
                )
            )
        ).first()
        # A first contact is created by the write, and votes; someone marked as left is
        # active again. Either way the press counts, in the language the write will note.
        platform_locale = normalize_locale(actor.locale)
        locale = (
            platform_locale
            if member is None or (platform_locale is not None and not member.locale_chosen)
            else member.locale
        )
        member_id = member.id if member is not None else None
        mine = (
            select(SuggestionVote.member_id)
            .where(
                SuggestionVote.suggestion_id == Suggestion.id,
                SuggestionVote.member_id == member_id,
            )
            .exists()
        )
        idea = (
            await session.execute(
                select(
                    Suggestion.status,
                    Suggestion.duplicate_of_id,
                    Suggestion.hidden_at,
                    Suggestion.vote_count,
                    mine.label("voted"),
                ).where(Suggestion.id == suggestion_id)
            )
        ).first()
        if (
            idea is None
            or idea.duplicate_of_id is not None
            or idea.hidden_at is not None
            or idea.status not in OPEN_STATUSES
        ):
            return None  # the write refuses it, and says why
        voted = pending or bool(idea.voted)
        count = idea.vote_count + (1 if pending or not idea.voted else 0)
        delivery = await _pressed_delivery(session, event, member_id, suggestion_id)
        if delivery is None:
            return VotePreview(suggestion_id, not voted, None, locale)
        suggestion = await session.get(Suggestion, suggestion_id)
        if suggestion is None:
            return None
        set_committed_value(suggestion, "vote_count", count)
        with speaking(locale):
            scrub = extensions.scrubber if extensions is not None else None
            weight = await evidence_summaries(session, [suggestion], scrub)
            evidence = weight.get(suggestion.id)
            if delivery.channel:
                update = announcement(suggestion, evidence)
            else:
                card = voting_card(suggestion, voted=True, evidence=evidence)
                # The answer carries the card only; its title stands for it where text must.
                update = Message(fallback=card.title, cards=(card,))
        return VotePreview(suggestion_id, not voted, update, locale)


async def _pressed_delivery(
    session: AsyncSession, event: ActionInvoked, member_id: int | None, suggestion_id: int
) -> Delivery | None:
    """The delivery the pressed card came from, as ``delivery_for`` finds it."""
    if not event.message_ref:
        return None
    platform = event.actor.platform
    found = await find_delivery_by_ref(session, platform, event.message_ref)
    if found is not None or member_id is None:
        return found
    subject = ("suggestion", suggestion_id)
    for candidate in await deliveries_in_flight(session, platform, member_id):
        if subject in card_subjects(Message.from_dict(candidate.message.payload)):
            return candidate
    return None
