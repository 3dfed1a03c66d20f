"""Cards about the member themselves: who the bot takes them for (/whoami) and what they
receive (/prefs)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Card, Fact, Message
from bot.storage.models import Member


def whoami_message(member: Member) -> Message:
    return Message(
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


def preferences_message(described: Sequence[tuple[str, str]]) -> Message:
    """``described``: each preference's name and value, as describe_preferences words them."""
    return Message(
        fallback="Your preferences: " + "; ".join(f"{name}: {value}" for name, value in described),
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
