"""Every message the bot says to people is translated, unmangled, in every shipped language."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from bot.i18n import ENGLISH, SUPPORTED, _, ngettext, normalize_locale, speaking
from bot.i18n.areas import AREAS
from bot.i18n.catalogues import load
from bot.i18n.checks import problems
from bot.i18n.extract import extract_area, missing

LOCALES = [locale for locale in SUPPORTED if locale != ENGLISH]


@pytest.fixture(scope="module")
def messages() -> dict[str, dict]:
    return {area.name: extract_area(area) for area in AREAS}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("area", [area.name for area in AREAS])
def test_catalogue_is_complete_and_unmangled(area: str, locale: str, messages) -> None:
    found = next(a for a in AREAS if a.name == area)
    lines = list(missing(found, locale, messages[area]))
    assert not lines, f"{len(lines)} problems, first ones:\n" + "\n".join(lines[:30])


def test_checks_catch_a_mangled_translation() -> None:
    original = "Type /help to see what I can do, {name}.\nThanks :tada:"
    assert problems(original, "Tippe /help, um zu sehen, was ich kann, {name}.\nDanke :tada:") == []
    assert problems(original, "Tippe /hilfe, {name}.\nDanke :tada:")  # a command translated
    assert problems(original, "Tippe /help, {Name}.\nDanke :tada:")  # a placeholder renamed
    assert problems(original, "Tippe /help, {name}. Danke :tada:")  # a line lost
    assert problems(original, "Tippe /help, {name}.\nDanke")  # the emoji lost
    assert problems("{count:,} votes", "{count} Stimmen") == []


def test_a_mangled_entry_shows_english_instead_of_failing(tmp_path: Path) -> None:
    folder = tmp_path / "de"
    folder.mkdir()
    (folder / "chat.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Hello {name}"\nmsgstr "Hallo {nom}"\n\n'
        'msgid "Good morning"\nmsgstr "Guten Morgen"\n\n'
        'msgid "{count} idea"\nmsgid_plural "{count} ideas"\n'
        'msgstr[0] "{count} Idee"\nmsgstr[1] "{count} Ideen"\n',
        encoding="utf-8",
    )
    german = load("de", tmp_path)
    assert german.gettext("Hello {name}") == "Hello {name}"
    assert german.gettext("Good morning") == "Guten Morgen"
    assert german.ngettext("{count} idea", "{count} ideas", 1) == "{count} Idee"
    assert german.ngettext("{count} idea", "{count} ideas", 3) == "{count} Ideen"
    assert german.gettext("Not in the catalogue") == "Not in the catalogue"


def test_english_needs_no_catalogue_and_plural_rules_follow_the_language() -> None:
    with speaking("en"):
        assert _("Anything at all") == "Anything at all"
        assert ngettext("{n} idea", "{n} ideas", 2) == "{n} ideas"
    with speaking("ja"):  # one form in Japanese: an unknown message still reads English
        assert ngettext("{n} idea", "{n} ideas", 2) == "{n} ideas"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de-DE", "de"),
        ("de_de", "de"),
        ("ja-JP", "ja"),
        ("pt-BR", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("fr-CA", "fr"),
        ("es-419", "es"),
        ("en-GB", "en"),
        ("Deutsch", "de"),
        ("ko-KR", None),
        ("", None),
        (None, None),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
    ],
)
def test_platform_tags_map_onto_the_shipped_languages(tag, expected) -> None:
    assert normalize_locale(tag) == expected


@pytest.mark.parametrize("locale", SUPPORTED)
def test_a_day_and_a_time_are_written_in_every_language(locale: str) -> None:
    """CLDR has no skeleton for a day and a time together (Babel raised KeyError for
    'MMMEdHm', which broke /digest list in every language): each part is formatted alone."""
    from datetime import datetime

    from bot.i18n.formats import format_day_time

    moment = datetime(2026, 12, 7, 9, 5, tzinfo=UTC)
    with speaking(locale):
        for day in ("MMMEd", "MMMd", "yMMMd"):
            written = format_day_time(moment, day=day)
            assert "9" in written and "05" in written and "7" in written
        assert "18:05" in format_day_time(moment, zone="Asia/Tokyo")


# Words the cards people get in chat say (compose) that the console also says. When the areas
# were merged into one table at run time, the console's catalogue last, a console word that
# differed replaced the card's: "From" (an idea's author on a card) read "Quelle" in German chat,
# the console's word for a KPI reading's source; Japanese digests' "Not relevant" button and the
# digest form's "Day" (a weekday, 曜日) read as the console said them (日付, a reading's date).
# Each area's code now finds its own catalogue's word first.
CARD_WORDS = ("From", "Not relevant", "Useful", "Day")


@pytest.mark.parametrize("locale", [code for code in SUPPORTED if code != ENGLISH])
def test_card_words_read_in_chat_as_the_compose_catalogue_says_them(locale: str) -> None:
    from bot.i18n.catalogues import LOCALE_DIR, read_catalogue

    compose = {
        m.id: m.string
        for m in read_catalogue(LOCALE_DIR / locale / "compose.po", locale)
        if m.id in CARD_WORDS
    }
    assert set(compose) == set(CARD_WORDS)
    with speaking(locale):
        assert {word: _(word, area="compose") for word in CARD_WORDS} == compose
