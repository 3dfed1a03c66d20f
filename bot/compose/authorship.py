"""Who an idea is shown as coming from: the one place that decides it, for every surface (chat
cards, the command line, the console, the rollup exports). An anonymous idea shows neither its
author nor its team (a team of a few people would narrow the author down)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.models import Suggestion

ANONYMOUS = "Anonymous"


@dataclass(frozen=True)
class ShownAuthor:
    """What a surface may show of an idea's origin; each surface words it its own way."""

    anonymous: bool
    name: str | None  # the author's name; None when anonymous or when the author has gone
    team: str | None  # the idea's team; None when anonymous or filed under no team

    @property
    def label(self) -> str:
        """The name, or "Anonymous" when there is none to show (anonymous, or a former member)."""
        return self.name or ANONYMOUS


def shown_author(suggestion: Suggestion) -> ShownAuthor:
    """The rule itself. An anonymous idea's author and team are never read here, so nothing
    downstream can show them by mistake."""
    if suggestion.anonymous:
        return ShownAuthor(anonymous=True, name=None, team=None)
    author, team = suggestion.author, suggestion.team
    return ShownAuthor(
        anonymous=False,
        name=author.display_name if author is not None else None,
        team=team.name if team is not None else None,
    )
