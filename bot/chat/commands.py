"""Chat commands, the same on every platform: ``/suggest``, ``/vote``, ``/rollup``...

Slack sends them as slash commands, Teams and the shell as text; adapters turn both into
CommandInvoked events. The table at the end of this module says what each does, who may run it
and how /help shows it (bot/chat/catalogue.py); each command's handler lives with others of its
domain (ideas, answers, reports, content, digests, reviews, voice, the member's own).
"""

from __future__ import annotations

from bot.chat.answer_commands import answer
from bot.chat.board import suggestions
from bot.chat.catalogue import ChatCommand, closest_command, find_command, register, run_checked
from bot.chat.content_commands import content_add, content_drafts, content_list
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
from bot.chat.member_commands import console, prefs, whoami
from bot.chat.parsing import split_command
from bot.chat.report_commands import objectives, report, rollup
from bot.chat.review_commands import REVIEW_USAGE, review
from bot.chat.suggestion_commands import hide, merge, suggest, unvote, vote
from bot.chat.voice_commands import voice
from bot.console.sections import CONSOLE_ROLES
from bot.domain import Role
from bot.events import Reply
from bot.i18n import N_, _


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
        if guess:
            return Reply.fail(
                _(
                    "I don't know '/{name}'. Did you mean {command}? "
                    "Type /help to see what I can do."
                ).format(name=name, command=f"{prefix}{guess}")
            )
        return Reply.fail(
            _("I don't know '/{name}'. Type /help to see what I can do.").format(name=name)
        )
    return await run_checked(ctx, *found)


async def help_command(ctx: ChatContext, text: str) -> Reply:
    return Reply(messages=[help_message(ctx.member.role, umbrella=ctx.umbrella)])


LEADERS = (Role.MANAGER,)
CURATORS = (Role.STRATEGIST,)
# Descriptions and refusals are marked here (N_) and translated when /help or a refusal shows
# them; command names and usages are what people type and stay English.
register(
    ChatCommand(
        "suggest",
        suggest,
        "/suggest IDEA",
        N_(
            "send an idea to leadership; add --anonymous to hide your name, --objective KEY to "
            "tie it to an objective; /suggest alone opens a form"
        ),
    ),
    ChatCommand(
        "suggestions",
        suggestions,
        "/suggestions [top|evidence] [STATUS] [page N]",
        N_(
            "ideas to vote on, newest first (top: most voted first; evidence: most customers who "
            "said something similar first); STATUS is open, unanswered, under review, planned, "
            "done, declined or all"
        ),
    ),
    ChatCommand(
        "voice",
        voice,
        "/voice [WHAT THE CUSTOMER SAID]",
        N_(
            "log what a customer told you (a short form: their words, who, the objective); it "
            "joins the customer-voice digests and alerts"
        ),
    ),
    ChatCommand("vote", vote, "/vote ID", N_("vote for suggestion ID (one vote each)")),
    ChatCommand("unvote", unvote, "/unvote ID", N_("take back your vote for suggestion ID")),
    ChatCommand(
        "objectives", objectives, "/objectives", N_("the objectives everything here serves")
    ),
    ChatCommand(
        "prefs",
        prefs,
        "/prefs",
        N_(
            "what you receive and in which language: /prefs mute voice, /prefs weekly, "
            "/prefs quiet 22:00-07:00, /prefs language de"
        ),
    ),
    ChatCommand("whoami", whoami, "/whoami", N_("your role, team and time zone")),
    ChatCommand("help", help_command, "/help", N_("this list")),
    ChatCommand(
        "content list",
        content_list,
        "/content list",
        N_("the library of approved articles"),
        CURATORS,
        N_("see the content library"),
    ),
    ChatCommand(
        "content add",
        content_add,
        "/content add [URL]",
        N_("curate an article (a form, filled in from the page when you give its URL)"),
        CURATORS,
        N_("curate content"),
    ),
    ChatCommand(
        "content drafts",
        content_drafts,
        "/content drafts",
        N_("articles from feeds waiting for Approve or Reject"),
        CURATORS,
        N_("curate content"),
    ),
    ChatCommand(
        "digest list",
        digest_list,
        "/digest list",
        N_("scheduled digests and when they next fire"),
        CURATORS,
        N_("see digest schedules"),
    ),
    ChatCommand(
        "digest add",
        digest_add,
        "/digest add",
        N_("schedule a digest (a form)"),
        CURATORS,
        N_("schedule digests"),
    ),
    ChatCommand(
        "digest run",
        digest_run,
        "/digest run NAME [--include-sent] [--since DATE]",
        N_("send a digest now (--include-sent: articles people already had too)"),
        CURATORS,
        N_("send digests"),
    ),
    ChatCommand(
        "digest edit",
        digest_edit,
        "/digest edit NAME --cron ... --tz ...",
        N_("change a schedule (--audience A; --local: each reader's clock)"),
        CURATORS,
        N_("edit digests"),
    ),
    ChatCommand(
        "digest pause",
        digest_pause,
        "/digest pause NAME",
        N_("stop a schedule until you resume it"),
        CURATORS,
        N_("pause or resume digests"),
    ),
    ChatCommand(
        "digest resume",
        digest_resume,
        "/digest resume NAME",
        N_("start a paused schedule again"),
        CURATORS,
        N_("pause or resume digests"),
    ),
    ChatCommand(
        "digest delete",
        digest_delete,
        "/digest delete NAME",
        N_("remove a schedule"),
        CURATORS,
        N_("delete digests"),
    ),
    ChatCommand(
        "rollup",
        rollup,
        "/rollup [--by objective|team|status] [--since 30d]",
        N_("ideas from your teams, oldest waiting first"),
        LEADERS,
        N_("see suggestion rollups"),
    ),
    ChatCommand(
        "answer",
        answer,
        "/answer ID [STATUS] [--objective KEY --expect higher|lower --review-in 30d] TEXT",
        # Translators: {statuses} is the list of statuses as people type them (in English).
        N_(
            "answer an idea; STATUS is one of {statuses}; planned or done may name the "
            "objective whose KPI it should move, checked on the review date"
        ),
        LEADERS,
        N_("answer suggestions"),
    ),
    ChatCommand(
        "review",
        review,
        REVIEW_USAGE.replace("IDEA", "[IDEA") + "]",
        N_(
            "did a decision help its KPI? answer the review (later N: ask again in N days); "
            "/review alone lists those waiting for you"
        ),
        LEADERS,
        N_("answer decision reviews"),
    ),
    ChatCommand(
        "merge",
        merge,
        "/merge ID into ID",
        N_("fold a duplicate into the idea it repeats; votes move with it"),
        LEADERS,
        N_("merge suggestions"),
    ),
    ChatCommand(
        "hide",
        hide,
        "/hide ID REASON",
        N_("take an abusive idea off the board; the author is told why"),
        LEADERS,
        N_("hide suggestions"),
    ),
    ChatCommand(
        "report",
        report,
        "/report [--since 30d]",
        N_("the objectives report, with its chart"),
        (Role.MANAGER, Role.STRATEGIST),
        N_("see the objectives report"),
    ),
    ChatCommand(
        "console",
        console,
        "/console",
        N_("a one-time link to the web console, by direct message"),
        CONSOLE_ROLES,
        N_("use the web console"),
        N_(
            "The web console is for strategists, managers and admins, and you are {role}: "
            "everything you can do is here in chat (type /help to see it)."
        ),
    ),
)
