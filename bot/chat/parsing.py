"""Parsing what people type: command words, flags and ids."""

from __future__ import annotations

import shlex

from bot.errors import InvalidInput


def split_command(text: str) -> tuple[str, str]:
    """'/suggest fix it' -> ('suggest', 'fix it'); leading slash optional, case-insensitive."""
    stripped = text.strip()
    word, _, rest = stripped.partition(" ")
    return word.lstrip("/").lower(), rest.strip()


def take_flags(text: str, flags: dict[str, bool]) -> tuple[dict[str, str | bool], str]:
    """Pull leading ``--flag`` / ``--option VALUE`` tokens off ``text``.

    ``flags`` maps each flag name to whether it takes a value. The rest of the text is returned
    untouched (not re-joined), so quotes and spacing in the idea itself survive.
    """
    found: dict[str, str | bool] = {}
    rest = text.lstrip()
    while rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        name = token[2:].lower()
        if name not in flags:
            known = ", ".join(f"--{flag}" for flag in flags)
            raise InvalidInput(f"Unknown option {token}; options here: {known}.")
        if flags[name]:
            value, _, remainder = remainder.lstrip().partition(" ")
            if not value:
                raise InvalidInput(f"{token} needs a value.")
            found[name] = value
        else:
            found[name] = True
        rest = remainder.lstrip()
    return found, rest


def parse_id(text: str, what: str) -> int:
    value = text.strip().lstrip("#")
    if not value.isdigit():
        raise InvalidInput(f"'{text}' is not a {what} number; write it like 12 or #12.")
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
