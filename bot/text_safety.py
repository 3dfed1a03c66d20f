"""Text from people, made safe for places that would read it as instructions."""

from __future__ import annotations

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV value that a spreadsheet shows as text: a leading quote defuses a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(row: dict[str, object]) -> dict[str, object]:
    return {key: csv_cell(value) for key, value in row.items()}
