"""What an HR CSV says: its columns (under the names HR systems give them) and each row, read
as a stream and validated on its own, so that a bad row is a problem with its line number and
the rows around it are still read. Storing them is bot/services/member_import.py's job."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from bot.compose.text import plural
from bot.domain import Role, parse_enum
from bot.errors import DomainError, InvalidInput
from bot.import_files import CsvRecords, LineReader, file_encoding
from bot.platform.entry_points import installed_platforms
from bot.services.members import (
    validate_known_platform,
    validate_platform,
    validate_timezone,
    validate_user_id,
)
from bot.text_safety import unstorable

# Column names people use in HR exports, mapped to ours.
COLUMN_ALIASES = {
    "platform": "platform",
    "user_id": "user_id",
    "userid": "user_id",
    "user": "user_id",
    "id": "user_id",
    "name": "name",
    "display_name": "name",
    "full_name": "name",
    "team": "team",
    "department": "team",
    "manager": "manager",
    "manager_id": "manager",
    "manager_user_id": "manager",
    "role": "role",
    "timezone": "timezone",
    "time_zone": "timezone",
    "tz": "timezone",
    "workspace": "workspace",
    "tenant": "workspace",
    "status": "status",
    "employment_status": "status",
    "employee_status": "status",
    "worker_status": "status",
    "account_status": "status",
}
REQUIRED_COLUMNS = ("platform", "user_id")
USED_COLUMNS = frozenset(COLUMN_ALIASES.values())

Key = tuple[str, str, str]  # platform, workspace, user id

# What HR systems write in a status column (its first word, in any case), read as one of two.
ACTIVE = "active"
LEFT = "left"
STATUS_WORDS = {
    **dict.fromkeys(("active", "employed", "current", "enabled", "hired"), ACTIVE),
    **dict.fromkeys(
        (
            "left",
            "inactive",
            "terminated",
            "termed",
            "former",
            "departed",
            "deactivated",
            "disabled",
            "deleted",
            "resigned",
            "retired",
            "separated",
            "offboarded",
        ),
        LEFT,
    ),
}


@dataclass
class RowProblem:
    line: int
    message: str
    # Whom the row names, when that could be read: with ``complete``, a person whose row is
    # rejected (a typo in another column) is still in the file and is not marked as left.
    key: Key | None = None


@dataclass
class MemberRow:
    line: int
    platform: str
    workspace: str
    user_id: str
    name: str | None
    team: str | None
    manager: str | None
    role: Role | None
    timezone: str | None
    status: str | None = None  # ACTIVE, LEFT, or None: the row does not say

    @property
    def key(self) -> Key:
        return (self.platform, self.workspace, self.user_id)


def _canonical(header: str) -> str:
    key = header.strip().lower().replace(" ", "_").replace("-", "_")
    return COLUMN_ALIASES.get(key, key)


class MemberCsv:
    """The rows of an HR CSV, read as a stream: each a MemberRow, or a RowProblem saying why
    that row cannot be imported. The header is read (and checked) on opening."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        on_read: Callable[[int], None] | None = None,
        platforms: Collection[str] | None = None,
    ) -> None:
        # A row on another platform is refused: its member would never get a message.
        self.platforms = sorted(installed_platforms() if platforms is None else platforms)
        self.lines = LineReader(stream, on_read=on_read)
        self._records = CsvRecords(self.lines)
        try:
            header = self._records.header()
        except ValueError as error:
            raise InvalidInput(f"The header line cannot be read: {error}") from None
        if header is None:
            raise InvalidInput(
                "The file is empty; expected a header line such as "
                "platform,user_id,name,team,manager,role,timezone[,status]."
            )
        self.columns = [_canonical(name) for name in header]
        _refuse_repeated_columns(header, self.columns)
        missing = [name for name in REQUIRED_COLUMNS if name not in self.columns]
        if missing:
            raise InvalidInput(
                f"The header lacks {', '.join(missing)}; expected columns "
                "platform,user_id,name,team,manager,role,timezone[,status]."
            )

    @property
    def encoding(self) -> str:
        return file_encoding(self.lines.stream) or self._records.encoding

    def __iter__(self) -> Iterator[MemberRow | RowProblem]:
        columns = self.columns
        for line, values in self._records:
            if isinstance(values, ValueError):
                yield RowProblem(line, str(values))
                continue
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(columns):
                # Still whom it names, from the first fields (the ones the header names).
                first = zip(columns, (value.strip() for value in values), strict=False)
                named = _row_key(dict(first))
                yield RowProblem(
                    line, f"{plural(len(values), 'field')}, the header has {len(columns)}", named
                )
                continue
            record = {columns[i]: values[i].strip() for i in range(len(values))}
            yield _member_row(line, record, self.platforms)


