"""Parsing what people type: command words, flags and ids."""

from __future__ import annotations

import difflib
import re
import shlex

from bot.errors import InvalidInput
from bot.i18n import N_, _


def split_command(text: str) -> tuple[str, str]:
    """'/suggest fix it' -> ('suggest', 'fix it'); leading slash optional, case-insensitive."""
    stripped = text.strip()
    word, _space, rest = stripped.partition(" ")
    return word.lstrip("/").lower(), rest.strip()


def take_flags(text: str, flags: dict[str, bool]) -> tuple[dict[str, str | bool], str]:
    """Pull leading ``--flag`` / ``--option VALUE`` tokens off ``text``.

    ``flags`` maps each flag name to whether it takes a value. The rest of the text is returned
    untouched (not re-joined), so quotes and spacing in the idea itself survive.
    """
    found: dict[str, str | bool] = {}
    rest = text.lstrip()
    while rest.startswith("--"):
        token, _space, remainder = rest.partition(" ")
        name = token[2:].lower()
        if name not in flags:
            known = ", ".join(f"--{flag}" for flag in flags)
            raise InvalidInput(
                _("Unknown option {option}; options here: {options}.").format(
                    option=token, options=known
                )
            )
        if flags[name]:
            value, _space, remainder = remainder.lstrip().partition(" ")
            if not value:
                raise InvalidInput(_("{option} needs a value.").format(option=token))
            found[name] = value
        else:
            found[name] = True
        rest = remainder.lstrip()
    return found, rest


# "--anonymous" as people type it: anywhere in the text (an afterthought at the end), with one
# dash, or with the em or en dash that phones and macOS make of "--", ending a sentence too.
_ANONYMOUS = re.compile(
    r"(?<!\S)(?:--?|[\u2013\u2014])anon(?:ymous)?[.,;:!?)]*(?!\S)", re.IGNORECASE
)
# Any dashed word, to catch the flag misspelt ("--anonymus", "--annonymous", "-anonymously").
_DASHED_WORD = re.compile(r"(?<!\S)(?:--?|[\u2013\u2014])([^\W\d_]+)[^\s\w]*(?!\S)")


def misspelt_anonymous_flag(text: str) -> str | None:
    """The first dashed word in ``text`` that looks like --anonymous misspelt, or None."""
    for match in _DASHED_WORD.finditer(text):
        word = match.group(1).lower()
        if word.startswith(("anon", "anno", "anom")) or (
            difflib.SequenceMatcher(None, word, "anonymous").ratio() >= 0.85
        ):
            return match.group(0)
    return None


def take_anonymous_flag(text: str, *, already_anonymous: bool = False) -> tuple[bool, str]:
    """Whether ``text`` asks for anonymity anywhere, and the text without that flag. Reading
    too much as a request for anonymity costs a name on an idea; too little, a person's trust:
    so the flag misspelt is refused, never filed under the person's name."""
    if not _ANONYMOUS.search(text):
        misspelt = None if already_anonymous else misspelt_anonymous_flag(text)
        if misspelt is not None:
            raise InvalidInput(
                _(
                    "'{flag}' looks like --anonymous misspelt, so nothing was filed (it would "
                    "have carried your name). Write --anonymous to hide your name, or send the "
                    "idea again without '{flag}'."
                ).format(flag=misspelt)
            )
        return False, text
    return True, re.sub(r"[ \t]{2,}", " ", _ANONYMOUS.sub("", text)).strip()


# Ids are 64-bit in the database: a longer number is no id, not a database error.
MAX_ID = 2**63 - 1
# One whole sentence per kind of number, for translators; others (the CLI's) stay English.
_NOT_A_NUMBER = {
    "suggestion": N_("'{text}' is not a suggestion number; write it like 12 or #12."),
    "idea": N_("'{text}' is not an idea number; write it like 12 or #12."),
    "review": N_("'{text}' is not a review number; write it like 12 or #12."),
    "content": N_("'{text}' is not a content number; write it like 12 or #12."),
    "content item": N_("'{text}' is not a content item number; write it like 12 or #12."),
    "delivery": N_("'{text}' is not a delivery number; write it like 12 or #12."),
}


def parse_id(text: str, what: str) -> int:
    value = text.strip().lstrip("#")
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        shown = text if len(text) <= 30 else text[:27] + "..."
        sentence = _NOT_A_NUMBER.get(what)
        if sentence is not None:
            raise InvalidInput(_(sentence).format(text=shown))
        article = "an" if what[:1] in "aeiou" else "a"
        raise InvalidInput(f"'{shown}' is not {article} {what} number; write it like 12 or #12.")
    return int(value)


def split_words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return any(truthy(v) for v in value)
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y", "anonymous")
