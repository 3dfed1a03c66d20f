"""Buttons, forms and reactions: the chat interactions that are not typed commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.chat.answer_commands import record_answer
from bot.chat.board import board
from bot.chat.content_commands import offer_content_form
from bot.chat.context import ChatContext
from bot.chat.digest_commands import cron_from_day_and_time, offer_digest_form
from bot.chat.parsing import parse_id, take_anonymous_flag, truthy
from bot.chat.report_commands import show_rollup
from bot.chat.review_commands import review_button
from bot.chat.suggestion_commands import cast_vote, file_idea
from bot.chat.voice_commands import open_voice_form, voice_submitted
from bot.compose import actions
from bot.compose.curation import curation_card, edit_form
from bot.compose.feedback import (
    card_subjects,
    comment_form,
    with_feedback,
    with_feedback_counts,
)
from bot.compose.suggestion_cards import answer_form, suggest_form
from bot.domain import FeedbackKind, Role
from bot.errors import InvalidInput
from bot.events import ActionInvoked, FormSubmitted, Reply
from bot.i18n import _, ngettext
from bot.i18n.formats import format_date, format_number, format_time
from bot.messages import Message, parse_subject
from bot.outbox.queue import deliveries_in_flight, find_delivery_by_ref, hold_delivery
from bot.services import content as content_service
from bot.services import digests
from bot.services import suggestions as suggestion_service
from bot.services.feedback import (
    feedback_counts,
    feedback_given,
    record_feedback,
    retract_reaction,
)
from bot.services.objectives import list_objectives
from bot.services.permissions import require_role
from bot.services.promises import Promise
from bot.services.suggestion_board import BoardQuery
from bot.services.suggestion_moderation import merge_suggestions
from bot.storage.models import ContentItem, Delivery, Suggestion
from bot.storage.types import utcnow

ActionHandler = Callable[[ChatContext, ActionInvoked], Awaitable[Reply]]
FormHandler = Callable[[ChatContext, FormSubmitted], Awaitable[Reply]]
ACTIONS: dict[str, ActionHandler] = {}
FORMS: dict[str, FormHandler] = {}


def on_action(action_id: str) -> Callable[[ActionHandler], ActionHandler]:
    def register(handler: ActionHandler) -> ActionHandler:
        ACTIONS[action_id] = handler
        return handler

    return register


def on_form(form_id: str) -> Callable[[FormHandler], FormHandler]:
    def register(handler: FormHandler) -> FormHandler:
        FORMS[form_id] = handler
        return handler

    return register


on_action(actions.VOICE_OPEN)(open_voice_form)
on_form(actions.FORM_VOICE)(voice_submitted)


async def delivery_for(
    ctx: ChatContext, message_ref: str | None, subject: tuple[str, int] | None = None
) -> Delivery | None:
    """The delivery a pressed card came from. A quick reader can press a button before the
    outbox has written the card's reference; then the member's in-flight delivery carrying
    ``subject`` is the card they pressed. Without a subject (a reaction, which may be on anyone's
    message) only the reference counts."""
    if not message_ref:
        return None
    found = await find_delivery_by_ref(ctx.session, ctx.platform, message_ref)
    if found is not None or subject is None:
        return found
    for delivery in await deliveries_in_flight(ctx.session, ctx.platform, ctx.member.id):
        if subject in card_subjects(Message.from_dict(delivery.message.payload)):
            return delivery
    return None


def as_delivered(ctx: ChatContext, delivery: Delivery) -> Message:
    """The message as the outbox sent it: its share buttons carry this delivery's tracked links
    (the stored message has the bare ones), so a card updated in place still counts clicks."""
    message = Message.from_dict(delivery.message.payload)
    return ctx.links.personalise(message, delivery.id) if ctx.links is not None else message


def _subject(value: dict[str, Any]) -> tuple[str, int]:
    try:
        return parse_subject(str(value["subject"]))
    except (KeyError, ValueError):
        raise InvalidInput(
            _("This button is missing what it refers to; the card may be outdated.")
        ) from None


async def _feedback(ctx: ChatContext, event: ActionInvoked, kind: FeedbackKind) -> Reply:
    subject_type, subject_id = _subject(event.value)
    delivery = await delivery_for(ctx, event.message_ref, (subject_type, subject_id))
    if delivery is not None and delivery.channel:
        await hold_delivery(ctx.session, delivery.id)
    recorded = await record_feedback(
        ctx.session,
        ctx.member,
        subject_type,
        subject_id,
        kind,
        platform=ctx.platform,
        delivery_id=delivery.id if delivery else None,
    )
    if recorded:
        ctx.count(
            lambda: ctx.metrics.feedback_recorded.labels(platform=ctx.platform, kind=kind).inc()
        )
    note = _("Thanks, noted.") if recorded else _("You already told us; it counts once.")
    if delivery is None:
        return Reply(messages=[Message.text(note)], duplicate=not recorded)
    message = as_delivered(ctx, delivery)
    if delivery.channel:
        # Everyone sees a channel card: show how many answered, and tell only the presser.
        counts = await feedback_counts(ctx.session, card_subjects(message))
        return Reply(
            messages=[Message.text(note)],
            update=with_feedback_counts(message, counts),
            duplicate=not recorded,
        )
    given = await feedback_given(ctx.session, ctx.member.id, card_subjects(message))
    return Reply(update=with_feedback(message, given), duplicate=not recorded)


@on_action(actions.FEEDBACK_USEFUL)
async def useful(ctx: ChatContext, event: ActionInvoked) -> Reply:
    return await _feedback(ctx, event, FeedbackKind.USEFUL)


@on_action(actions.FEEDBACK_NOT_RELEVANT)
async def not_relevant(ctx: ChatContext, event: ActionInvoked) -> Reply:
    return await _feedback(ctx, event, FeedbackKind.NOT_RELEVANT)


@on_action(actions.SUGGEST_OPEN)
async def open_suggest_form(ctx: ChatContext, event: ActionInvoked) -> Reply:
    """The suggestion form; ``value`` may carry a subject (the card it came from), the text of a
    chat message to turn into an idea, and a link back to that message."""
    context = {k: v for k, v in event.value.items() if k in ("subject", "source_url")}
    text = str(event.value.get("text") or "").strip()
    limit = suggestion_service.MAX_SUGGESTION
    form = suggest_form(await list_objectives(ctx.session), context=context, text=text[:limit])
    # A message longer than an idea may be is cut, and said so (as the voice form does).
    cut = (
        [
            Message.text(
                _("The message was cut to its first {count} characters.").format(
                    count=format_number(limit)
                )
            )
        ]
        if len(text) > limit
        else []
    )
    if str(event.value.get("subject", "")).startswith("content:"):
        # An idea sparked by an article serves, most likely, the article's objective.
        item = await ctx.session.get(ContentItem, _subject(event.value)[1])
        if item is not None and item.objective is not None:
            key = item.objective.key
            fields = tuple(
                replace(f, initial=key) if f.name == "objective" else f for f in form.fields
            )
            form = replace(form, fields=fields)
    return Reply(form=form, messages=cut)


@on_action(actions.SUGGESTION_VOTE)
async def vote_button(ctx: ChatContext, event: ActionInvoked) -> Reply:
    suggestion_id = parse_id(str(event.value.get("suggestion", "")), "suggestion")
    delivery = await delivery_for(ctx, event.message_ref, ("suggestion", suggestion_id))
    return await cast_vote(ctx, suggestion_id, delivery)


@on_action(actions.SUGGESTIONS_BROWSE)
async def browse_board(ctx: ChatContext, event: ActionInvoked) -> Reply:
    """Another page, order or status of the board, in place of the one pressed."""
    value = event.value
    query = BoardQuery.of(
        str(value.get("sort") or ""), str(value.get("status") or ""), str(value.get("page", 1))
    )
    return Reply(update=await board(ctx, query))


@on_action(actions.SUGGESTION_FOLD)
async def fold_into_similar(ctx: ChatContext, event: ActionInvoked) -> Reply:
    """The author backs a similar idea instead of their own new one."""
    mine = parse_id(str(event.value.get("suggestion", "")), "suggestion")
    into = parse_id(str(event.value.get("into", "")), "suggestion")
    anonymous = await _is_anonymous(ctx, mine)
    target = await merge_suggestions(
        ctx.session, ctx.sealer, ctx.member, mine, into, by_author=True
    )
    count = target.vote_count
    if not anonymous:
        return Reply.say(
            ngettext(
                "Your idea #{mine} now backs #{number} ({count} vote); you will hear when "
                "#{number} moves.",
                "Your idea #{mine} now backs #{number} ({count} votes); you will hear when "
                "#{number} moves.",
                count,
            ).format(mine=mine, number=target.id, count=count)
        )
    return Reply.say(
        ngettext(
            "Your anonymous idea #{mine} now joins #{number} ({count} vote); you will hear when "
            "#{number} moves. No vote was added in your name, so nothing ties you to #{mine}; "
            "vote for #{number} yourself if you want to back it openly.",
            "Your anonymous idea #{mine} now joins #{number} ({count} votes); you will hear when "
            "#{number} moves. No vote was added in your name, so nothing ties you to #{mine}; "
            "vote for #{number} yourself if you want to back it openly.",
            count,
        ).format(mine=mine, number=target.id, count=count)
    )


async def _is_anonymous(ctx: ChatContext, suggestion_id: int) -> bool:
    suggestion = await ctx.session.get(Suggestion, suggestion_id)
    return suggestion is not None and suggestion.anonymous


@on_action(actions.FORM_OPEN)
async def open_card_form(ctx: ChatContext, event: ActionInvoked) -> Reply:
    """A form inside a delivered card (platforms that cannot show it inline open it on demand)."""
    delivery = await delivery_for(ctx, event.message_ref)
    cards = Message.from_dict(delivery.message.payload).cards if delivery else ()
    index = event.value.get("card")
    if not isinstance(index, int) or not 0 <= index < len(cards) or cards[index].form is None:
        return Reply.fail(_("This form is no longer available; ask for a fresh card."))
    return Reply(form=cards[index].form)


@on_action(actions.DIGEST_ADD_OPEN)
async def open_digest_form(ctx: ChatContext, event: ActionInvoked) -> Reply:
    return await offer_digest_form(ctx)


@on_action(actions.CONTENT_ADD_OPEN)
async def open_content_form(ctx: ChatContext, event: ActionInvoked) -> Reply:
    return await offer_content_form(ctx)


@on_action(actions.SUGGESTION_ANSWER)
async def answer_button(ctx: ChatContext, event: ActionInvoked) -> Reply:
    suggestion = await suggestion_service.get_suggestion(
        ctx.session, parse_id(str(event.value.get("suggestion", "")), "suggestion")
    )
    await suggestion_service.require_answerable(ctx.session, ctx.member, suggestion)
    return Reply(form=answer_form(suggestion, objectives=await list_objectives(ctx.session)))


@on_action(actions.REVIEW_ANSWER)
async def review_answer_button(ctx: ChatContext, event: ActionInvoked) -> Reply:
    return await review_button(ctx, event)


@on_action(actions.ROLLUP_SHOW)
async def rollup_button(ctx: ChatContext, event: ActionInvoked) -> Reply:
    reply = await show_rollup(
        ctx, str(event.value.get("by", "objective")), str(event.value.get("since", "30d"))
    )
    return Reply(update=reply.messages[0]) if event.message_ref else reply


@on_action(actions.COMMENT_OPEN)
async def open_comment_form(ctx: ChatContext, event: ActionInvoked) -> Reply:
    _subject(event.value)
    return Reply(form=comment_form(event.value["subject"], event.message_ref))


@on_form(actions.FORM_SUGGEST)
async def suggest_submitted(ctx: ChatContext, event: FormSubmitted) -> Reply:
    # "--anonymous" typed into the idea itself counts too, box ticked or not.
    ticked = truthy(event.values.get("anonymous", False))
    asked, text = take_anonymous_flag(str(event.values.get("text") or ""), already_anonymous=ticked)
    return await file_idea(
        ctx,
        text,
        objective_key=str(event.values.get("objective") or "").strip() or None,
        anonymous=asked or ticked,
        source_url=str(event.context.get("source_url") or "") or None,
    )


@on_form(actions.FORM_ANSWER)
async def answer_submitted(ctx: ChatContext, event: FormSubmitted) -> Reply:
    suggestion_id = parse_id(str(event.context.get("suggestion", "")), "suggestion")
    values = {k: str(v or "") for k, v in event.values.items()}
    status = values.get("status", "").strip() or None
    promise = Promise.from_fields(
        values.get("objective", ""), values.get("expect", ""), values.get("review", "")
    )
    reply = await record_answer(ctx, suggestion_id, values.get("text", ""), status, promise)
    # The answered idea leaves the manager's queue on their home.
    return replace(reply, refresh_home=not reply.error)


@on_form(actions.FORM_COMMENT)
async def comment_submitted(ctx: ChatContext, event: FormSubmitted) -> Reply:
    subject_type, subject_id = _subject(event.context)
    message_ref = str(event.context.get("message_ref") or "") or None
    delivery = await delivery_for(ctx, message_ref, (subject_type, subject_id))
    text = str(event.values.get("text") or "")
    recorded = await record_feedback(
        ctx.session,
        ctx.member,
        subject_type,
        subject_id,
        FeedbackKind.COMMENT,
        platform=ctx.platform,
        comment=text,
        delivery_id=delivery.id if delivery else None,
    )
    if recorded:
        ctx.count(
            lambda: ctx.metrics.feedback_recorded.labels(
                platform=ctx.platform, kind=FeedbackKind.COMMENT
            ).inc()
        )
        return Reply.say(_("Thanks, your comment reached the people who curate this."))
    return Reply.say(_("You already sent that comment; it counts once."))


@on_form(actions.FORM_CONTENT_ADD)
async def content_submitted(ctx: ChatContext, event: FormSubmitted) -> Reply:
    values = event.values
    item = await content_service.add_content(
        ctx.session,
        ctx.member,
        str(values.get("url") or ""),
        title=str(values.get("title") or ""),
        summary=str(values.get("summary") or ""),
        share_text=str(values.get("share_text") or ""),
        objective_key=str(values.get("objective") or "").strip() or None,
        image_url=str(event.context.get("image_url") or "") or None,
    )
    return Reply.say(
        _(
            "Added #{number} '{title}' to the library; the next content digest will include it."
        ).format(number=item.id, title=item.title)
    )


def _content_id(value: dict[str, Any]) -> int:
    return parse_id(str(value.get("content", "")), "content")


async def _review(ctx: ChatContext, event: ActionInvoked, approve: bool) -> Reply:
    item = await content_service.review_content(
        ctx.session, ctx.member, _content_id(event.value), approve=approve
    )
    if approve:
        said = _("#{number} '{title}' approved: it goes out with the next content digest.")
    else:
        said = _("#{number} '{title}' rejected.")
    return Reply(
        messages=[Message.text(said.format(number=item.id, title=item.title))],
        update=Message(fallback=item.title, cards=(curation_card(item),))
        if event.message_ref
        else None,
    )


@on_action(actions.CONTENT_APPROVE)
async def approve_content(ctx: ChatContext, event: ActionInvoked) -> Reply:
    return await _review(ctx, event, approve=True)


@on_action(actions.CONTENT_REJECT)
async def reject_content(ctx: ChatContext, event: ActionInvoked) -> Reply:
    return await _review(ctx, event, approve=False)


@on_action(actions.CONTENT_EDIT)
async def open_edit_form(ctx: ChatContext, event: ActionInvoked) -> Reply:
    require_role(ctx.member, (Role.STRATEGIST,), _("curate content"))
    item = await content_service.get_content(ctx.session, _content_id(event.value))
    return Reply(form=edit_form(item, await list_objectives(ctx.session)))


@on_form(actions.FORM_CONTENT_EDIT)
async def edit_submitted(ctx: ChatContext, event: FormSubmitted) -> Reply:
    values = {k: str(v or "").strip() for k, v in event.values.items()}
    expires = values.get("expires", "")
    if expires and not expires.isdigit():
        raise InvalidInput(
            _("Write the number of days after which to stop sending it, or nothing.")
        )
    item = await content_service.edit_content(
        ctx.session,
        ctx.member,
        _content_id(event.context),
        title=values.get("title"),
        summary=values.get("summary"),
        share_texts={"linkedin": values.get("linkedin", ""), "x": values.get("x", "")},
        objective_key=values.get("objective", ""),
        topics=[t for t in values.get("topics", "").split(",") if t.strip()],
        expires_at=utcnow() + timedelta(days=int(expires)) if expires else None,
    )
    return Reply(
        messages=[
            Message.text(_("Saved #{number} '{title}'.").format(number=item.id, title=item.title)),
            Message(fallback=item.title, cards=(curation_card(item),)),
        ]
    )


@on_form(actions.FORM_DIGEST_ADD)
async def digest_submitted(ctx: ChatContext, event: FormSubmitted) -> Reply:
    values = {k: str(v or "").strip() for k, v in event.values.items()}
    audience = values.get("audience") or "all"
    if values.get("channel"):
        audience = f"channel:{ctx.platform}:{values['channel']}"
    cron = values.get("cron") or cron_from_day_and_time(
        values.get("days", ""), values.get("time", "")
    )
    digest = await digests.add_digest(
        ctx.session,
        ctx.member,
        values.get("name", ""),
        kind=values.get("kind", ""),
        audience=audience,
        cron=cron,
        timezone=values.get("timezone") or ctx.member.timezone,
        local_time=values.get("clock") == "local",
    )
    upcoming = digests.next_fire_times(digest, 1)
    when = _first_firing(upcoming[0], digest.timezone) if upcoming else _("never")
    if digest.local_time:
        return Reply.say(
            _("Scheduled '{name}': {schedule}; in {zone} it first fires {when}.").format(
                name=digest.name,
                schedule=digests.describe_schedule(digest),
                zone=digest.timezone,
                when=when,
            )
        )
    return Reply.say(
        _("Scheduled '{name}'; it first fires {when}.").format(name=digest.name, when=when)
    )


def _first_firing(moment: datetime, zone: str) -> str:
    """'Monday, December 7, 2026 at 09:00 (Europe/Paris)', in the digest's time zone."""
    return _("{date} at {time} ({zone})").format(
        date=format_date(moment, "full", zone=zone),
        time=format_time(moment, "short", zone=zone),
        zone=zone,
    )


