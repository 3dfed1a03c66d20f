"""Everything the bot says to people, in their language.

Usage in code that builds text for people (chat replies, cards, DMs, notices, the console)::

    from bot.i18n import _, ngettext
    _("Thanks, {name}! Your idea is in.").format(name=name)
    ngettext("{count} vote", "{count} votes", count).format(count=count)

Constants built at import time use ``L_`` (translated each time they are shown) or ``N_``
(only marked, translated later with ``_(constant)``). Placeholders are named ``{...}`` fields,
never f-strings: a translator must see the whole sentence. Command names (``/suggest``), people's
own text, strategists' content and customers' words are never translated. Strings for logs, the
database and the admin CLI stay English.

Catalogues: ``bot/i18n/locale/<locale>/<area>.po``; ``python -m bot.i18n.extract`` updates them
from the source and lists what is missing (see docs/TRANSLATING.md).
"""

from __future__ import annotations

import sys
from functools import partial

from babel.support import LazyProxy

from bot.i18n.areas import area_of_module
from bot.i18n.catalogues import translations_for
from bot.i18n.context import (
    current_locale,
    default_locale,
    set_default_locale,
    speaking,
    use_locale,
)
from bot.i18n.locales import ENGLISH, NATIVE_NAMES, SUPPORTED, accepted_locale, normalize_locale

__all__ = [
    "ENGLISH",
    "L_",
    "NATIVE_NAMES",
    "N_",
    "SUPPORTED",
    "_",
    "accepted_locale",
    "current_locale",
    "default_locale",
    "ngettext",
    "normalize_locale",
    "set_default_locale",
    "speaking",
    "use_locale",
]


def _(message: str, *, area: str | None = None) -> str:
    """``message`` in the language being spoken (English when no translation exists), as the
    catalogue of the calling module's area says it (``area`` names another)."""
    locale = current_locale()
    if locale == ENGLISH or not message:
        return message
    if area is None:
        area = area_of_module(sys._getframe(1).f_globals.get("__name__", ""))
    return translations_for(locale).gettext(message, area)


def ngettext(singular: str, plural: str, count: int, *, area: str | None = None) -> str:
    """The form for ``count`` in the language being spoken (Japanese has one, German two...)."""
    locale = current_locale()
    if locale == ENGLISH:
        return singular if count == 1 else plural
    if area is None:
        area = area_of_module(sys._getframe(1).f_globals.get("__name__", ""))
    return translations_for(locale).ngettext(singular, plural, count, area)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues without translating it (translate it when shown)."""
    return message


def L_(message: str) -> LazyProxy:
    """A constant translated each time it is used as text, in the language then spoken (and
    as the catalogue of the area that made it says it)."""
    area = area_of_module(sys._getframe(1).f_globals.get("__name__", ""))
    return LazyProxy(partial(_, area=area), message, enable_cache=False)
