"""``/prefs language``: the language a member chooses in chat, typed as a code (``de``), a tag
(``pt-BR``), its own name (``Deutsch``, ``日本語``) or its English one (``German``); ``auto``
follows their platform's language again. A typo is answered with the closest language."""

from __future__ import annotations

import difflib
import unicodedata

from bot.chat.context import ChatContext
from bot.errors import InvalidInput
from bot.i18n import NATIVE_NAMES, SUPPORTED, _, default_locale, normalize_locale, use_locale
from bot.messages import Message
from bot.services.preferences import choose_language
from bot.storage.models import Member

FOLLOW_PLATFORM = ("auto", "automatic", "platform", "default")
# English names, typed as readily as codes by people who do not read the language yet.
_ENGLISH_NAMES = {
    "english": "en",
    "german": "de",
    "french": "fr",
    "spanish": "es",
    "portuguese": "pt_BR",
    "brazilian": "pt_BR",
    "brazilian portuguese": "pt_BR",
    "japanese": "ja",
}


def _plain(text: str) -> str:
    """'Français' -> 'francais', 'Português (Brasil)' -> 'portugues brasil': typed either way."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in letters).split())


def _names() -> dict[str, str]:
    """Every spelling we accept -> its locale."""
    names = {_plain(code): code for code in SUPPORTED}
    for code, native in NATIVE_NAMES.items():
        names[_plain(native)] = code
        names[_plain(native).split()[0]] = code  # "Português" without "(Brasil)"
    names.update(_ENGLISH_NAMES)
    return names


def language_named(text: str) -> str | None:
    """The shipped locale ``text`` names, or None."""
    return _names().get(_plain(text)) or (normalize_locale(text.strip()) if text.strip() else None)


def closest_language(text: str) -> str | None:
    """The locale a typo most likely meant ('deutsh' -> 'de'), or None."""
    names = _names()
    found = difflib.get_close_matches(_plain(text), list(names), n=1, cutoff=0.6)
    return names[found[0]] if found else None


def native_list() -> str:
    return ", ".join(NATIVE_NAMES[code] for code in SUPPORTED)


def language_preference(member: Member) -> tuple[str, str]:
    """/prefs' line on the language: which one, and whether they chose it or the platform did."""
    locale = normalize_locale(member.locale)
    if locale is None:
        value = _("{language} (this workspace's default; /prefs language to choose)")
        locale = default_locale()
    elif member.locale_chosen:
        value = _("{language} (your choice; /prefs language auto follows your platform)")
    else:
        value = _("{language} (from your platform's settings; /prefs language to choose)")
    return _("Language"), value.format(language=NATIVE_NAMES[locale])


async def set_language(ctx: ChatContext, text: str) -> Message:
    """Choose (or un-choose) the member's language; the confirmation is in the new one."""
    wanted = text.strip()
    if not wanted:
        raise InvalidInput(
            _("Which language? Write /prefs language followed by one of: {languages}.").format(
                languages=native_list()
            )
        )
    if wanted.casefold() in FOLLOW_PLATFORM:
        choose_language(ctx.member, None, ctx.event.actor.locale)
        await ctx.session.flush()
        use_locale(ctx.member.locale)
        spoken = NATIVE_NAMES[normalize_locale(ctx.member.locale) or default_locale()]
        return Message.text(
            _("I follow your platform's language again; for now that is {language}.").format(
                language=spoken
            )
        )
    locale = language_named(wanted)
    if locale is None:
        guess = closest_language(wanted)
        if guess is not None:
            raise InvalidInput(
                _(
                    "I don't speak '{language}'. Did you mean {suggestion}? I speak: {languages}."
                ).format(language=wanted, suggestion=NATIVE_NAMES[guess], languages=native_list())
            )
        raise InvalidInput(
            _("I don't speak '{language}'. I speak: {languages}.").format(
                language=wanted, languages=native_list()
            )
        )
    choose_language(ctx.member, locale)
    await ctx.session.flush()
    use_locale(locale)
    return Message.text(
        _(
            "From now on I speak {language} with you, whatever your platform says. "
            "/prefs language auto follows it again."
        ).format(language=NATIVE_NAMES[locale])
    )
