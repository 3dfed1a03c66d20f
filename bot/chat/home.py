"""The app's home for each member: what they can do, their ideas and what became of them,
ideas to vote on, and for managers the rollup with the ideas waiting for an answer."""

from __future__ import annotations

from sqlalchemy import select

from bot.chat.context import ChatContext
from bot.chat.wording import role_phrase
from bot.compose import actions
from bot.compose.suggestion_cards import rollup_message, status_label, voting_card
from bot.compose.text import humanise_duration, truncate
from bot.domain import Role
from bot.i18n import _
from bot.i18n.formats import format_number
from bot.messages import Button, ButtonStyle, Card, Fact, Message
from bot.services.permissions import has_role
from bot.services.rollups import build_rollup, parse_period
from bot.services.suggestions import list_suggestions, responses_for
from bot.storage.models import Suggestion, SuggestionVote

ROLLUP_PERIOD = "30d"
OWN_IDEAS = 5
TO_VOTE_ON = 5


async def home_message(ctx: ChatContext) -> Message:
    member = ctx.member
    buttons = [Button(_("Suggest an idea"), actions.SUGGEST_OPEN, {}, ButtonStyle.PRIMARY)]
    if has_role(member, Role.STRATEGIST):
        buttons += [
            Button(_("Add content"), actions.CONTENT_ADD_OPEN, {}),
            Button(_("Schedule a digest"), actions.DIGEST_ADD_OPEN, {}),
        ]
    role = role_phrase(member.role)
    if member.team:
        who = _("You are {role} in {team}.").format(role=role, team=member.team.name)
    else:
        who = _("You are {role}.").format(role=role)
    cards = [
        Card(
            title=_("Hello {name}").format(name=member.display_name),
            text=who + " " + _("Everything here is tied to what we promised our customers."),
            buttons=tuple(buttons),
        )
    ]
    if has_role(member, Role.MANAGER):
        # All three breakdowns at once: a Home view has no message for a button to update.
        period = parse_period(ROLLUP_PERIOD)
        rollups = [
            await build_rollup(
                ctx.session, member, ctx.sealer, by=by, period=period, scrub=ctx.extensions.scrubber
            )
            for by in ("objective", "team", "status")
        ]
        label = _("last {period}").format(period=humanise_duration(period))
        cards += rollup_message(rollups[0], label, breakdowns=rollups).cards
    cards += await _own_ideas(ctx)
    cards += await _ideas_to_vote_on(ctx)
    return Message(
        fallback=_("Home of {name}").format(name=member.display_name),
        cards=tuple(cards),
        kind="home",
    )


async def _own_ideas(ctx: ChatContext) -> list[Card]:
    ideas = list(
        await ctx.session.scalars(
            select(Suggestion)
            .where(Suggestion.author_id == ctx.member.id)
            .order_by(Suggestion.created_at.desc())
            .limit(OWN_IDEAS)
        )
    )
    header = Card(
        title=_("Your ideas"),
        text=_(
            "Ideas you sent anonymously are not listed: nothing links them to you, not even "
            "here. You are told when they are answered."
        )
        if ideas
        else _("You have not sent an idea yet. Anonymous ones never show here, by design."),
    )
    cards = [header]
    for idea in ideas:
        facts = [
            Fact(_("Status"), status_label(idea.status)),
            Fact(_("Votes"), format_number(idea.vote_count)),
        ]
        answers = await responses_for(ctx.session, idea.id)
        if answers:
            facts.append(Fact(_("Latest answer"), truncate(answers[-1].text, 300)))
        cards.append(Card(title=f"#{idea.id}: {truncate(idea.text, 80)}", facts=tuple(facts)))
    return cards


async def _ideas_to_vote_on(ctx: ChatContext) -> list[Card]:
    ideas = [
        idea
        for idea in await list_suggestions(ctx.session, open_only=True, limit=20, order="votes")
        if idea.author_id != ctx.member.id
    ][:TO_VOTE_ON]
    if not ideas:
        return []
    voted = set(
        await ctx.session.scalars(
            select(SuggestionVote.suggestion_id).where(
                SuggestionVote.member_id == ctx.member.id,
                SuggestionVote.suggestion_id.in_([idea.id for idea in ideas]),
            )
        )
    )
    return [
        Card(
            title=_("Ideas from colleagues"),
            text=_("One vote each; the most wanted rise to the top."),
        ),
        *(voting_card(idea, voted=idea.id in voted) for idea in ideas),
    ]
