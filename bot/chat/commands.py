"""Chat commands, the same on every platform: ``/suggest``, ``/vote``, ``/rollup``...

Slack sends them as slash commands, Teams and the shell as text; adapters turn both into
CommandInvoked events and this table decides what each does.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from bot.chat.context import ChatContext
from bot.chat.help import help_message
from bot.chat.parsing import parse_id, split_command, split_words, take_flags
from bot.compose import actions
from bot.compose.curation import drafts_message
from bot.compose.suggestion_cards import (
    announcement,
    answer_form,
    receipt,
    rollup_message,
    suggest_form,
    suggestion_list,
    voting_card,
)
from bot.compose.text import plural
from bot.domain import Role, SuggestionStatus
from bot.errors import DomainError, InvalidInput
from bot.events import Reply
from bot.messages import Card, Fact, FieldKind, Form, FormField, Message, Option
from bot.plugins import PageInfo
from bot.services import content as content_service
from bot.services import digest_runs, digests
from bot.services import suggestions as suggestion_service
from bot.services.objectives import list_objectives
from bot.services.permissions import require_role
from bot.services.rollups import build_rollup, parse_period
from bot.storage.models import ContentFeed, Delivery, SuggestionVote

Handler = Callable[[ChatContext, str], Awaitable[Reply]]
COMMANDS: dict[str, Handler] = {}


def command(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            COMMANDS[name] = handler
        return handler

    return register


async def run_command(ctx: ChatContext, name: str, text: str) -> Reply:
    name = name.lstrip("/").lower()
    if name == "advocacy":
        # Slack's umbrella command: "/advocacy digest run weekly" is "/digest run weekly".
        ctx.umbrella = "advocacy"
        name, text = split_command(text) if text else ("help", "")
    handler = COMMANDS.get(name)
    if handler is None:
        return Reply.fail(f"I don't know '/{name}'. Type /help to see what I can do.")
    return await handler(ctx, text)


@command("help", "start")
async def help_command(ctx: ChatContext, text: str) -> Reply:
    return Reply(messages=[help_message(ctx.member.role, umbrella=ctx.umbrella)])


@command("whoami")
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


@command("suggest", "idea")
async def suggest(ctx: ChatContext, text: str) -> Reply:
    flags, idea = take_flags(text, {"anonymous": False, "anon": False, "objective": True})
    if not idea.strip():
        return Reply(form=suggest_form(await list_objectives(ctx.session)))
    return await file_idea(
        ctx,
        idea,
        objective_key=str(flags["objective"]) if "objective" in flags else None,
        anonymous=bool(flags.get("anonymous") or flags.get("anon")),
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
    )
    if await suggestion_service.announce_suggestion(
        ctx.session, ctx.sealer, suggestion, ctx.suggestion_channels
    ):
        ctx.queued_messages = True
    ctx.count(lambda: ctx.metrics.suggestions.labels(platform=ctx.platform).inc())
    return Reply(messages=[receipt(suggestion)])


@command("suggestions", "ideas")
async def suggestions(ctx: ChatContext, text: str) -> Reply:
    status = text.strip() or None
    found = await suggestion_service.list_suggestions(
        ctx.session, status=status, open_only=status is None, limit=10, order="votes"
    )
    voted = set(
        await ctx.session.scalars(
            select(SuggestionVote.suggestion_id).where(
                SuggestionVote.member_id == ctx.member.id,
                SuggestionVote.suggestion_id.in_([s.id for s in found]),
            )
        )
    )
    return Reply(messages=[suggestion_list(found, voted)])


@command("vote")
async def vote(ctx: ChatContext, text: str) -> Reply:
    if not text.strip():
        raise InvalidInput("Which suggestion? Write /vote ID, for example /vote 12.")
    return await cast_vote(ctx, parse_id(text, "suggestion"))


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
            f"You already voted for #{suggestion.id} ({votes}); each person votes once."
        )
        reply.duplicate = True
    if delivery is not None:
        reply.update = (
            announcement(suggestion)
            if delivery.channel
            else Message(
                fallback=reply.messages[0].fallback, cards=(voting_card(suggestion, voted=True),)
            )
        )
    return reply


@command("objectives")
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


@command("rollup")
async def rollup(ctx: ChatContext, text: str) -> Reply:
    flags, _ = take_flags(text, {"by": True, "since": True})
    return await show_rollup(ctx, str(flags.get("by", "objective")), str(flags.get("since", "30d")))


async def show_rollup(ctx: ChatContext, by: str, since: str) -> Reply:
    period = parse_period(since)
    result = await build_rollup(ctx.session, ctx.member, by=by, period=period)
    label = "all time" if period is None else f"last {since}"
    return Reply(messages=[rollup_message(result, label, since)])


@command("answer")
async def answer(ctx: ChatContext, text: str) -> Reply:
    raw_id, _, rest = text.strip().partition(" ")
    if not raw_id:
        raise InvalidInput(
            "Write /answer ID [STATUS] TEXT, for example: /answer 12 planned We ship it in May."
        )
    require_role(ctx.member, (Role.MANAGER,), "answer suggestions")
    suggestion_id = parse_id(raw_id, "suggestion")
    status, rest = leading_status(rest)
    if not rest.strip():
        suggestion = await suggestion_service.get_suggestion(ctx.session, suggestion_id)
        await suggestion_service.require_answerable(ctx.session, ctx.member, suggestion)
        return Reply(form=answer_form(suggestion))
    return await record_answer(ctx, suggestion_id, rest, status)


def leading_status(text: str) -> tuple[str | None, str]:
    """Split '/answer 12 under review Looking into it' into the status and the answer."""
    stripped = text.strip()
    lowered = stripped.lower()
    for status in SuggestionStatus:
        for spelling in {status.value, status.label, status.value.replace("_", "-")}:
            if lowered == spelling or lowered.startswith(spelling + " "):
                return status.value, stripped[len(spelling) :].strip()
    return None, stripped


async def record_answer(
    ctx: ChatContext, suggestion_id: int, text: str, status: str | None
) -> Reply:
    outcome = await suggestion_service.answer_suggestion(
        ctx.session, ctx.sealer, ctx.member, suggestion_id, text, status=status
    )
    ctx.queued_messages = outcome.author_notified
    told = (
        "The author will be told."
        if outcome.author_notified
        else ("The author cannot be reached on any platform, so nobody was told.")
    )
    state = SuggestionStatus(outcome.suggestion.status).label
    return Reply.say(f"Answer recorded: #{outcome.suggestion.id} is {state}. {told}")


@command("digest", "digests")
async def digest_command(ctx: ChatContext, text: str) -> Reply:
    words = split_words(text)
    sub = words[0].lower() if words else "list"
    if sub == "list":
        found = await digests.list_digests(ctx.session)
        if not found:
            return Reply.say("No digests are scheduled. A strategist adds one with /digest add.")
        facts = []
        for d in found:
            upcoming = digests.next_fire_times(d, 1)
            when = upcoming[0].strftime("%a %d %b %H:%M %Z") if upcoming and d.enabled else "paused"
            facts.append(
                Fact(d.name, f"{d.kind} to {d.audience}, '{d.cron}' {d.timezone}; next: {when}")
            )
        return Reply(
            messages=[
                Message(
                    fallback="Digests: " + ", ".join(d.name for d in found),
                    cards=(Card(title="Scheduled digests", facts=tuple(facts)),),
                )
            ]
        )
    if sub == "run":
        name = " ".join(words[1:])
        if not name:
            raise InvalidInput("Which digest? Write /digest run NAME; /digest list shows them.")
        require_role(ctx.member, (Role.STRATEGIST,), "send digests")
        found = await digests.get_digest(ctx.session, name)
        outcome = await digest_runs.start_run(
            ctx.session,
            ctx.sealer,
            found,
            actor=ctx.member,
            composers=ctx.extensions.composers,
        )
        assert outcome is not None
        if outcome.queued == 0:
            return Reply.say(f"'{found.name}' was not sent: {outcome.note}")
        ctx.queued_messages = True
        return Reply.say(
            f"'{found.name}' is on its way to {plural(outcome.queued, 'recipient')} "
            f"(run #{outcome.run.id}, {outcome.note})."
        )
    if sub == "add":
        require_role(ctx.member, (Role.STRATEGIST,), "schedule digests")
        return Reply(form=digest_form(ctx.member.timezone))
    raise InvalidInput(
        f"Unknown '/digest {sub}'; use /digest list, /digest add or /digest run NAME."
    )


DAY_CHOICES = (
    Option("Every day", "*"),
    Option("Weekdays (Monday to Friday)", "mon-fri"),
    Option("Monday", "mon"),
    Option("Tuesday", "tue"),
    Option("Wednesday", "wed"),
    Option("Thursday", "thu"),
    Option("Friday", "fri"),
    Option("Saturday", "sat"),
    Option("Sunday", "sun"),
)
TIME_PATTERN = re.compile(r"^([01]?\d|2[0-3])[:h.]([0-5]\d)$")


def cron_from_day_and_time(days: str, time: str) -> str:
    """'mon-fri' and '09:30' -> '30 9 * * mon-fri' (read in the digest's time zone)."""
    match = TIME_PATTERN.match(time.strip().lower())
    if not match:
        raise InvalidInput(f"'{time}' is not a time of day; write it like 09:00 or 17:30.")
    valid = {option.value for option in DAY_CHOICES}
    day = days.strip().lower() or "*"
    if day not in valid:
        raise InvalidInput(f"Unknown day '{days}'; choose every day, weekdays or one day.")
    return f"{int(match.group(2))} {int(match.group(1))} * * {day}"


def digest_form(timezone: str) -> Form:
    return Form(
        form_id=actions.FORM_DIGEST_ADD,
        title="Schedule a digest",
        submit_label="Schedule",
        fields=(
            FormField("name", "Name", required=True, max_length=100, placeholder="Monday picks"),
            FormField(
                "kind",
                "Kind",
                FieldKind.SELECT,
                required=True,
                initial="content",
                options=(
                    Option("Curated content", "content"),
                    Option("Customer voice", "voice"),
                    Option("Suggestion rollup (managers)", "rollup"),
                ),
            ),
            FormField(
                "audience",
                "Audience",
                required=True,
                initial="all",
                placeholder="all, or team:NAME",
            ),
            FormField("channel", "Or post it in a channel", FieldKind.CONVERSATION),
            FormField(
                "days", "Day", FieldKind.SELECT, required=True, initial="mon", options=DAY_CHOICES
            ),
            FormField("time", "Time (24 h)", required=True, initial="09:00", max_length=5),
            FormField("timezone", "Time zone", required=True, initial=timezone, max_length=64),
        ),
    )


@command("content")
async def content_command(ctx: ChatContext, text: str) -> Reply:
    words = split_words(text)
    sub = words[0].lower() if words else "list"
    if sub == "list":
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
    if sub == "add":
        require_role(ctx.member, (Role.STRATEGIST,), "curate content")
        objectives = await list_objectives(ctx.session)
        url = words[1] if len(words) > 1 else ""
        return Reply(form=content_form(objectives, url=url, info=await page_info(ctx, url)))
    if sub == "drafts":
        require_role(ctx.member, (Role.STRATEGIST,), "curate content")
        drafts = await content_service.list_drafts(ctx.session)
        feeds = {f.id: f.title or f.url for f in await ctx.session.scalars(select(ContentFeed))}
        return Reply(messages=[drafts_message(drafts[:20], feeds)])
    raise InvalidInput(
        f"Unknown '/content {sub}'; use /content list, /content drafts or /content add."
    )


async def page_info(ctx: ChatContext, url: str) -> PageInfo | None:
    """What the page says about itself, to type less; nothing if it cannot be read."""
    if not url or ctx.extensions.url_enricher is None:
        return None
    try:
        return await ctx.extensions.url_enricher(url)
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
