"""Import members from an HR CSV: teams and the manager hierarchy that rollups use come from here.

Each row is validated on its own: a bad row is reported with its line number and the good rows
are kept. Re-importing the same file changes nothing.

A file is read as a stream and stored in batches, each in its own short transaction, so memory
stays flat whatever its size. Managers may be named before or after their reports: the links are
made in a second step, once every row's member exists, from a compact list spilled to a temporary
file. What is kept for the whole import is two arrays of 4 bytes per member in the database (which
identities this file already named, and who manages whom, to refuse loops), never the rows.
"""

from __future__ import annotations

import io
import json
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any, BinaryIO

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role, parse_enum
from bot.errors import DomainError, InvalidInput
from bot.import_files import CsvRecords, LineReader
from bot.services.members import (
    clean_name,
    validate_platform,
    validate_timezone,
    validate_user_id,
)
from bot.services.permissions import Acting, require_role
from bot.storage.database import Database
from bot.storage.models import Member, MemberIdentity, Team
from bot.storage.types import utcnow
from bot.storage.upsert import insert_many_returning_ids
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
}
REQUIRED_COLUMNS = ("platform", "user_id")
USED_COLUMNS = frozenset(COLUMN_ALIASES.values())
BATCH_ROWS = 2_000
KEPT_PROBLEMS = 1_000  # problems remembered with their line; the rest are counted

Key = tuple[str, str, str]  # platform, workspace, user id


@dataclass
class RowProblem:
    line: int
    message: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # The first KEPT_PROBLEMS of each, with their line; the counts cover them all.
    rejected: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    rejected_count: int = 0
    warning_count: int = 0
    encoding: str = "utf-8"  # of the file; lines that are not UTF-8 are read as Windows-1252

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged

    def reject(self, problem: RowProblem) -> None:
        self.rejected_count += 1
        if len(self.rejected) < KEPT_PROBLEMS:
            self.rejected.append(problem)

    def warn(self, problem: RowProblem) -> None:
        self.warning_count += 1
        if len(self.warnings) < KEPT_PROBLEMS:
            self.warnings.append(problem)


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

    @property
    def key(self) -> Key:
        return (self.platform, self.workspace, self.user_id)


def _canonical(header: str) -> str:
    key = header.strip().lower().replace(" ", "_").replace("-", "_")
    return COLUMN_ALIASES.get(key, key)


def _team_name(team: str) -> str:
    return " ".join(team.split())[:100]


class MemberCsv:
    """The rows of an HR CSV, read as a stream: each a MemberRow, or a RowProblem saying why
    that row cannot be imported. The header is read (and checked) on opening."""

    def __init__(self, stream: BinaryIO, *, on_read: Callable[[int], None] | None = None) -> None:
        self.lines = LineReader(stream, on_read=on_read)
        self._records = CsvRecords(self.lines)
        try:
            header = self._records.header()
        except ValueError as error:
            raise InvalidInput(f"The header line cannot be read: {error}") from None
        if header is None:
            raise InvalidInput(
                "The file is empty; expected a header line such as "
                "platform,user_id,name,team,manager,role,timezone."
            )
        self.columns = [_canonical(name) for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in self.columns]
        if missing:
            raise InvalidInput(
                f"The header lacks {', '.join(missing)}; expected columns "
                "platform,user_id,name,team,manager,role,timezone."
            )

    @property
    def encoding(self) -> str:
        return self._records.encoding

    def __iter__(self) -> Iterator[MemberRow | RowProblem]:
        columns = self.columns
        for line, values in self._records:
            if isinstance(values, ValueError):
                yield RowProblem(line, str(values))
                continue
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(columns):
                yield RowProblem(line, f"{len(values)} fields, the header has {len(columns)}")
                continue
            record = {columns[i]: values[i].strip() for i in range(len(values))}
            yield _member_row(line, record)


