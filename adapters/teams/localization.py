"""The app package in each shipped language: Teams shows the command menu, the app's description
and the message action in the language of the person's client, read from one file per language
beside the manifest (its ``localizationInfo``). The manifest itself stays English, the fallback.

The texts are the manifest's own, marked for the teams catalogue where they are written
(``N_``), and looked up here by their English; one Teams has no translation for is left out, and
Teams shows the English.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import ENGLISH, SUPPORTED, _, speaking

# Teams' limits on the localized strings (the manifest schema's).
LIMITS = {"description.short": 80, "description.full": 4000, "title": 32, "description": 128}
SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v{version}/"
    "MicrosoftTeams.Localization.schema.json"
)


def language_tag(locale: str) -> str:
    """Teams' spelling of a locale: ``pt_BR`` is ``pt-br``."""
    return locale.replace("_", "-").lower()


def language_files(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One localization file per shipped language other than English, by file name."""
    files = {}
    for locale in SUPPORTED:
        if locale == ENGLISH:
            continue
        with speaking(locale):
            strings = _strings(document)
        schema = SCHEMA.format(version=document["manifestVersion"])
        files[f"{language_tag(locale)}.json"] = {"$schema": schema, **strings}
    return files


def localization_info(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest's ``localizationInfo`` naming ``files``."""
    return {
        "defaultLanguageTag": ENGLISH,
        "additionalLanguages": [
            {"languageTag": name.removesuffix(".json"), "file": name} for name in sorted(files)
        ],
    }


def _strings(document: dict[str, Any]) -> dict[str, str]:
    """The manifest's texts in the language being spoken, by the keys Teams reads."""
    strings = {
        # The app's name is the organisation's choice (--name): the same in every language.
        "name.short": document["name"]["short"],
        "name.full": document["name"]["full"],
        "description.short": _limited(document["description"]["short"], "description.short"),
        "description.full": _limited(document["description"]["full"], "description.full"),
    }
    for b, bot in enumerate(document.get("bots") or []):
        for c, commands in enumerate(bot.get("commandLists") or []):
            for n, command in enumerate(commands.get("commands") or []):
                key = f"bots[{b}].commandLists[{c}].commands[{n}].description"
                _put(strings, key, command.get("description"), "description")
    for e, extension in enumerate(document.get("composeExtensions") or []):
        for n, command in enumerate(extension.get("commands") or []):
            for field in ("title", "description"):
                key = f"composeExtensions[{e}].commands[{n}].{field}"
                _put(strings, key, command.get(field), field)
    return strings


def _put(strings: dict[str, str], key: str, english: str | None, kind: str) -> None:
    if english and _(english) != english:
        strings[key] = _limited(english, kind)


def _limited(english: str, kind: str) -> str:
    translated = _(english)
    limit = LIMITS[kind]
    return translated if len(translated) <= limit else translated[: limit - 1].rstrip() + "…"
