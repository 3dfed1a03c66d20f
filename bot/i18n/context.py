"""Which language is being spoken right now: one context variable, set around each piece of work.

The router sets it for the member behind an event, a digest run for each group of readers, the
console for its signed-in user. Code that builds text only calls ``_()``; it never passes a
locale around, so the platform-neutral composers stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.i18n.locales import ENGLISH, normalize_locale

_default = ENGLISH
_current: ContextVar[str | None] = ContextVar("advocacy_locale", default=None)


def set_default_locale(tag: str | None) -> str:
    """The workspace's language (``ADVOCACY_LOCALE``): for channels and people with none known."""
    global _default
    _default = normalize_locale(tag) or ENGLISH
    return _default


def default_locale() -> str:
    return _default


def current_locale() -> str:
    return _current.get() or _default


@contextmanager
def speaking(tag: str | None) -> Iterator[str]:
    """Speak ``tag`` (a member's locale; None or unknown -> the default) inside the block."""
    locale = normalize_locale(tag) or _default
    token = _current.set(locale)
    try:
        yield locale
    finally:
        _current.reset(token)


def use_locale(tag: str | None) -> str:
    """Speak ``tag`` from here to the end of the enclosing ``speaking`` block (which undoes it):
    for code that learns whom it speaks to half-way, like the router once it knows the member."""
    locale = normalize_locale(tag) or _default
    _current.set(locale)
    return locale