def _member_row(line: int, record: dict[str, str]) -> MemberRow | RowProblem:
    for name, value in record.items():
        if name in USED_COLUMNS and (problem := unstorable(value)):
            return RowProblem(line, f"the {name} {problem}")
    try:
        return MemberRow(
            line=line,
            platform=validate_platform(record.get("platform", "")),
            workspace=record.get("workspace", ""),
            user_id=validate_user_id(record.get("user_id", "")),
            name=record.get("name") or None,
            team=record.get("team") or None,
            manager=record.get("manager") or None,
            role=parse_enum(Role, record["role"], "role") if record.get("role") else None,
            timezone=validate_timezone(record["timezone"]) if record.get("timezone") else None,
        )
    except DomainError as error:
        return RowProblem(line, error.message)


def parse_member_csv(text: str) -> tuple[list[MemberRow], list[RowProblem]]:
    """Parse and validate a small file held in memory; pure, so it can be tested without a
    database. A repeated user id is a problem naming the line that came first."""
    rows: list[MemberRow] = []
    problems: list[RowProblem] = []
    seen: dict[Key, int] = {}
    for item in MemberCsv(io.BytesIO(text.encode("utf-8"))):
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


# ----- importing ---------------------------------------------------------------------------------


async def import_member_file(
    db: Database,
    actor: Acting,
    stream: BinaryIO,
    *,
    on_read: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an HR CSV as a stream, BATCH_ROWS rows per transaction: bad rows are reported
    with their line number, good rows kept. A bad header is refused before anything is stored."""
    require_role(actor, (), "import members")
    rows = MemberCsv(stream, on_read=on_read)
    with _Import() as run:
        async with db.transaction() as session:
            await run.begin(session)
        for batch in _batches(rows):
            async with db.transaction() as session:
                await run.store(session, batch)
        async with db.transaction() as session:
            await run.load_hierarchy(session)
        for links in run.links():
            async with db.transaction() as session:
                await run.link(session, links)
        run.report.encoding = rows.encoding
        return run.report


async def import_members(session: AsyncSession, actor: Acting, text: str) -> ImportReport:
    """Import a small HR CSV held in memory, in the caller's transaction."""
    require_role(actor, (), "import members")
    return await _import_in(session, MemberCsv(io.BytesIO(text.encode("utf-8"))))


async def import_member_rows(
    session: AsyncSession,
    actor: Acting,
    rows: list[MemberRow],
    problems: list[RowProblem] | None = None,
) -> ImportReport:
    """Upsert members (a workspace's directory) and link their managers in the caller's
    transaction, a few queries per thousand rows. Values left None keep what the member
    already has."""
    require_role(actor, (), "import members")
    report = await _import_in(session, rows)
    for problem in problems or ():
        report.reject(problem)
    return report


async def _import_in(session: AsyncSession, rows: Iterable[MemberRow | RowProblem]) -> ImportReport:
    with _Import() as run:
        await run.begin(session)
        for batch in _batches(rows):
            await run.store(session, batch)
        await run.load_hierarchy(session)
        for links in run.links():
            await run.link(session, links)
        session.expire_all()  # members changed by bulk statements
        return run.report


def _batches(rows: Iterable[MemberRow | RowProblem]) -> Iterator[list[MemberRow | RowProblem]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_ROWS)):
        yield batch


def _grow(ids: array[int], highest: int) -> None:
    """Make room in an array indexed by database id."""
    if highest >= len(ids):
        ids.frombytes(bytes(ids.itemsize * (highest + 1 - len(ids) + 1024)))


