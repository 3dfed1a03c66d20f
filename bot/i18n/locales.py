"""The languages the bot speaks, and how a platform's locale tag maps onto one of them.

Slack says ``en-US`` or ``ja-JP``, Teams ``de-de``, a browser ``pt-BR,pt;q=0.9``: each is reduced
to one of ``SUPPORTED`` (Babel's spelling, ``pt_BR``) or to None when we do not speak it, so the
caller can fall back to the workspace's default instead of guessing.
"""

from __future__ import annotations

ENGLISH = "en"
# Complete catalogues ship for each of these (tests/operations/test_catalogues.py keeps them so).
SUPPORTED: tuple[str, ...] = ("en", "de", "fr", "es", "pt_BR", "ja")
# What each is called in its own language: the /prefs menu lists them this way.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "ja": "日本語",
}
# A bare language picks its shipped variant: Portuguese from Portugal reads Brazilian, not English.
_BY_LANGUAGE = {"en": "en", "de": "de", "fr": "fr", "es": "es", "pt": "pt_BR", "ja": "ja"}


def normalize_locale(tag: str | None) -> str | None:
    """``de-DE``, ``de_de``, ``pt-br``, ``ja`` or ``Deutsch`` -> a supported locale, or None."""
    if not tag:
        return None
    first = tag.split(",")[0].split(";")[0].strip()
    if not first:
        return None
    for code, name in NATIVE_NAMES.items():
        if first.casefold() == name.casefold():
            return code
    parts = first.replace("-", "_").split("_")
    language = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 else ""
    if language == "pt" and region in ("", "BR", "PT"):
        return "pt_BR"
    if f"{language}_{region}" in SUPPORTED:
        return f"{language}_{region}"
    return _BY_LANGUAGE.get(language)


def accepted_locale(header: str | None) -> str | None:
    """The browser's most wanted language that we speak: ``ko,de;q=0.9,en;q=0.8`` -> ``de``
    (``normalize_locale`` reads only the first tag, and would answer None here)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        locale = normalize_locale(tag.strip()) if tag.strip() != "*" else None
        if locale is not None and weight > 0:
            ranked.append((-weight, index, locale))
    return min(ranked)[2] if ranked else None


def babel_locale(locale: str) -> str:
    """The name Babel's formatting functions want (they take ``pt_BR`` as it is)."""
    return locale
