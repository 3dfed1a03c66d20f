"""The help card: exactly the commands this member's role may run, read from the command table
that the router checks permissions with (bot/chat/catalogue.py)."""

from __future__ import annotations

from bot.chat.catalogue import commands_for
from bot.compose.text import with_article
from bot.messages import Card, Fact, Message


def help_message(
    role: str, extra: tuple[tuple[str, str], ...] = (), umbrella: str | None = None
) -> Message:
    """``extra`` lets an adapter add its own commands (the shell's /switch, for example).
    ``umbrella`` is the command others are reached through on platforms with few slash
    commands (Slack's /advocacy): "/rollup" is then shown as "/advocacy rollup"."""
    facts = [(entry.usage, entry.what) for entry in commands_for(role)]
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