class _Import:
    """One import across its batches: the report, which identities this import already named
    (by identity id: the line that named it), and the manager links still to make."""

    def __init__(self) -> None:
        self.report = ImportReport()
        self.named = array("I")  # identity id -> the line that named it (0: not yet)
        self.managers = array("I")  # member id -> manager id (0: none)
        # Closed by __exit__: the import is always run inside ``with``.
        self._spill: IO[bytes] = tempfile.TemporaryFile(prefix="advocacy-managers-")  # noqa: SIM115

    def __enter__(self) -> _Import:
        return self

    def __exit__(self, *_: object) -> None:
        self._spill.close()

    async def begin(self, session: AsyncSession) -> None:
        highest = await session.scalar(select(func.max(MemberIdentity.id)))
        _grow(self.named, int(highest or 0))

    async def store(self, session: AsyncSession, batch: list[MemberRow | RowProblem]) -> None:
        """Create or update the batch's members; note their manager links for later."""
        rows: list[MemberRow] = []
        for item in batch:
            if isinstance(item, RowProblem):
                self.report.reject(item)
            elif problem := _unstorable_row(item):
                self.report.reject(problem)
            else:
                rows.append(item)
        known = await _known(session, rows)
        _grow(self.named, max((identity_id for identity_id, _ in known.values()), default=0))
        teams = await _teams(session, {_team_name(row.team) for row in rows if row.team})
        in_batch: dict[Key, int] = {}
        new_rows: list[MemberRow] = []
        changes: dict[int, dict[str, Any]] = {}
        accepted: list[tuple[MemberRow, str]] = []
        for row in rows:
            found = known.get(row.key)
            first = in_batch.get(row.key) or (self.named[found[0]] if found else 0)
            if first:
                self.report.reject(
                    RowProblem(row.line, f"{row.user_id} already appears on line {first}")
                )
                continue
            in_batch[row.key] = row.line
            if found is None:
                new_rows.append(row)
                accepted.append((row, "created"))
                continue
            identity_id, member = found
            self.named[identity_id] = row.line
            changed = _changes(member, row, teams)
            if changed:
                member.update(changed)
                changes[member["id"]] = member
            accepted.append((row, "updated" if changed else "unchanged"))
        if changes:
            await session.execute(update(Member), list(changes.values()))
        await self._create(session, new_rows, teams, known)
        for row, outcome in accepted:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            if row.manager:
                link = [known[row.key][1]["id"], *row.key, row.manager, row.line, outcome]
                self._spill.write(json.dumps(link).encode() + b"\n")

    async def _create(
        self,
        session: AsyncSession,
        rows: list[MemberRow],
        teams: dict[str, int],
        known: dict[Key, tuple[int, dict[str, Any]]],
    ) -> None:
        if not rows:
            return
        now = utcnow()
        member_ids = await insert_many_returning_ids(
            session,
            Member,
            [
                {
                    "display_name": clean_name(row.name, row.user_id),
                    "role": row.role or Role.EMPLOYEE,
                    "timezone": row.timezone or "UTC",
                    "team_id": teams[_team_name(row.team)] if row.team else None,
                    "manager_id": None,
                    "created_at": now,
                }
                for row in rows
            ],
        )
        identity_ids = await insert_many_returning_ids(
            session,
            MemberIdentity,
            [
                {
                    "member_id": member_id,
                    "platform": row.platform,
                    "workspace": row.workspace,
                    "user_id": row.user_id,
                    "created_at": now,
                }
                for row, member_id in zip(rows, member_ids, strict=True)
            ],
        )
        _grow(self.named, max(identity_ids))
        for row, member_id, identity_id in zip(rows, member_ids, identity_ids, strict=True):
            self.named[identity_id] = row.line
            known[row.key] = (identity_id, {"id": member_id})

    async def load_hierarchy(self, session: AsyncSession) -> None:
        """Who manages whom, for every member, to refuse links that would make a loop."""
        self.named = array("I")  # no longer needed: free it before the hierarchy
        highest = await session.scalar(select(func.max(Member.id)))
        _grow(self.managers, int(highest or 0))
        result = await session.stream(
            select(Member.id, Member.manager_id)
            .where(Member.manager_id.is_not(None))
            .execution_options(yield_per=10_000)
        )
        async for member_id, manager_id in result:
            _grow(self.managers, member_id)
            self.managers[member_id] = manager_id

    def links(self) -> Iterator[list[list[Any]]]:
        """The manager links noted by ``store``, a batch at a time."""
        self._spill.seek(0)
        lines = (json.loads(line) for line in self._spill)
        while batch := list(islice(lines, BATCH_ROWS)):
            yield batch

    async def link(self, session: AsyncSession, links: list[list[Any]]) -> None:
        """Link members to their managers (who must be members on the same platform and
        workspace), never making a loop."""
        wanted: dict[tuple[str, str], set[str]] = {}
        for _, platform, workspace, _, manager, _, _ in links:
            wanted.setdefault((platform, workspace), set()).add(manager)
        ids: dict[Key, int] = {}
        for (platform, workspace), user_ids in wanted.items():
            statement = select(MemberIdentity.user_id, MemberIdentity.member_id).where(
                MemberIdentity.platform == platform,
                MemberIdentity.workspace == workspace,
                MemberIdentity.user_id.in_(user_ids),
            )
            for user_id, member_id in await session.execute(statement):
                ids[(platform, workspace, user_id)] = member_id
        changes = []
        for member_id, platform, workspace, user_id, manager, line, outcome in links:
            manager_id = ids.get((platform, workspace, manager))
            if manager_id is None:
                self.report.warn(
                    RowProblem(line, f"manager '{manager}' is not a member; left without one")
                )
            elif _reports_to(self.managers, manager_id, member_id):
                self.report.warn(
                    RowProblem(
                        line,
                        f"manager '{manager}' reports to {user_id}; "
                        "left without a manager to avoid a loop",
                    )
                )
            elif self.managers[member_id] != manager_id:
                _grow(self.managers, max(member_id, manager_id))
                self.managers[member_id] = manager_id
                changes.append({"id": member_id, "manager_id": manager_id})
                if outcome == "unchanged":
                    self.report.unchanged -= 1
                    self.report.updated += 1
        if changes:
            await session.execute(update(Member), changes)


