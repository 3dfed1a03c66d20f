"""Ideas from chat: filing one (/suggest), voting and taking a vote back, and the managers'
moderation of the board (/merge, /hide). Buttons and forms reach the same use cases
(``file_idea``, ``cast_vote``) with their values, not with command text."""

from __future__ import annotations

from dataclasses import replace

from bot.chat.context import ChatContext
from bot.chat.parsing import parse_id, split_words, take_anonymous_flag, take_flags
from bot.compose.suggestion_cards import (
    announcement,
    receipt,
    similar_ideas_card,
    suggest_form,
    voting_card,
)
from bot.errors import InvalidInput
from bot.events import Reply
from bot.i18n import _, ngettext
from bot.messages import Message
from bot.services import suggestions as suggestion_service
from bot.services.objectives import list_objectives
from bot.services.similar import similar_ideas
from bot.services.suggestion_evidence import EvidenceSummary, evidence_summaries
from bot.services.suggestion_moderation import hide_suggestion, merge_suggestions
from bot.storage.models import Delivery, Suggestion


async def suggest(ctx: ChatContext, text: str) -> Reply:
    anonymous, text = take_anonymous_flag(text)
    flags, idea = take_flags(text, {"objective": True})
    if not idea.strip():
        return Reply(form=suggest_form(await list_objectives(ctx.session), anonymous=anonymous))
    return await file_idea(
        ctx,
        idea,
        objective_key=str(flags["objective"]) if "objective" in flags else None,
        anonymous=anonymous,
    )


async def file_idea(
    ctx: ChatContext,
    text: str,
    *,
    objective_key: str | None,
    anonymous: bool,
    source_url: str | None = None,
) -> Reply:
    """File a suggestion, post it where colleagues vote, and thank the author."""
    suggestion = await suggestion_service.file_suggestion(
        ctx.session,
        ctx.sealer,
        ctx.member,
        text,
        platform=ctx.platform,
        objective_key=objective_key,
        anonymous=anonymous,
        source_url=source_url,
        evidence=ctx.extensions.evidence,
    )
    weight = await evidence_summaries(ctx.session, [suggestion], ctx.extensions.scrubber)
    if await suggestion_service.announce_suggestion(
        ctx.session, ctx.sealer, suggestion, ctx.suggestion_channels, weight.get(suggestion.id)
    ):
        ctx.queued_messages = True
    ctx.count(lambda: ctx.metrics.suggestions.labels(platform=ctx.platform).inc())
    own_team = ctx.member.team.name if ctx.member.team is not None else None
    message = receipt(suggestion, author_team=own_team, evidence=weight.get(suggestion.id))
    similar = await similar_ideas(ctx.session, suggestion)
    if similar:
        message = replace(message, cards=(*message.cards, similar_ideas_card(suggestion, similar)))
    return Reply(messages=[message])


async def vote(ctx: ChatContext, text: str) -> Reply:
    if not text.strip():
        raise InvalidInput(_("Which suggestion? Write /vote ID, for example /vote 12."))
    return await cast_vote(ctx, parse_id(text, "suggestion"))


async def unvote(ctx: ChatContext, text: str) -> Reply:
    """Take back a vote given by mistake (a button press cannot: a double click would undo)."""
    if not text.strip():
        raise InvalidInput(_("Which suggestion? Write /unvote ID, for example /unvote 12."))
    suggestion, withdrawn = await suggestion_service.withdraw_vote(
        ctx.session, ctx.member, parse_id(text, "suggestion")
    )
    count = suggestion.vote_count
    if not withdrawn:
        reply = Reply.say(
            ngettext(
                "You had not voted for #{number} ({count} vote); nothing to take back.",
                "You had not voted for #{number} ({count} votes); nothing to take back.",
                count,
            ).format(number=suggestion.id, count=count)
        )
        reply.duplicate = True
        return reply
    return Reply.say(
        ngettext(
            "Your vote for #{number} is taken back; it now has {count} vote.",
            "Your vote for #{number} is taken back; it now has {count} votes.",
            count,
        ).format(number=suggestion.id, count=count)
    )


async def cast_vote(
    ctx: ChatContext, suggestion_id: int, delivery: Delivery | None = None
) -> Reply:
    """Vote once; a card the vote came from shows the new count (and, in a DM, "Voted")."""
    suggestion, counted = await suggestion_service.vote(ctx.session, ctx.member, suggestion_id)
    evidence = None
    if delivery is not None:
        weight = await evidence_summaries(ctx.session, [suggestion], ctx.extensions.scrubber)
        evidence = weight.get(suggestion.id)
    in_channel = None if delivery is None else bool(delivery.channel)
    return vote_reply(suggestion, counted, suggestion.vote_count, in_channel, evidence)


def vote_reply(
    suggestion: Suggestion,
    counted: bool,
    count: int,
    in_channel: bool | None,
    evidence: EvidenceSummary | None,
) -> Reply:
    """What a voter is told, in the language in use, and for a press on a card (``in_channel``
    not None: the card was in a channel, or else a DM) the card as it now is."""
    if counted:
        reply = Reply.say(
            ngettext(
                "Your vote for #{number} is counted; it now has {count} vote.",
                "Your vote for #{number} is counted; it now has {count} votes.",
                count,
            ).format(number=suggestion.id, count=count)
        )
    else:
        reply = Reply.say(
            ngettext(
                "You already voted for #{number} ({count} vote); each person votes once "
                "(/unvote {number} takes it back).",
                "You already voted for #{number} ({count} votes); each person votes once "
                "(/unvote {number} takes it back).",
                count,
            ).format(number=suggestion.id, count=count)
        )
        reply.duplicate = True
    if in_channel is not None:
        reply.update = (
            announcement(suggestion, evidence)
            if in_channel
            else Message(
                fallback=reply.messages[0].fallback,
                cards=(voting_card(suggestion, voted=True, evidence=evidence),),
            )
        )
    return reply


async def merge(ctx: ChatContext, text: str) -> Reply:
    """Managers fold a duplicate into the idea it repeats: '/merge 12 into 7'."""
    numbers = [w for w in split_words(text) if w.lower() != "into"]
    if len(numbers) != 2:
        raise InvalidInput(_("Write /merge DUPLICATE_ID into ID, for example /merge 12 into 7."))
    duplicate = parse_id(numbers[0], "suggestion")
    target_id = parse_id(numbers[1], "suggestion")
    target = await merge_suggestions(ctx.session, ctx.sealer, ctx.member, duplicate, target_id)
    ctx.queued_messages = True
    return Reply.say(
        ngettext(
            "#{duplicate} joined #{number}, which now has {count} vote. Its author was told; "
            "its voters will hear when #{number} moves.",
            "#{duplicate} joined #{number}, which now has {count} votes. Its author was told; "
            "its voters will hear when #{number} moves.",
            target.vote_count,
        ).format(duplicate=duplicate, number=target.id, count=target.vote_count)
    )


async def hide(ctx: ChatContext, text: str) -> Reply:
    """Managers take an abusive idea off the board: '/hide 12 REASON'."""
    number, _space, reason = text.strip().partition(" ")
    if not number or not reason.strip():
        raise InvalidInput(_("Write /hide ID REASON; the author is told the reason."))
    hidden = await hide_suggestion(
        ctx.session, ctx.sealer, ctx.member, parse_id(number, "suggestion"), reason
    )
    ctx.queued_messages = True
    return Reply.say(_("#{number} is hidden; its author was told why.").format(number=hidden.id))
