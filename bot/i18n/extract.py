"""Keep the catalogues in step with the source: ``python -m bot.i18n.extract``.

Reads every ``_()``, ``N_()``, ``L_()`` and ``ngettext()`` in each area's files (and ``{% trans %}``
/ ``_()`` in the console's templates), adds new messages to each language's ``<area>.po`` with an
empty translation, drops ones the code no longer says, and prints what is still untranslated or
mangled. ``--check`` changes nothing and exits 1 when anything is missing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import write_po
from jinja2.ext import babel_extract

from bot.i18n.areas import AREAS, ROOT, Area
from bot.i18n.catalogues import LOCALE_DIR, read_catalogue
from bot.i18n.checks import problems
from bot.i18n.locales import ENGLISH, SUPPORTED

KEYWORDS = {"_": None, "N_": None, "L_": None, "ngettext": (1, 2), "gettext": None}
COMMENT_TAGS = ("Translators:",)
Key = str | tuple[str, str]


def extract_area(area: Area, root: Path = ROOT) -> dict[Key, list[str]]:
    """Each message the area's code says -> where it says it (``path:line``)."""
    found: dict[Key, list[str]] = {}
    for path in area.files(root):
        method = babel_extract if path.suffix == ".html" else "python"
        options = {"extensions": "jinja2.ext.i18n"} if path.suffix == ".html" else {}
        for line, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS, comment_tags=COMMENT_TAGS, options=options
        ):
            key: Key = message if isinstance(message, str) else (message[0], message[1])
            if not key or (isinstance(key, tuple) and not all(key)):
                continue
            found.setdefault(key, []).append(f"{path.relative_to(root).as_posix()}:{line}")
    return found


def catalogue_path(locale: str, area: Area, directory: Path = LOCALE_DIR) -> Path:
    return directory / locale / f"{area.name}.po"


def missing(area: Area, locale: str, messages: dict[Key, list[str]]) -> Iterator[str]:
    """Messages of ``area`` with no usable translation in ``locale``, one line each."""
    path = catalogue_path(locale, area)
    known = {}
    if path.exists():
        for entry in read_catalogue(path, locale):
            if entry.id:
                known[entry.id if isinstance(entry.id, str) else tuple(entry.id)] = entry
    for key, where in messages.items():
        entry = known.get(key)
        original = key if isinstance(key, str) else key[1]
        if entry is None or entry.fuzzy:
            yield f"{locale}/{area.name}.po: missing {key!r} ({where[0]})"
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for form in forms:
            for problem in problems(original, form or ""):
                yield f"{locale}/{area.name}.po: {key!r}: {problem} ({where[0]})"


def update(area: Area, locale: str, messages: dict[Key, list[str]]) -> int:
    """Write ``locale``'s catalogue of ``area``: existing translations kept, new ones empty."""
    path = catalogue_path(locale, area)
    old = read_catalogue(path, locale) if path.exists() else None
    catalogue = Catalog(locale=locale, project="advocacy-bot", domain=area.name)
    added = 0
    for key, where in messages.items():
        previous = old.get(key if isinstance(key, str) else key[0]) if old else None
        empty = ("",) * catalogue.num_plurals
        string: str | tuple[str, ...] = "" if isinstance(key, str) else empty
        flags: set[str] = set()
        if previous is not None and previous.string:
            string, flags = previous.string, set(previous.flags)
        else:
            added += 1
        locations = [(spot.rsplit(":", 1)[0], int(spot.rsplit(":", 1)[1])) for spot in where]
        catalogue.add(key, string, locations=locations, flags=flags)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalogue, width=100, sort_output=False, include_previous=False)
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.i18n.extract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if incomplete")
    parser.add_argument("--area", action="append", help="only this area (repeatable)")
    parser.add_argument("--locale", action="append", help="only this locale (repeatable)")
    args = parser.parse_args(argv)
    areas = [a for a in AREAS if not args.area or a.name in args.area]
    wanted = args.locale or SUPPORTED
    locales = [loc for loc in SUPPORTED if loc != ENGLISH and loc in wanted]
    incomplete = 0
    for area in areas:
        messages = extract_area(area)
        for locale in locales:
            if not args.check:
                added = update(area, locale, messages)
                if added:
                    print(f"{locale}/{area.name}.po: {added} new messages to translate")
            lines = list(missing(area, locale, messages))
            incomplete += len(lines)
            for line in lines[:20]:
                print(line)
            if len(lines) > 20:
                print(f"{locale}/{area.name}.po: ... and {len(lines) - 20} more")
        print(f"{area.name}: {len(messages)} messages", file=sys.stderr)
    print(f"{incomplete} problems" if incomplete else "every catalogue complete")
    return 1 if incomplete and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