async def reaction(ctx: ChatContext, message_ref: str | None, emoji: str, added: bool) -> Reply:
    """A reaction on one of the bot's messages counts as feedback on what the message is about.
    When nothing is recorded, the reply says why; platforms where reactions are silent (Slack,
    Teams: people react to each other's messages all day) do not show it."""
    delivery = await delivery_for(ctx, message_ref)
    if delivery is None:  # someone else's message, or one the bot did not deliver
        return _unchanged(
            _(
                "That message is not one you can react to: reactions count on digests, articles "
                "and ideas the bot sent you."
            )
        )
    message = Message.from_dict(delivery.message.payload)
    subject = message.subject or next(
        (card.subject for card in message.cards if card.subject), None
    )
    if subject is None:
        return _unchanged(
            _(
                "Reactions count on digests, articles and ideas the bot sent you; that message is "
                "not about one of them, so nothing was recorded."
            )
        )
    subject_type, subject_id = parse_subject(subject)
    if added:
        recorded = await record_feedback(
            ctx.session,
            ctx.member,
            subject_type,
            subject_id,
            FeedbackKind.REACTION,
            platform=ctx.platform,
            detail=emoji,
            delivery_id=delivery.id,
        )
        if recorded:
            ctx.count(
                lambda: ctx.metrics.feedback_recorded.labels(
                    platform=ctx.platform, kind=FeedbackKind.REACTION
                ).inc()
            )
            return Reply()
        return _unchanged(
            _("You already reacted with {emoji} to that message; it counts once.").format(
                emoji=emoji
            )
        )
    if await retract_reaction(ctx.session, ctx.member, subject_type, subject_id, emoji):
        return Reply()
    return _unchanged(
        _("You had no {emoji} reaction on that message to take back.").format(emoji=emoji)
    )


def _unchanged(why: str) -> Reply:
    return Reply(messages=[Message.text(why)], duplicate=True)
