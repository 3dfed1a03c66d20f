"""What a translation must keep from its original: placeholders, commands, emoji, links, lines.

Shared by the run-time loader (which drops a mangled entry) and the catalogue test (which names
it), so both agree on what "mangled" means.
"""

from __future__ import annotations

import re
from string import Formatter

_COMMAND = re.compile(r"(?<![A-Za-z0-9_/<])/[a-z][a-z-]*\b")
_EMOJI = re.compile(r":[a-z0-9_+-]+:")
_URL = re.compile(r"https?://\S+")


def placeholders(text: str) -> set[str]:
    """``{name}`` and ``{count:,}`` fields, by name (a translation may move them, not rename)."""
    try:
        return {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def problems(original: str, translation: str) -> list[str]:
    """Why ``translation`` cannot stand for ``original``; empty when it can."""
    found = []
    if placeholders(translation) != placeholders(original):
        found.append(
            f"placeholders {sorted(placeholders(translation))} "
            f"instead of {sorted(placeholders(original))}"
        )
    for name, pattern in (("commands", _COMMAND), ("emoji", _EMOJI), ("links", _URL)):
        if sorted(pattern.findall(translation)) != sorted(pattern.findall(original)):
            found.append(f"{name} changed: {pattern.findall(original)}")
    if original.count("\n") != translation.count("\n"):
        found.append("a different number of lines")
    if original.strip() and not translation.strip():
        found.append("empty")
    return found