def _unstorable_row(row: MemberRow) -> RowProblem | None:
    """Rows from a platform's directory are checked here; a file's rows were checked already."""
    for name in ("user_id", "workspace", "name", "team", "manager"):
        value = getattr(row, name)
        if value and (problem := unstorable(value)):
            return RowProblem(row.line, f"the {name} {problem}")
    return None


async def _known(
    session: AsyncSession, rows: list[MemberRow]
) -> dict[Key, tuple[int, dict[str, Any]]]:
    """The batch's existing members by identity: the identity id and the member's values."""
    spaces: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        spaces.setdefault((row.platform, row.workspace), set()).add(row.user_id)
    known: dict[Key, tuple[int, dict[str, Any]]] = {}
    for (platform, workspace), user_ids in spaces.items():
        statement = (
            select(
                MemberIdentity.id,
                MemberIdentity.user_id,
                Member.id,
                Member.display_name,
                Member.role,
                Member.timezone,
                Member.team_id,
            )
            .join(Member, Member.id == MemberIdentity.member_id)
            .where(
                MemberIdentity.platform == platform,
                MemberIdentity.workspace == workspace,
                MemberIdentity.user_id.in_(user_ids),
            )
        )
        for identity_id, user_id, member_id, name, role, timezone, team_id in await session.execute(
            statement
        ):
            known[(platform, workspace, user_id)] = (
                identity_id,
                {
                    "id": member_id,
                    "display_name": name,
                    "role": role,
                    "timezone": timezone,
                    "team_id": team_id,
                },
            )
    return known


def _changes(member: dict[str, Any], row: MemberRow, teams: dict[str, int]) -> dict[str, Any]:
    """What the row changes in an existing member; values the row leaves empty are kept."""
    values = {
        "display_name": clean_name(row.name, member["display_name"]) if row.name else None,
        "role": row.role,
        "timezone": row.timezone,
        "team_id": teams[_team_name(row.team)] if row.team else None,
    }
    return {
        name: value for name, value in values.items() if value is not None and member[name] != value
    }


async def _teams(session: AsyncSession, names: set[str]) -> dict[str, int]:
    """Team ids by name, creating the teams the batch names for the first time."""
    if not names:
        return {}
    found = await session.execute(select(Team.name, Team.id).where(Team.name.in_(names)))
    teams = {name: team_id for name, team_id in found}
    missing = sorted(names - set(teams))
    if missing:
        now = utcnow()
        created = await insert_many_returning_ids(
            session, Team, [{"name": name, "created_at": now} for name in missing]
        )
        teams.update(zip(missing, created, strict=True))
    return teams


def _reports_to(managers: array[int], start: int, target: int) -> bool:
    """True when ``target`` is ``start`` or above it in the hierarchy (a link would loop)."""
    seen: set[int] = set()
    current = start
    while current and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = managers[current] if current < len(managers) else 0
    return False
