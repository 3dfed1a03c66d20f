"""The console's language: the signed-in member's, else the browser's, else the workspace's.

A middleware speaks the browser's ``Accept-Language`` (or the default) around every console
request, so even the sign-in and error pages of someone not signed in read in their language;
once a session is resumed, its member's own language takes over (``bot/console/access.py``).
The settings page (linked from the header) lets a member choose one for good: it is kept as their
locale, with ``locale_chosen`` so that a platform's hint never overrides it (as ``/prefs`` does).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.errors import InvalidInput
from bot.i18n import (
    NATIVE_NAMES,
    SUPPORTED,
    _,
    accepted_locale,
    current_locale,
    normalize_locale,
    speaking,
)
from bot.i18n import use_locale as _use_locale
from bot.storage.models import Member

CONSOLE = "/console"


def html_lang(locale: str | None = None) -> str:
    """The page's ``<html lang>``: BCP 47 spells ``pt_BR`` as ``pt-BR``."""
    return (locale or current_locale()).replace("_", "-")


def language_options() -> list[tuple[str, str]]:
    """Each shipped language by its own name, as the menu lists them."""
    return [(locale, NATIVE_NAMES[locale]) for locale in SUPPORTED]


def speak_member(locale: str | None) -> None:
    """A member is signed in: speak their language from here on, if they have one."""
    if normalize_locale(locale):
        _use_locale(locale)


@web.middleware
async def console_language(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Speak the browser's language around each console request (the member's, once known)."""
    if not (request.path == CONSOLE or request.path.startswith(CONSOLE + "/")):
        return await handler(request)
    with speaking(accepted_locale(request.headers.get("Accept-Language"))):
        return await handler(request)


def current_language() -> str:
    """The language being spoken, by its own name (the header's link to the settings)."""
    return NATIVE_NAMES.get(current_locale(), current_locale())


def choose(member: Member, chosen: str) -> str:
    """Keep ``chosen`` as ``member``'s language from now on (here and in chat), and speak it for
    the rest of the request; a language the console does not speak is refused."""
    if chosen not in SUPPORTED:
        raise InvalidInput(_("Choose one of the languages in the list."))
    member.locale = chosen
    member.locale_chosen = True
    _use_locale(chosen)
    return chosen
