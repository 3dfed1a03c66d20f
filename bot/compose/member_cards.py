"""Cards about the member themselves: who the bot takes them for (/whoami) and what they
receive (/prefs)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import _
from bot.messages import Card, Fact, Message
from bot.storage.models import Member


def whoami_message(member: Member) -> Message:
    return Message(
        fallback=_("You are {name} ({role}).").format(name=member.display_name, role=member.role),
        cards=(
            Card(
                title=member.display_name,
                facts=(
                    Fact(_("Role"), member.role),
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
