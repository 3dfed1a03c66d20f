"""Chat commands, the same on every platform: ``/suggest``, ``/vote``, ``/rollup``...

Slack sends them as slash commands, Teams and the shell as text; adapters turn both into
CommandInvoked events. The table at the end of this module says what each does, who may run it
and how /help shows it (bot/chat/catalogue.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bot.chat.board import suggestions
from bot.chat.catalogue import (
    ChatCommand,
    closest_command,
    find_command,
    register,
    run_checked,
)
from bot.chat.context import ChatContext
from bot.chat.digest_commands import (
    digest_add,
    digest_delete,
    digest_edit,
    digest_list,
    digest_pause,
    digest_resume,
    digest_run,
)
from bot.chat.help import help_message
from bot.chat.parsing import parse_id, split_command, split_words, take_anonymous_flag, take_flags
from bot.chat.review_commands import (
    REVIEW_USAGE,
    promise_of,
    promise_told,
    review,
    take_promise_flags,
)
from bot.chat.voice_commands import voice
from bot.compose import actions
from bot.compose.curation import drafts_message
from bot.compose.notices import who_is_told
from bot.compose.report_card import objectives_report_message
from bot.compose.suggestion_cards import (
    announcement,
    answer_form,
    receipt,
    rollup_message,
    similar_ideas_card,
    suggest_form,
    voting_card,
)
from bot.compose.text import plural
from bot.console.invite import send_link_by_dm
from bot.console.sections import CONSOLE_ROLES
from bot.domain import Role, SuggestionStatus, closest_choice, normalise_choice
from bot.errors import DomainError, InvalidInput
from bot.events import Reply
from bot.messages import Card, Fact, FieldKind, Form, FormField, Message, Option
from bot.plugins import PageInfo
from bot.services import content as content_service
from bot.services import suggestions as suggestion_service
from bot.services.objectives import list_objectives
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import require_role
from bot.services.preferences import (
    PreferenceChange,
    apply_preferences,
    describe_preferences,
    parse_preference_words,
)
from bot.services.promises import Promise
from bot.services.rollups import build_rollup, parse_period
from bot.services.similar import similar_ideas
from bot.services.suggestion_evidence import evidence_summaries
from bot.services.suggestion_moderation import hide_suggestion, merge_suggestions
from bot.storage.models import ContentFeed, Delivery


async def run_command(ctx: ChatContext, name: str, text: str) -> Reply:
    name = name.lstrip("/").lower()
    if name == "advocacy":
        # Slack's umbrella command: "/advocacy digest run weekly" is "/digest run weekly".
        ctx.umbrella = "advocacy"
        name, text = split_command(text) if text else ("help", "")
    found = find_command(name, text)
    if found is None:
        guess = closest_command(name, ctx.member.role)
        prefix = f"/{ctx.umbrella} " if ctx.umbrella else "/"
        hint = f" Did you mean {prefix}{guess}?" if guess else ""
        return Reply.fail(f"I don't know '/{name}'.{hint} Type /help to see what I can do.")
    return await run_checked(ctx, *found)


async def help_command(ctx: ChatContext, text: str) -> Reply:
    return Reply(messages=[help_message(ctx.member.role, umbrella=ctx.umbrella)])


async def whoami(ctx: ChatContext, text: str) -> Reply:
    member = ctx.member
    return Reply(
        messages=[
            Message(
                fallback=f"You are {member.display_name} ({member.role}).",
                cards=(
                    Card(
                        title=member.display_name,
                        facts=(
                            Fact("Role", member.role),
                            Fact("Team", member.team.name if member.team else "none"),
                            Fact("Time zone", member.timezone),
                        ),
                    ),
                ),
            )
        ]
    )


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


async def merge(ctx: ChatContext, text: str) -> Reply:
    """Managers fold a duplicate into the idea it repeats: '/merge 12 into 7'."""
    numbers = [w for w in split_words(text) if w.lower() != "into"]
    if len(numbers) != 2:
        raise InvalidInput("Write /merge DUPLICATE_ID into ID, for example /merge 12 into 7.")
    duplicate = parse_id(numbers[0], "suggestion")
    target_id = parse_id(numbers[1], "suggestion")
    target = await merge_suggestions(ctx.session, ctx.sealer, ctx.member, duplicate, target_id)
    ctx.queued_messages = True
    return Reply.say(
        f"#{duplicate} joined #{target.id}, which now has {plural(target.vote_count, 'vote')}. "
        "Its author was told; its voters will hear when #"
        f"{target.id} moves."
    )


async def console(ctx: ChatContext, text: str) -> Reply:
    """A one-time link to the web console, sent by direct message (never in a channel)."""
    await send_link_by_dm(ctx.session, ctx.sealer, ctx.member, ctx.public_url)
    ctx.queued_messages = True
    return Reply.say(
        "I sent you a sign-in link by direct message. It works once, for 10 minutes. What you "
        f"see there depends on your role ({ctx.member.role})."
    )


async def report(ctx: ChatContext, text: str) -> Reply:
    """The objectives report as a card, with its chart, for managers and strategists."""
    flags, _ = take_flags(text, {"since": True})
    period = parse_period(str(flags.get("since") or "30d")) or timedelta(days=30)
    built = await build_objectives_report(
        ctx.session, ctx.member, ctx.sealer, period, overdue_after=ctx.answer_after
    )
    charts = ctx.charts
    kpi = charts.url_for("kpi", period.days) if charts else None
    activity = charts.url_for("objectives", period.days) if charts else None
    return Reply(messages=[objectives_report_message(built, kpi, activity)])


async def hide(ctx: ChatContext, text: str) -> Reply:
    """Managers take an abusive idea off the board: '/hide 12 REASON'."""
    number, _, reason = text.strip().partition(" ")
    if not number or not reason.strip():
        raise InvalidInput("Write /hide ID REASON; the author is told the reason.")
    hidden = await hide_suggestion(
        ctx.session, ctx.sealer, ctx.member, parse_id(number, "suggestion"), reason
    )
    ctx.queued_messages = True
    return Reply.say(f"#{hidden.id} is hidden; its author was told why.")


async def vote(ctx: ChatContext, text: str) -> Reply:
    if not text.strip():
        raise InvalidInput("Which suggestion? Write /vote ID, for example /vote 12.")
    return await cast_vote(ctx, parse_id(text, "suggestion"))


async def unvote(ctx: ChatContext, text: str) -> Reply:
    """Take back a vote given by mistake (a button press cannot: a double click would undo)."""
    if not text.strip():
        raise InvalidInput("Which suggestion? Write /unvote ID, for example /unvote 12.")
    suggestion, withdrawn = await suggestion_service.withdraw_vote(
        ctx.session, ctx.member, parse_id(text, "suggestion")
    )
    votes = plural(suggestion.vote_count, "vote")
    if not withdrawn:
        reply = Reply.say(
            f"You had not voted for #{suggestion.id} ({votes}); nothing to take back."
        )
        reply.duplicate = True
        return reply
    return Reply.say(f"Your vote for #{suggestion.id} is taken back; it now has {votes}.")


async def cast_vote(
    ctx: ChatContext, suggestion_id: int, delivery: Delivery | None = None
) -> Reply:
    """Vote once; a card the vote came from shows the new count (and, in a DM, "Voted")."""
    suggestion, counted = await suggestion_service.vote(ctx.session, ctx.member, suggestion_id)
    votes = plural(suggestion.vote_count, "vote")
    if counted:
        reply = Reply.say(f"Your vote for #{suggestion.id} is counted; it now has {votes}.")
    else:
        reply = Reply.say(
            f"You already voted for #{suggestion.id} ({votes}); each person votes once "
            f"(/unvote {suggestion.id} takes it back)."
        )
        reply.duplicate = True
    if delivery is not None:
        weight = await evidence_summaries(ctx.session, [suggestion], ctx.extensions.scrubber)
        evidence = weight.get(suggestion.id)
        reply.update = (
            announcement(suggestion, evidence)
            if delivery.channel
            else Message(
                fallback=reply.messages[0].fallback,
                cards=(voting_card(suggestion, voted=True, evidence=evidence),),
            )
        )
    return reply


async def objectives(ctx: ChatContext, text: str) -> Reply:
    found = await list_objectives(ctx.session)
    if not found:
        return Reply.say(
            "No objectives yet. A strategist or manager adds them with "
            "advocacy objectives add KEY TITLE."
        )
    return Reply(
        messages=[
            Message(
                fallback="Objectives: " + ", ".join(o.key for o in found),
                cards=(
                    Card(
                        title="Our objectives",
                        facts=tuple(
                            Fact(o.key, o.title + (f" (KPI: {o.kpi})" if o.kpi else ""))
                            for o in found
                        ),
                    ),
                ),
            )
        ]
    )


async def rollup(ctx: ChatContext, text: str) -> Reply:
    flags, _ = take_flags(text, {"by": True, "since": True})
    return await show_rollup(ctx, str(flags.get("by", "objective")), str(flags.get("since", "30d")))


async def show_rollup(ctx: ChatContext, by: str, since: str) -> Reply:
    period = parse_period(since)
    result = await build_rollup(
        ctx.session, ctx.member, ctx.sealer, by=by, period=period, scrub=ctx.extensions.scrubber
    )
    label = "all time" if period is None else f"last {since}"
    return Reply(messages=[rollup_message(result, label, since)])


async def answer(ctx: ChatContext, text: str) -> Reply:
    raw_id, _, rest = text.strip().partition(" ")
    if not raw_id:
        raise InvalidInput(
            "Write /answer ID [STATUS] TEXT, for example: /answer 12 planned We ship it in May."
        )
    require_role(ctx.member, (Role.MANAGER,), "answer suggestions")
    suggestion_id = parse_id(raw_id, "suggestion")
    flags: dict[str, str | bool] = {}  # the KPI check: before or after the status
    status, rest = leading_status(take_promise_flags(rest, flags))
    rest = take_promise_flags(rest, flags)
    promise = promise_of(flags)
    if not rest.strip():
        suggestion = await suggestion_service.get_suggestion(ctx.session, suggestion_id)
        await suggestion_service.require_answerable(ctx.session, ctx.member, suggestion)
        return Reply(form=answer_form(suggestion, status, await list_objectives(ctx.session)))
    return await record_answer(ctx, suggestion_id, rest, status, promise)


# Words that start an answer as often as they misspell a status ("News: ..." is not "new").
_NOT_TYPOS = {SuggestionStatus.NEW.value}
STATUS_CHOICES = ", ".join(status.label for status in SuggestionStatus)


def leading_status(text: str) -> tuple[str | None, str]:
    """Split '/answer 12 under review Looking into it' into the status and the answer. A first
    word that misspells a status ('planed') is refused rather than sent as the answer, which
    would tell the author and every voter that nothing changed."""
    stripped = text.strip()
    heads = []
    for count in (2, 1):  # "under review" before "under"
        parts = stripped.split(None, count)
        if len(parts) >= count:
            heads.append((" ".join(parts[:count]), parts[count] if len(parts) > count else ""))
    values = [status.value for status in SuggestionStatus]
    for head, rest in heads:
        if normalise_choice(head.rstrip(":,;.")) in values:
            return normalise_choice(head.rstrip(":,;.")), rest.strip()
    for head, _ in heads:
        typo = closest_choice(head.rstrip(":,;."), set(values) - _NOT_TYPOS, cutoff=0.8)
        if typo is not None:
            label = SuggestionStatus(typo).label
            raise InvalidInput(
                f"'{head}' is not a status. Did you mean {label}? A status is one of: "
                f"{STATUS_CHOICES}. Write /answer ID {label} YOUR ANSWER, or /answer ID alone "
                "for a form."
            )
    return None, stripped


async def record_answer(
    ctx: ChatContext,
    suggestion_id: int,
    text: str,
    status: str | None,
    promise: Promise | None = None,
) -> Reply:
    outcome = await suggestion_service.answer_suggestion(
        ctx.session, ctx.sealer, ctx.member, suggestion_id, text, status=status, promise=promise
    )
    ctx.queued_messages = outcome.author_notified
    told = who_is_told(outcome.author_notified, outcome.others_notified)
    state = SuggestionStatus(outcome.suggestion.status).label
    kpi = promise_told(ctx, outcome)
    return Reply.say(f"Answer recorded: #{outcome.suggestion.id} is {state}. {told}{kpi}")


async def prefs(ctx: ChatContext, text: str) -> Reply:
    """Each member's own choices: what to mute, daily or weekly, quiet hours."""
    change = parse_preference_words(split_words(text))
    if change != PreferenceChange():
        await apply_preferences(ctx.session, ctx.member, change)
    described = describe_preferences(ctx.member)
    return Reply(
        messages=[
            Message(
                fallback="Your preferences: "
                + "; ".join(f"{name}: {value}" for name, value in described),
                kind="prefs",
                cards=(
                    Card(
                        title="What you receive",
                        text="Change it with /prefs mute voice, /prefs unmute voice, "
                        "/prefs weekly, /prefs daily, /prefs quiet 22:00-07:00 "
                        "or /prefs quiet off.",
                        facts=tuple(Fact(name, value) for name, value in described),
                    ),
                ),
            )
        ]
    )


