"""Import members from an HR CSV: teams and the manager hierarchy that rollups use come from here.

Each row is validated on its own: a bad row is reported with its line number and the good rows
are kept. Re-importing the same file changes nothing.

A file is read as a stream and stored in batches, each in its own short transaction, so memory
stays flat whatever its size. Managers may be named before or after their reports: the links are
made in a second step, once every row's member exists, from a compact list spilled to a temporary
file. What is kept for the whole import is two arrays of 4 bytes per member in the database (which
identities this file already named, and who manages whom, to refuse loops), never the rows.

Who left: a ``status`` column (active, left, inactive, terminated...) marks people as left or
brings back those an HR import marked; with ``complete``, the file is everyone, and the active
members it does not name (on the platforms and workspaces it names) are marked as left at the
end, from one byte per member noting whom the file named. A file that would mark more than half
of them, or that has rows naming nobody identifiable, marks nobody unless confirmed.
"""

from __future__ import annotations

import io
import json
import tempfile
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any, BinaryIO

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role
from bot.i18n import N_
from bot.services.member_csv import (
    ACTIVE,
    LEFT,
    Key,
    MemberCsv,
    MemberRow,
    RowProblem,
    parse_member_csv,
)
from bot.services.member_leaving import ADMIN, HR, SLACK, chunks, mark_left, mark_returned
from bot.services.members import clean_name
from bot.services.permissions import Acting, require_role
from bot.storage.database import Database
from bot.storage.models import Member, MemberIdentity, Team
from bot.storage.types import utcnow
from bot.storage.upsert import insert_many_returning_ids
from bot.text_safety import unstorable

# Re-exported: the adapters' directory syncs and the tests build and read rows from here.
__all__ = [
    "ImportReport",
    "MemberRow",
    "RowProblem",
    "describe_leaving",
    "import_member_file",
    "import_member_rows",
    "import_members",
    "parse_member_csv",
]

BATCH_ROWS = 2_000
KEPT_PROBLEMS = 1_000  # problems remembered with their line; the rest are counted

# Who marked someone as left, as a warning says it.
MARKED_BY = {ADMIN: "an admin", HR: "an HR import", SLACK: "the Slack directory sync"}


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
    # Who left and who came back (each also counted as updated).
    left: int = 0  # marked as left by their row's status
    returned: int = 0  # marked as left by this source before, and named again as active
    kept_left: int = 0  # named as active, but marked as left by another source: kept so
    former: int = 0  # rows of people who left and were never members: not created
    # With ``complete``: active members the file does not name, and how many were marked.
    absent: int = 0
    absent_left: int = 0
    refused: str = ""  # why the absent were not marked

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged + self.former

    def reject(self, problem: RowProblem) -> None:
        self.rejected_count += 1
        if len(self.rejected) < KEPT_PROBLEMS:
            self.rejected.append(problem)

    def warn(self, problem: RowProblem) -> None:
        self.warning_count += 1
        if len(self.warnings) < KEPT_PROBLEMS:
            self.warnings.append(problem)


def _team_name(team: str) -> str:
    return " ".join(team.split())[:100]


# ----- importing ---------------------------------------------------------------------------------


async def import_member_file(
    db: Database,
    actor: Acting,
    stream: BinaryIO,
    *,
    on_read: Callable[[int], None] | None = None,
    complete: bool = False,
    confirmed: bool = False,
    platforms: Collection[str] | None = None,
) -> ImportReport:
    """Import an HR CSV as a stream, BATCH_ROWS rows per transaction: bad rows are reported
    with their line number, good rows kept. A bad header is refused before anything is stored.
    With ``complete``, the active members the file does not name are then marked as left (see
    ``_Import.refusal`` for when that needs ``confirmed``). A row on a platform not in
    ``platforms`` (by default the installed adapters) is rejected."""
    require_role(actor, (), N_("import members"))
    rows = MemberCsv(stream, on_read=on_read, platforms=platforms)
    with _Import(HR, complete=complete) as run:
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
        if complete:
            async with db.transaction() as session:
                absent = await run.absent_members(session)
            if not run.refusal(confirmed):
                for chunk in chunks(absent):
                    async with db.transaction() as session:
                        run.report.absent_left += await mark_left(session, chunk, HR)
        run.report.encoding = rows.encoding
        return run.report


async def import_members(
    session: AsyncSession,
    actor: Acting,
    text: str,
    *,
    complete: bool = False,
    confirmed: bool = False,
    platforms: Collection[str] | None = None,
) -> ImportReport:
    """Import a small HR CSV held in memory, in the caller's transaction."""
    require_role(actor, (), N_("import members"))
    rows = MemberCsv(io.BytesIO(text.encode("utf-8")), platforms=platforms)
    return await _import_in(session, rows, HR, complete=complete, confirmed=confirmed)


