"""Text from people, made safe for places that would read it as instructions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.i18n import _

_SURROGATE = re.compile("[\ud800-\udfff]")

# Embeddings and overrides (LRE, RLE, PDF, LRO, RLO): U+202E before "evil" shows it as "live".
# Written text needs none of them (the Unicode bidi algorithm orders Arabic and Hebrew itself).
DIRECTION_OVERRIDES = dict.fromkeys(range(0x202A, 0x202F))

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV value that a spreadsheet shows as text: a leading quote defuses a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(row: dict[str, object]) -> dict[str, object]:
    return {key: csv_cell(value) for key, value in row.items()}


def in_written_order(value: str) -> str:
    """``value`` without direction overrides, so that it shows in the order it was written
    (kept as written in the database; shown so on the console and in charts)."""
    return value.translate(DIRECTION_OVERRIDES) if not value.isascii() else value


def unstorable(value: str) -> str | None:
    """Why the database cannot store ``value`` (a NUL byte, which PostgreSQL's text refuses, or
    a lone surrogate, which is not Unicode text), or None when it can."""
    if "\x00" in value:
        # Translators: completes "What you sent ..., which cannot be stored".
        return _("contains a NUL byte")
    if not value.isascii() and _SURROGATE.search(value):
        # Translators: completes "What you sent ..., which cannot be stored".
        return _("contains invalid Unicode (a lone surrogate)")
    return None


def first_unstorable(values: Iterable[Any]) -> str | None:
    """The first reason any string in ``values`` (nested in lists and dicts too) cannot be
    stored, for text that arrives from a chat platform."""
    for value in values:
        if isinstance(value, str):
            problem = unstorable(value)
        elif isinstance(value, dict):
            problem = first_unstorable([*value.keys(), *value.values()])
        elif isinstance(value, list | tuple):
            problem = first_unstorable(value)
        else:
            problem = None
        if problem:
            return problem
    return None
