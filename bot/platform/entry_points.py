"""Which platforms are installed, read from the ``advocacy.adapters`` entry points without
loading any adapter (the core asks it where a member may be created)."""

from __future__ import annotations

from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "advocacy.adapters"


def installed_platforms() -> list[str]:
    """The platforms whose adapters are installed (their entry points' names; none is loaded):
    what a member may be created on when no registry is at hand."""
    return sorted({entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)})
