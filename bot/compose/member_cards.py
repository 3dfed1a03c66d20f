"""Cards about the member themselves: who the bot takes them for (/whoami) and what they
receive (/prefs)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import N_, _
from bot.messages import Card, Fact, Message
from bot.storage.models import Member

# A role as a word people read ("Rolle: Mitarbeiter"); the stored value stays English, as typed
# in commands and shown by the admin CLI.
ROLE_NAMES = {
    "employee": N_("employee"),
    "strategist": N_("strategist"),
    "manager": N_("manager"),
    "admin": N_("admin"),
}


def role_name(role: str) -> str:
    """The role's name in the language being spoken (an unknown one as it is stored)."""
    found = ROLE_NAMES.get(str(role))
    return _(found) if found else str(role)


def whoami_message(member: Member) -> Message:
    return Message(
        fallback=_("You are {name} ({role}).").format(
            name=member.display_name, role=role_name(member.role)
        ),
        cards=(
            Card(
                title=member.display_name,
                facts=(
                    Fact(_("Role"), role_name(member.role)),
                    Fact(_("Team"), member.team.name if member.team else _("none")),
                    Fact(_("Time zone"), member.timezone),
                ),
            ),
        ),
    )


def preferences_message(described: Sequence[tuple[str, str]]) -> Message:
    """``described``: each preference's name and value, as describe_preferences words them."""
    return Message(
        fallback=_("Your preferences: {preferences}").format(
            preferences="; ".join(f"{name}: {value}" for name, value in described)
        ),
        kind="prefs",
        cards=(
            Card(
                title=_("What you receive"),
                text=_(
                    "Change it with /prefs mute voice, /prefs unmute voice, "
                    "/prefs weekly, /prefs daily, /prefs quiet 22:00-07:00 "
                    "or /prefs quiet off."
                ),
                facts=tuple(Fact(name, value) for name, value in described),
            ),
        ),
    )
