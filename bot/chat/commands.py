"""Chat commands, the same on every platform: ``/suggest``, ``/vote``, ``/rollup``...

Slack sends them as slash commands, Teams and the shell as text; adapters turn both into
CommandInvoked events. The table at the end of this module says what each does, who may run it
and how /help shows it (bot/chat/catalogue.py); each command's handler lives with others of its
domain (ideas, answers, reports, content, digests, reviews, voice, the member's own).
"""

from __future__ import annotations

from bot.chat.answer_commands import STATUS_CHOICES, answer
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
from bot.chat.idea_commands import hide, merge, suggest, unvote, vote
from bot.chat.member_commands import console, prefs, whoami
from bot.chat.parsing import split_command
from bot.chat.report_commands import objectives, report, rollup
from bot.chat.review_commands import REVIEW_USAGE, review
from bot.chat.voice_commands import voice
from bot.console.sections import CONSOLE_ROLES
from bot.domain import Role
from bot.events import Reply


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