async def content_list(ctx: ChatContext, text: str) -> Reply:
    items = await content_service.list_content(ctx.session, status="approved")
    if not items:
        return Reply.say("The library is empty. A strategist adds articles with /content add.")
    return Reply(
        messages=[
            Message(
                fallback=f"{plural(len(items), 'item')} in the library",
                cards=(
                    Card(
                        title="Content library",
                        facts=tuple(
                            Fact(
                                f"#{i.id}",
                                f"{i.title} ({i.objective.key if i.objective else '-'})",
                            )
                            for i in items[:20]
                        ),
                    ),
                ),
            )
        ]
    )


async def content_add(ctx: ChatContext, text: str) -> Reply:
    require_role(ctx.member, (Role.STRATEGIST,), "curate content")
    objectives = await list_objectives(ctx.session)
    words = split_words(text)
    url = words[0] if words else ""
    enricher = ctx.extensions.url_enricher

    async def filled_in() -> Reply:  # after the commit: the page may take seconds
        return Reply(form=content_form(objectives, url=url, info=await page_info(enricher, url)))

    return Reply(form=content_form(objectives, url=url), complete=filled_in if url else None)


async def content_drafts(ctx: ChatContext, text: str) -> Reply:
    require_role(ctx.member, (Role.STRATEGIST,), "curate content")
    drafts = await content_service.list_drafts(ctx.session)
    feeds = {f.id: f.title or f.url for f in await ctx.session.scalars(select(ContentFeed))}
    return Reply(messages=[drafts_message(drafts[:20], feeds)])


