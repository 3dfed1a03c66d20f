"""The help card: what this member can do, by role."""

from __future__ import annotations

from bot.compose.text import with_article
from bot.domain import Role
from bot.messages import Card, Fact, Message
from bot.services.permissions import role_allows

EVERYONE = (
    (
        "/suggest IDEA",
        "send an idea to leadership; add --anonymous to hide your name, "
        "--objective KEY to tie it to an objective; /suggest alone opens a form",
    ),
    ("/suggestions", "see open ideas and vote on them"),
    ("/vote ID", "vote for suggestion ID (one vote each)"),
    ("/objectives", "the business objectives everything here serves"),
    (
        "/prefs",
        "what you receive: /prefs mute voice, /prefs weekly, /prefs quiet 22:00-07:00",
    ),
    ("/whoami", "your role, team and time zone"),
    ("/help", "this list"),
)
CURATOR = (
    ("/content add", "curate an article (opens a form); /content list shows the library"),
    ("/digest list", "scheduled digests and when they next fire"),
    ("/digest add", "schedule a digest (opens a form)"),
    ("/digest run NAME", "send a digest now"),
    ("/digest pause|resume|delete NAME", "stop, restart or remove a schedule"),
    ("/digest edit NAME --cron ... --tz ...", "change a schedule (--local: each reader's clock)"),
)
MANAGER = (
    (
        "/rollup [--by objective|team|status] [--since 30d]",
        "ideas from your teams, oldest waiting first",
    ),
    (
        "/answer ID [STATUS] TEXT",
        "answer an idea; STATUS is one of under_review, planned, done, declined",
    ),
    ("/merge ID into ID", "fold a duplicate into the idea it repeats; votes move with it"),
    ("/hide ID REASON", "take an abusive idea off the board; the author is told why"),
    ("/report [--since 30d]", "the objectives report, with its chart"),
    ("/console", "a one-time link to the web console, by direct message"),
)


def help_message(
    role: str, extra: tuple[tuple[str, str], ...] = (), umbrella: str | None = None
) -> Message:
    """``extra`` lets an adapter add its own commands (the shell's /switch, for example).
    ``umbrella`` is the command others are reached through on platforms with few slash
    commands (Slack's /advocacy): "/rollup" is then shown as "/advocacy rollup"."""
    facts = list(EVERYONE)
    if role_allows(role, Role.STRATEGIST):
        facts += CURATOR
    if role_allows(role, Role.MANAGER):
        facts += MANAGER
    facts += extra
    if umbrella:
        facts = [(_spell(command, umbrella), what) for command, what in facts]
    text = (
        "Buttons on every card record what you think (Useful, Not relevant, Comment) and let you "
        "share in one click."
    )
    return Message(
        fallback="Commands: " + ", ".join(command for command, _ in facts),
        kind="help",
        cards=(
            Card(
                title=f"What you can do here (you are {with_article(role)})",
                text=text,
                facts=tuple(Fact(command, what) for command, what in facts),
            ),
        ),
    )


def _spell(command: str, umbrella: str) -> str:
    if command.startswith("/suggest ") or command == "/suggest":
        return command
    return f"/{umbrella} {command.lstrip('/')}"
