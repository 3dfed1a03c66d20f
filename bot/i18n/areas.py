"""Which source files feed which catalogue: one ``.po`` per area and language.

Split so that work on the chat commands and on the console never edits the same catalogue. The
admin CLI (``bot/cli``), logs and stored notes stay English and are not extracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Area:
    name: str
    # Globs under the project root; the first area that claims a file owns it.
    sources: tuple[str, ...]
    skip: tuple[str, ...] = ()

    def files(self, root: Path = ROOT) -> list[Path]:
        found: list[Path] = []
        for pattern in self.sources:
            for path in sorted(root.glob(pattern)):
                relative = path.relative_to(root).as_posix()
                if path.is_file() and not any(relative.startswith(s) for s in self.skip):
                    found.append(path)
        return found


AREAS: tuple[Area, ...] = (
    Area("chat", ("bot/chat/**/*.py",)),
    Area("compose", ("bot/compose/**/*.py", "bot/charts.py", "bot/policy_pages.py")),
    Area("console", ("bot/console/**/*.py", "bot/console/templates/**/*.html")),
    Area(
        "services",
        (
            "bot/*.py",
            "bot/services/**/*.py",
            "bot/platform/**/*.py",
            "bot/outbox/**/*.py",
            "bot/inbox/**/*.py",
        ),
        skip=("bot/charts.py", "bot/policy_pages.py", "bot/__main__.py"),
    ),
    Area("content", ("content/**/*.py",)),
    Area("slack", ("adapters/slack/**/*.py",)),
    Area("teams", ("adapters/teams/**/*.py",)),
    Area("shell", ("adapters/shell/**/*.py",)),
    Area("google_chat", ("adapters/google_chat/**/*.py",)),
)


def area_named(name: str) -> Area:
    for area in AREAS:
        if area.name == name:
            return area
    raise KeyError(f"no catalogue area '{name}'; the areas are {', '.join(a.name for a in AREAS)}")


# Which area a module's messages belong to, by the module's dotted name (as ``AREAS`` by path).
_MODULE_AREAS: tuple[tuple[str, str], ...] = (
    ("bot.chat", "chat"),
    ("bot.compose", "compose"),
    ("bot.charts", "compose"),
    ("bot.policy_pages", "compose"),
    ("bot.console", "console"),
    ("bot.cli", ""),
    ("bot.", "services"),
    ("content", "content"),
    ("adapters.slack", "slack"),
    ("adapters.teams", "teams"),
    ("adapters.shell", "shell"),
    ("adapters.google_chat", "google_chat"),
)
_module_area: dict[str, str | None] = {}


def area_of_module(module: str) -> str | None:
    """The catalogue area of the module named ``module`` (None: none, e.g. tests)."""
    found = _module_area.get(module, "")
    if found == "":
        found = next(
            (area or None for prefix, area in _MODULE_AREAS if module.startswith(prefix)), None
        )
        _module_area[module] = found
    return found