async def page_info(
    enricher: Callable[[str], Awaitable[PageInfo]] | None, url: str
) -> PageInfo | None:
    """What the page says about itself, to type less; nothing if it cannot be read."""
    if not url or enricher is None:
        return None
    try:
        return await enricher(url)
    except DomainError:
        return None


def content_form(objectives: list, url: str = "", info: PageInfo | None = None) -> Form:
    return Form(
        form_id=actions.FORM_CONTENT_ADD,
        title="Curate content",
        submit_label="Add",
        context={"image_url": info.image_url} if info and info.image_url else {},
        fields=(
            FormField("url", "URL", required=True, max_length=2000, initial=url),
            FormField(
                "title", "Title", required=True, max_length=300, initial=info.title if info else ""
            ),
            FormField(
                "summary",
                "Why it matters",
                FieldKind.MULTILINE,
                max_length=3000,
                initial=info.summary if info else "",
            ),
            FormField("share_text", "Suggested post text", FieldKind.MULTILINE, max_length=3000),
            FormField(
                "objective",
                "Objective",
                FieldKind.SELECT,
                options=(
                    Option("No particular objective", ""),
                    *(Option(o.title[:75], o.key) for o in objectives),
                ),
            ),
        ),
    )


LEADERS = (Role.MANAGER,)
CURATORS = (Role.STRATEGIST,)
register(
    ChatCommand(
        "suggest",
        suggest,
        "/suggest IDEA",
        "send an idea to leadership; add --anonymous to hide your name, --objective KEY to "
        "tie it to an objective; /suggest alone opens a form",
    ),
    ChatCommand(
        "suggestions",
        suggestions,
        "/suggestions [top|evidence] [STATUS] [page N]",
        "ideas to vote on, newest first (top: most voted first; evidence: most customers who "
        "said something similar first); STATUS is open, unanswered, under review, planned, "
        "done, declined or all",
    ),
    ChatCommand(
        "voice",
        voice,
        "/voice [WHAT THE CUSTOMER SAID]",
        "log what a customer told you (a short form: their words, who, the objective); it "
        "joins the customer-voice digests and alerts",
    ),
    ChatCommand("vote", vote, "/vote ID", "vote for suggestion ID (one vote each)"),
    ChatCommand("unvote", unvote, "/unvote ID", "take back your vote for suggestion ID"),
    ChatCommand("objectives", objectives, "/objectives", "the objectives everything here serves"),
    ChatCommand(
        "prefs",
        prefs,
        "/prefs",
        "what you receive: /prefs mute voice, /prefs weekly, /prefs quiet 22:00-07:00",
    ),
    ChatCommand("whoami", whoami, "/whoami", "your role, team and time zone"),
    ChatCommand("help", help_command, "/help", "this list"),
    ChatCommand(
        "content list",
        content_list,
        "/content list",
        "the library of approved articles",
        CURATORS,
        "see the content library",
    ),
    ChatCommand(
        "content add",
        content_add,
        "/content add [URL]",
        "curate an article (a form, filled in from the page when you give its URL)",
        CURATORS,
        "curate content",
    ),
    ChatCommand(
        "content drafts",
        content_drafts,
        "/content drafts",
        "articles from feeds waiting for Approve or Reject",
        CURATORS,
        "curate content",
    ),
    ChatCommand(
        "digest list",
        digest_list,
        "/digest list",
        "scheduled digests and when they next fire",
        CURATORS,
        "see digest schedules",
    ),
    ChatCommand(
        "digest add",
        digest_add,
        "/digest add",
        "schedule a digest (a form)",
        CURATORS,
        "schedule digests",
    ),
    ChatCommand(
        "digest run",
        digest_run,
        "/digest run NAME [--include-sent] [--since DATE]",
        "send a digest now (--include-sent: articles people already had too)",
        CURATORS,
        "send digests",
    ),
    ChatCommand(
        "digest edit",
        digest_edit,
        "/digest edit NAME --cron ... --tz ...",
        "change a schedule (--audience A; --local: each reader's clock)",
        CURATORS,
        "edit digests",
    ),
    ChatCommand(
        "digest pause",
        digest_pause,
        "/digest pause NAME",
        "stop a schedule until you resume it",
        CURATORS,
        "pause or resume digests",
    ),
    ChatCommand(
        "digest resume",
        digest_resume,
        "/digest resume NAME",
        "start a paused schedule again",
        CURATORS,
        "pause or resume digests",
    ),
    ChatCommand(
        "digest delete",
        digest_delete,
        "/digest delete NAME",
        "remove a schedule",
        CURATORS,
        "delete digests",
    ),
    ChatCommand(
        "rollup",
        rollup,
        "/rollup [--by objective|team|status] [--since 30d]",
        "ideas from your teams, oldest waiting first",
        LEADERS,
        "see suggestion rollups",
    ),
    ChatCommand(
        "answer",
        answer,
        "/answer ID [STATUS] [--objective KEY --expect higher|lower --review-in 30d] TEXT",
        f"answer an idea; STATUS is one of {STATUS_CHOICES}; planned or done may name the "
        "objective whose KPI it should move, checked on the review date",
        LEADERS,
        "answer suggestions",
    ),
    ChatCommand(
        "review",
        review,
        REVIEW_USAGE.replace("IDEA", "[IDEA") + "]",
        "did a decision help its KPI? answer the review (later N: ask again in N days); "
        "/review alone lists those waiting for you",
        LEADERS,
        "answer decision reviews",
    ),
    ChatCommand(
        "merge",
        merge,
        "/merge ID into ID",
        "fold a duplicate into the idea it repeats; votes move with it",
        LEADERS,
        "merge suggestions",
    ),
    ChatCommand(
        "hide",
        hide,
        "/hide ID REASON",
        "take an abusive idea off the board; the author is told why",
        LEADERS,
        "hide suggestions",
    ),
    ChatCommand(
        "report",
        report,
        "/report [--since 30d]",
        "the objectives report, with its chart",
        (Role.MANAGER, Role.STRATEGIST),
        "see the objectives report",
    ),
    ChatCommand(
        "console",
        console,
        "/console",
        "a one-time link to the web console, by direct message",
        CONSOLE_ROLES,
        "use the web console",
        "The web console is for strategists, managers and admins, and you are {role}: "
        "everything you can do is here in chat (type /help to see it).",
    ),
)
