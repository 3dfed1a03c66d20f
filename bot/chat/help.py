"""The help card: exactly the commands this member's role may run, read from the command table
that the router checks permissions with (bot/chat/catalogue.py)."""

from __future__ import annotations

from bot.chat.catalogue import commands_for
from bot.chat.wording import role_phrase
from bot.i18n import _
from bot.messages import Card, Fact, Message


def help_message(
    role: str, extra: tuple[tuple[str, str], ...] = (), umbrella: str | None = None
) -> Message:
    """``extra`` lets an adapter add its own commands (the shell's /switch, for example).
    ``umbrella`` is the command others are reached through on platforms with few slash
    commands (Slack's /advocacy): "/rollup" is then shown as "/advocacy rollup"."""
    facts = [(entry.usage, entry.described()) for entry in commands_for(role)]
    facts += extra
    if umbrella:
        facts = [(_spell(command, umbrella), what) for command, what in facts]
    text = _(
        "Buttons on every card record what you think (Useful, Not relevant, Comment) and let you "
        "share in one click."
    )
    commands = ", ".join(command for command, _what in facts)
    return Message(
        fallback=_("Commands: {commands}").format(commands=commands),
        kind="help",
        cards=(
            Card(
                title=_("What you can do here (you are {role})").format(role=role_phrase(role)),
                text=text,
                facts=tuple(Fact(command, what) for command, what in facts),
            ),
        ),
    )


def _spell(command: str, umbrella: str) -> str:
    if command.startswith("/suggest ") or command == "/suggest":
        return command
    return f"/{umbrella} {command.lstrip('/')}"
