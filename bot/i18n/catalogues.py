"""Translations read from the shipped gettext catalogues (``bot/i18n/locale/<locale>/*.po``).

Each language's catalogue is split by area (chat, compose, services, ...) so that people working
on different parts never edit the same file; at run time the areas are merged into one table.
The ``.po`` files are read directly with Babel (no compile step to forget in a Docker build).
A translation whose placeholders differ from its English original is dropped here, so a mangled
entry shows English instead of raising ``KeyError`` in front of someone; the catalogue test
reports it.
"""

from __future__ import annotations

import gettext
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.i18n.checks import placeholders

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent / "locale"


@dataclass
class Translations:
    """One language's translations, by area and merged.

    The same English word can need different translations in two areas ("new" is "nouvelle"
    for an idea and "nouveau" for a theme; "Change" a verb on a console button and a noun in a
    digest), so a message is looked up in the catalogue of the area that says it first, and in
    the merged table only when that area has no entry (a constant marked in one area and shown
    by another)."""

    locale: str
    singular: dict[str, str] = field(default_factory=dict)
    plural: dict[str, list[str]] = field(default_factory=dict)
    plural_index: Callable[[int], int] = lambda n: 0 if n == 1 else 1
    areas: dict[str, tuple[dict[str, str], dict[str, list[str]]]] = field(default_factory=dict)

    def gettext(self, message: str, area: str | None = None) -> str:
        own = self.areas.get(area) if area else None
        if own is not None and message in own[0]:
            return own[0][message]
        return self.singular.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int, area: str | None = None) -> str:
        own = self.areas.get(area) if area else None
        forms = own[1].get(singular) if own is not None else None
        if not forms:
            forms = self.plural.get(singular)
        if forms:
            index = self.plural_index(n)
            if 0 <= index < len(forms) and forms[index]:
                return forms[index]
        return singular if n == 1 else plural


def read_catalogue(path: Path, locale: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, abort_invalid=False)


def load(locale: str, directory: Path = LOCALE_DIR) -> Translations:
    """Every area's catalogue of ``locale`` merged; English needs none."""
    numbers = get_plural(locale)
    translations = Translations(locale, plural_index=gettext.c2py(numbers.plural_expr))
    folder = directory / locale
    if not folder.is_dir():
        return translations
    for path in sorted(folder.glob("*.po")):
        singular: dict[str, str] = {}
        plural: dict[str, list[str]] = {}
        for message in read_catalogue(path, locale):
            if not message.id or message.fuzzy:
                continue
            if isinstance(message.id, tuple):
                forms = list(message.string) if isinstance(message.string, tuple) else []
                wanted = placeholders(message.id[1])
                if forms and all(placeholders(form) <= wanted for form in forms if form):
                    plural[message.id[0]] = forms
            elif message.string and placeholders(message.string) == placeholders(message.id):
                singular[message.id] = message.string
            elif message.string:
                log.warning("%s: %s: placeholders differ; English used", path.name, message.id)
        translations.areas[path.stem] = (singular, plural)
        translations.singular.update(singular)
        translations.plural.update(plural)
    return translations


_loaded: dict[str, Translations] = {}
_lock = threading.Lock()


def translations_for(locale: str) -> Translations:
    found = _loaded.get(locale)
    if found is None:
        with _lock:
            found = _loaded.get(locale)
            if found is None:
                found = _loaded[locale] = load(locale)
    return found