async def import_member_rows(
    session: AsyncSession,
    actor: Acting,
    rows: list[MemberRow],
    problems: list[RowProblem] | None = None,
    *,
    source: str = "directory",
) -> ImportReport:
    """Upsert members (a workspace's directory) and link their managers in the caller's
    transaction, a few queries per thousand rows. Values left None keep what the member
    already has. ``source`` is who marks the rows whose status is LEFT as left, and who can
    bring back only the people it marked itself."""
    require_role(actor, (), N_("import members"))
    report = await _import_in(session, rows, source)
    for problem in problems or ():
        report.reject(problem)
    return report


async def _import_in(
    session: AsyncSession,
    rows: Iterable[MemberRow | RowProblem],
    source: str,
    *,
    complete: bool = False,
    confirmed: bool = False,
) -> ImportReport:
    with _Import(source, complete=complete) as run:
        await run.begin(session)
        for batch in _batches(rows):
            await run.store(session, batch)
        await run.load_hierarchy(session)
        for links in run.links():
            await run.link(session, links)
        if complete:
            absent = await run.absent_members(session)
            if not run.refusal(confirmed):
                run.report.absent_left = await mark_left(session, absent, source)
        session.expire_all()  # members changed by bulk statements
        return run.report


def describe_leaving(report: ImportReport) -> str:
    """Who left and who came back, in a line ('' when nobody did)."""
    parts = []
    if report.left:
        parts.append(f"{report.left} marked as left")
    if report.absent_left:
        parts.append(f"{report.absent_left} not in the file marked as left")
    if report.returned:
        parts.append(f"{report.returned} back")
    if report.kept_left:
        parts.append(f"{report.kept_left} kept as left (marked by an admin or another source)")
    if report.former:
        parts.append(f"{report.former} who left and were never members not added")
    return "; ".join(parts)


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
    (by identity id: the line that named it), and the manager links still to make. With
    ``complete``, also whom the file named, by member id, and where (platform, workspace)."""

    def __init__(self, source: str, *, complete: bool = False) -> None:
        self.source = source
        self.complete = complete
        self.report = ImportReport()
        self.named = array("I")  # identity id -> the line that named it (0: not yet)
        self.managers = array("I")  # member id -> manager id (0: none)
        self.seen = bytearray()  # member id -> 1 when the file named them (with ``complete``)
        self.upto = 0  # members created after the import began are never marked as absent
        self.spaces: set[tuple[str, str]] = set()  # the platforms and workspaces it names
        self.unidentified = 0  # rejected rows whose person could not be read
        self.active = 0  # active members in those spaces, counted by ``absent_members``
        # Closed by __exit__: the import is always run inside ``with``.
        self._spill: IO[bytes] = tempfile.TemporaryFile(prefix="advocacy-managers-")  # noqa: SIM115

    def __enter__(self) -> _Import:
        return self

    def __exit__(self, *_: object) -> None:
        self._spill.close()

    async def begin(self, session: AsyncSession) -> None:
        highest = await session.scalar(select(func.max(MemberIdentity.id)))
        _grow(self.named, int(highest or 0))
        if self.complete:
            self.upto = int(await session.scalar(select(func.max(Member.id))) or 0)
            self.seen = bytearray(self.upto + 1)

    def _saw(self, member_id: int) -> None:
        if member_id < len(self.seen):
            self.seen[member_id] = 1

    async def store(self, session: AsyncSession, batch: list[MemberRow | RowProblem]) -> None:
        """Create or update the batch's members; note their manager links for later."""
        rows: list[MemberRow] = []
        named: list[Key] = []  # people named by rejected rows: still in the file
        for item in batch:
            if isinstance(item, RowProblem):
                self.report.reject(item)
                if item.key is not None:
                    named.append(item.key)
                else:
                    self.unidentified += 1
            elif problem := _unstorable_row(item):
                self.report.reject(problem)
                self.unidentified += 1
            else:
                rows.append(item)
        if self.complete:
            self.spaces.update((key[0], key[1]) for key in (*named, *(r.key for r in rows)))
        known = await _known(session, [*(row.key for row in rows), *named])
        for key in named:
            if key in known:
                self._saw(known[key][1]["id"])
        _grow(self.named, max((identity_id for identity_id, _ in known.values()), default=0))
        teams = await _teams(session, {_team_name(row.team) for row in rows if row.team})
        in_batch: dict[Key, int] = {}
        new_rows: list[MemberRow] = []
        changes: dict[int, dict[str, Any]] = {}
        accepted: list[tuple[MemberRow, str]] = []
        leaving: dict[str, list[int]] = {LEFT: [], ACTIVE: []}
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
                if row.status == LEFT:
                    self.report.former += 1  # nobody to mark: not added only to be gone
                    continue
                new_rows.append(row)
                accepted.append((row, "created"))
                continue
            identity_id, member = found
            self.named[identity_id] = row.line
            self._saw(member["id"])
            changed = _changes(member, row, teams)
            if changed:
                member.update(changed)
                changes[member["id"]] = {name: member[name] for name in _UPDATED}
            moved = self._leaving(member, row)
            if moved:
                leaving[moved].append(member["id"])
            accepted.append((row, "updated" if changed or moved else "unchanged"))
        if changes:
            await session.execute(update(Member), list(changes.values()))
        if leaving[LEFT]:
            self.report.left += await mark_left(session, leaving[LEFT], self.source)
        if leaving[ACTIVE]:
            self.report.returned += await mark_returned(session, leaving[ACTIVE], self.source)
        await self._create(session, new_rows, teams, known)
        for row, outcome in accepted:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            if row.manager:
                link = [known[row.key][1]["id"], *row.key, row.manager, row.line, outcome]
                self._spill.write(json.dumps(link).encode() + b"\n")

    def _leaving(self, member: dict[str, Any], row: MemberRow) -> str | None:
        """LEFT when the row marks an active member as left, ACTIVE when it brings back one
        this source marked; None otherwise (warned when another source's mark is kept)."""
        if row.status == LEFT:
            return LEFT if member["left_at"] is None else None
        if member["left_at"] is None:
            return None
        if member["left_by"] == self.source:
            return ACTIVE
        self.report.kept_left += 1
        by = MARKED_BY.get(member["left_by"], member["left_by"] or "an admin")
        where = f" --workspace {row.workspace}" if row.workspace else ""
        self.report.warn(
            RowProblem(
                row.line,
                f"{row.user_id} was marked as left by {by} on {member['left_at']:%Y-%m-%d}; "
                f"kept so (to bring them back: advocacy members return {row.platform} "
                f"{row.user_id}{where})",
            )
        )
        return None

    async def absent_members(self, session: AsyncSession) -> array[int]:
        """The active members, on the platforms and workspaces the file names, whom it does
        not name; counts them and the active members there in the report."""
        absent = array("I")
        if not self.spaces:
            return absent
        in_spaces = or_(
            *(
                and_(MemberIdentity.platform == platform, MemberIdentity.workspace == workspace)
                for platform, workspace in sorted(self.spaces)
            )
        )
        result = await session.stream(
            select(Member.id)
            .where(
                Member.left_at.is_(None),
                Member.id <= self.upto,
                exists().where(MemberIdentity.member_id == Member.id, in_spaces),
            )
            .execution_options(yield_per=10_000)
        )
        async for (member_id,) in result:
            self.active += 1
            if not self.seen[member_id]:
                absent.append(member_id)
        self.report.absent = len(absent)
        return absent

    def refusal(self, confirmed: bool) -> str:
        """Why the absent members are not marked as left without confirmation: a truncated or
        wrong file must not empty the company. Noted in the report ('' when they may be)."""
        absent = self.report.absent
        if not absent or confirmed:
            return ""
        if self.unidentified:
            self.report.refused = (
                f"{self.unidentified} rejected rows name nobody that could be read, so the file "
                f"cannot say who is missing: none of the {absent} active members not in it was "
                "marked as left. Fix those rows, or run again with --yes."
            )
        elif absent * 2 > self.active:
            self.report.refused = (
                f"{absent} of the {self.active} active members are not in the file, more than "
                "half: nobody was marked as left. If the file really is everyone, run again "
                "with --yes."
            )
        return self.report.refused

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


_UPDATED = ("id", "display_name", "role", "timezone", "team_id")  # what a row can change


async def _known(session: AsyncSession, keys: list[Key]) -> dict[Key, tuple[int, dict[str, Any]]]:
    """The batch's existing members by identity: the identity id and the member's values."""
    spaces: dict[tuple[str, str], set[str]] = {}
    for platform, workspace, user_id in keys:
        spaces.setdefault((platform, workspace), set()).add(user_id)
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
                Member.left_at,
                Member.left_by,
            )
            .join(Member, Member.id == MemberIdentity.member_id)
            .where(
                MemberIdentity.platform == platform,
                MemberIdentity.workspace == workspace,
                MemberIdentity.user_id.in_(user_ids),
            )
        )
        for identity_id, user_id, *values in await session.execute(statement):
            known[(platform, workspace, user_id)] = (
                identity_id,
                dict(zip((*_UPDATED, "left_at", "left_by"), values, strict=True)),
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