def _refuse_repeated_columns(header: list[str], columns: list[str]) -> None:
    """Two columns read as one field (an HR export's ``id``, its employee number, beside
    ``user_id``; ``department`` beside ``team``): whichever came last would silently win, and
    members would be stored under the wrong ids or teams."""
    first: dict[str, int] = {}
    for index, column in enumerate(columns):
        if column not in USED_COLUMNS:
            continue
        if column in first:
            earlier = first[column]
            raise InvalidInput(
                f"The header has two columns read as {column}: '{header[earlier].strip()}' "
                f"(column {earlier + 1}) and '{header[index].strip()}' (column {index + 1}); "
                "rename or remove one of them and import again."
            )
        first[column] = index


def parse_status(value: str) -> str:
    """ACTIVE or LEFT from what an HR system writes ('Terminated - voluntary' is LEFT)."""
    word = re.match(r"[a-z]+", value.strip().lower())
    status = STATUS_WORDS.get(word.group() if word else "")
    if status is None:
        raise InvalidInput(
            f"the status '{value}' is not known; use active or left (also read: inactive, "
            "terminated, resigned, retired, former, employed, current...)"
        )
    return status


def _row_key(record: dict[str, str]) -> Key | None:
    """Whom a row names, or None when its platform or user id cannot be read."""
    values = [record.get(name, "") for name in ("platform", "workspace", "user_id")]
    if any(unstorable(value) for value in values):
        return None
    try:
        return (validate_platform(values[0]), values[1], validate_user_id(values[2]))
    except DomainError:
        return None


def _member_row(
    line: int, record: dict[str, str], platforms: Collection[str]
) -> MemberRow | RowProblem:
    named = _row_key(record)
    for name, value in record.items():
        if name in USED_COLUMNS and (problem := unstorable(value)):
            return RowProblem(line, f"the {name} {problem}", named)
    try:
        return MemberRow(
            line=line,
            platform=validate_known_platform(record.get("platform", ""), platforms),
            workspace=record.get("workspace", ""),
            user_id=validate_user_id(record.get("user_id", "")),
            name=record.get("name") or None,
            team=record.get("team") or None,
            manager=record.get("manager") or None,
            role=parse_enum(Role, record["role"], "role") if record.get("role") else None,
            timezone=validate_timezone(record["timezone"]) if record.get("timezone") else None,
            status=parse_status(record["status"]) if record.get("status") else None,
        )
    except DomainError as error:
        return RowProblem(line, error.message, named)


def parse_member_csv(
    text: str, platforms: Collection[str] | None = None
) -> tuple[list[MemberRow], list[RowProblem]]:
    """Parse and validate a small file held in memory; pure, so it can be tested without a
    database. A repeated user id is a problem naming the line that came first."""
    rows: list[MemberRow] = []
    problems: list[RowProblem] = []
    seen: dict[Key, int] = {}
    for item in MemberCsv(io.BytesIO(text.encode("utf-8")), platforms=platforms):
        if isinstance(item, RowProblem):
            problems.append(item)
        elif item.key in seen:
            problems.append(
                RowProblem(item.line, f"{item.user_id} already appears on line {seen[item.key]}")
            )
        else:
            seen[item.key] = item.line
            rows.append(item)
    return rows, problems
