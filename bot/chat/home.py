"""The app's home for each member: what they can do, their ideas and what became of them,
ideas to vote on, and for managers the rollup with the ideas waiting for an answer."""

from __future__ import annotations

from sqlalchemy import select

from bot.chat.context import ChatContext
from bot.compose import actions
from bot.compose.suggestion_cards import rollup_message, status_label, voting_card
from bot.compose.text import truncate, with_article
from bot.domain import Role
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
    buttons = [Button("Suggest an idea", actions.SUGGEST_OPEN, {}, ButtonStyle.PRIMARY)]
    if has_role(member, Role.STRATEGIST):
        buttons += [
            Button("Add content", actions.CONTENT_ADD_OPEN, {}),
            Button("Schedule a digest", actions.DIGEST_ADD_OPEN, {}),
        ]
    cards = [
        Card(
            title=f"Hello {member.display_name}",
            text=f"You are {with_article(member.role)}"
            + (f" in {member.team.name}." if member.team else ".")
            + " Everything here is tied to what we promised our customers.",
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
        cards += rollup_message(rollups[0], f"last {ROLLUP_PERIOD}", breakdowns=rollups).cards
    cards += await _own_ideas(ctx)
    cards += await _ideas_to_vote_on(ctx)
    return Message(fallback=f"Home of {member.display_name}", cards=tuple(cards), kind="home")


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
        title="Your ideas",
        text="Ideas you sent anonymously are not listed: nothing links them to you, not even "
        "here. You are told when they are answered."
        if ideas
        else "You have not sent an idea yet. Anonymous ones never show here, by design.",
    )
    cards = [header]
    for idea in ideas:
        facts = [Fact("Status", status_label(idea.status)), Fact("Votes", str(idea.vote_count))]
        answers = await responses_for(ctx.session, idea.id)
        if answers:
            facts.append(Fact("Latest answer", truncate(answers[-1].text, 300)))
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
        Card(title="Ideas from colleagues", text="One vote each; the most wanted rise to the top."),
        *(voting_card(idea, voted=idea.id in voted) for idea in ideas),
    ]
