"""Chat commands, the same on every platform: ``/suggest``, ``/vote``, ``/rollup``...

Slack sends them as slash commands, Teams and the shell as text; adapters turn both into
CommandInvoked events and this table decides what each does.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bot.chat.context import ChatContext
from bot.chat.help import help_message
from bot.chat.parsing import parse_id, split_command, split_words, take_anonymous_flag, take_flags
from bot.compose import actions
from bot.compose.curation import drafts_message
from bot.compose.report_card import objectives_report_message
from bot.compose.suggestion_cards import (
    announcement,
    answer_form,
    receipt,
    rollup_message,
    similar_ideas_card,
    suggest_form,
    suggestion_list,
    voting_card,
)
from bot.compose.text import plural
from bot.console.invite import send_link_by_dm
from bot.domain import Role, SuggestionStatus
from bot.errors import DomainError, InvalidInput
from bot.events import Reply
from bot.messages import Card, Fact, FieldKind, Form, FormField, Message, Option
from bot.plugins import PageInfo
from bot.services import content as content_service
from bot.services import digest_runs, digests
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
from bot.services.rollups import build_rollup, parse_period
from bot.services.similar import similar_ideas
from bot.services.suggestion_moderation import hide_suggestion, merge_suggestions
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
    )
    if await suggestion_service.announce_suggestion(
        ctx.session, ctx.sealer, suggestion, ctx.suggestion_channels
    ):
        ctx.queued_messages = True
    ctx.count(lambda: ctx.metrics.suggestions.labels(platform=ctx.platform).inc())
    own_team = ctx.member.team.name if ctx.member.team is not None else None
    message = receipt(suggestion, author_team=own_team)
    similar = await similar_ideas(ctx.session, suggestion)
    if similar:
        message = replace(message, cards=(*message.cards, similar_ideas_card(suggestion, similar)))
    return Reply(messages=[message])


@command("merge")
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


@command("console")
async def console(ctx: ChatContext, text: str) -> Reply:
    """A one-time link to the web console, sent by direct message (never in a channel)."""
    await send_link_by_dm(ctx.session, ctx.sealer, ctx.member, ctx.public_url)
    ctx.queued_messages = True
    return Reply.say(
        "I sent you a sign-in link by direct message. It works once, for 10 minutes. What you "
        f"see there depends on your role ({ctx.member.role})."
    )


@command("report")
async def report(ctx: ChatContext, text: str) -> Reply:
    """The objectives report as a card, with its chart, for managers and strategists."""
    flags, _ = take_flags(text, {"since": True})
    period = parse_period(str(flags.get("since") or "30d")) or timedelta(days=30)
    built = await build_objectives_report(ctx.session, ctx.member, ctx.sealer, period)
    chart = ctx.charts.url_for("objectives", period.days) if ctx.charts else None
    return Reply(messages=[objectives_report_message(built, chart)])


@command("hide")
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
    result = await build_rollup(ctx.session, ctx.member, ctx.sealer, by=by, period=period)
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
                Fact(
                    d.name,
                    f"{d.kind} to {d.audience}, {digests.describe_schedule(d)}; next: {when}",
                )
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
        rest, since_text = words[1:], None
        if "--since" in rest:
            at = rest.index("--since")
            if at + 1 >= len(rest):
                raise InvalidInput("--since needs a date or a period: --since 2026-11-03 or 30d.")
            since_text = rest[at + 1]
            rest = rest[:at] + rest[at + 2 :]
        include_sent = "--include-sent" in rest
        name = " ".join(w for w in rest if w != "--include-sent")
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
            include_sent=include_sent,
            since=digests.parse_since(since_text, found.timezone) if since_text else None,
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
    if sub in ("pause", "resume"):
        name = " ".join(words[1:])
        if not name:
            raise InvalidInput(f"Which digest? Write /digest {sub} NAME.")
        found = await digests.set_digest_enabled(ctx.session, ctx.member, name, sub == "resume")
        return Reply.say(
            f"'{found.name}' {'resumed' if found.enabled else 'paused'}; the scheduler picks "
            "this up within 30 seconds."
        )
    if sub == "delete":
        name = " ".join(words[1:])
        if not name:
            raise InvalidInput("Which digest? Write /digest delete NAME.")
        deleted = await digests.delete_digest(ctx.session, ctx.member, name)
        return Reply.say(f"'{deleted}' deleted; deliveries already queued still go out.")
    if sub == "edit":
        name, options = _edit_options(words[1:])
        found = await digests.edit_digest(
            ctx.session,
            ctx.member,
            name,
            cron=options.get("cron"),
            timezone=options.get("tz"),
            audience=options.get("audience"),
            local_time=True if "local" in options else False if "fixed" in options else None,
        )
        return Reply.say(
            f"'{found.name}' now goes {found.kind} to {found.audience}, "
            f"{digests.describe_schedule(found)}; the scheduler picks this up within 30 seconds."
        )
    raise InvalidInput(
        f"Unknown '/digest {sub}'; use /digest list, add, run, edit, pause, resume or delete."
    )


EDIT_USAGE = (
    'Write /digest edit NAME --cron "0 9 * * mon" --tz Europe/Paris --audience team:Support; '
    "--local sends at that time on each reader's clock, --fixed in the digest's time zone."
)


def _edit_options(words: list[str]) -> tuple[str, dict[str, str]]:
    """'weekly news --cron "0 9 * * mon" --local' -> ('weekly news', {cron:..., local: ''})."""
    name_words: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            option = word[2:].lower()
            if option in ("local", "fixed"):
                options[option] = ""
            elif option in ("cron", "tz", "audience") and index + 1 < len(words):
                options[option] = words[index + 1]
                index += 1
            else:
                raise InvalidInput(f"Unknown or incomplete option {word}. {EDIT_USAGE}")
        else:
            name_words.append(word)
        index += 1
    if not name_words or not options:
        raise InvalidInput(EDIT_USAGE)
    return " ".join(name_words), options


@command("prefs", "preferences", "settings")
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
            FormField(
                "clock",
                "Whose clock",
                FieldKind.SELECT,
                required=True,
                initial="zone",
                options=(
                    Option("The time zone above", "zone"),
                    Option("Each reader's own (09:00 wherever they are)", "local"),
                ),
            ),
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
        enricher = ctx.extensions.url_enricher

        async def filled_in() -> Reply:  # after the commit: the page may take seconds
            return Reply(
                form=content_form(objectives, url=url, info=await page_info(enricher, url))
            )

        return Reply(form=content_form(objectives, url=url), complete=filled_in if url else None)
    if sub == "drafts":
        require_role(ctx.member, (Role.STRATEGIST,), "curate content")
        drafts = await content_service.list_drafts(ctx.session)
        feeds = {f.id: f.title or f.url for f in await ctx.session.scalars(select(ContentFeed))}
        return Reply(messages=[drafts_message(drafts[:20], feeds)])
    raise InvalidInput(
        f"Unknown '/content {sub}'; use /content list, /content drafts or /content add."
    )


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
