"""The table of chat commands: each command's handler, who may run it and how /help shows it.

The router refuses a command to anyone its entry does not admit, and /help lists for each role
exactly the entries that admit it: both read this one table, so they cannot disagree. (Services
check permissions again: the CLI and the console reach them without this table.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.chat.context import ChatContext
from bot.chat.wording import role_phrase, status_choices
from bot.domain import Role, closest_choice
from bot.errors import InvalidInput, PermissionDenied
from bot.events import Reply
from bot.i18n import _
from bot.services.permissions import require_role, role_allows

Handler = Callable[[ChatContext, str], Awaitable[Reply]]


@dataclass(frozen=True)
class ChatCommand:
    """``name`` is what follows the slash, with its sub-command if it has one ("digest run").

    ``what``, ``doing`` and ``refusal`` are marked with ``N_`` where the table is written and
    translated when shown; ``name`` and ``usage`` are what people type, in English everywhere."""

    name: str
    handler: Handler
    usage: str
    what: str
    # Who may run it besides admins; none listed means everyone.
    roles: tuple[Role, ...] = ()
    # What the refusal says they cannot do ("send digests").
    doing: str = ""
    # A refusal of its own, where the usual one would not help (it names the role they have).
    refusal: str = ""

    def admits(self, role: str) -> bool:
        return not self.roles or role_allows(role, *self.roles)

    def described(self) -> str:
        """What it does, for /help, in the language spoken."""
        return _(self.what).format(statuses=status_choices())


COMMANDS: dict[str, ChatCommand] = {}
# Other words people type for a command's first word ("/ideas" for "/suggestions").
ALIASES = {
    "idea": "suggest",
    "ideas": "suggestions",
    "digests": "digest",
    "preferences": "prefs",
    "settings": "prefs",
    "start": "help",
}
# A command made of sub-commands, typed alone, runs one of them ("/digest" is "/digest list").
DEFAULTS = {"digest": "digest list", "content": "content list"}


def register(*commands: ChatCommand) -> None:
    """Add commands to the table, in the order /help lists them."""
    for entry in commands:
        if entry.roles and not entry.doing:
            raise ValueError(f"/{entry.name} is for some roles: say what it does, for refusals")
        COMMANDS[entry.name] = entry


def known(first_word: str) -> bool:
    """Whether a chat message starting with this word is a command."""
    word = ALIASES.get(first_word, first_word)
    return word in COMMANDS or word in DEFAULTS


def find_command(name: str, text: str) -> tuple[ChatCommand, str] | None:
    """The command typed and the text left for it; None for a word that is no command."""
    name = ALIASES.get(name, name)
    if name in DEFAULTS:
        sub, *rest = text.split(None, 1) or [""]
        if not sub:
            return COMMANDS[DEFAULTS[name]], ""
        found = COMMANDS.get(f"{name} {sub.lower()}")
        if found is None:
            choices = ", ".join(
                f"/{c.name}" for c in COMMANDS.values() if c.name.startswith(name + " ")
            )
            raise InvalidInput(
                _("Unknown '/{command}'; use {choices}.").format(
                    command=f"{name} {sub}", choices=choices
                )
            )
        return found, rest[0].strip() if rest else ""
    found = COMMANDS.get(name)
    return (found, text) if found is not None else None


def closest_command(name: str, role: str) -> str | None:
    """The command ``role`` may run that ``name`` was most likely a typo of ('sugest' ->
    'suggest'), or None. Only commands of the role: /help lists those, so the hint agrees."""
    words = {entry.name.split()[0] for entry in commands_for(role)}
    return closest_choice(name, sorted(words), cutoff=0.75)


async def run_checked(ctx: ChatContext, found: ChatCommand, text: str) -> Reply:
    """Run a command for someone its entry admits; anyone else is told who may."""
    if not found.admits(ctx.member.role):
        if found.refusal:
            raise PermissionDenied(_(found.refusal).format(role=role_phrase(ctx.member.role)))
        require_role(ctx.member, found.roles, _(found.doing))
    return await found.handler(ctx, text)


def commands_for(role: str) -> list[ChatCommand]:
    """What ``role`` may run, in the table's order."""
    return [c for c in COMMANDS.values() if c.admits(role)]
