"""Import members from an HR CSV: teams and the manager hierarchy that rollups use come from here.

Each row is validated on its own: a bad row is reported with its line number and the good rows
are kept. Re-importing the same file changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role, parse_enum
from bot.errors import DomainError, InvalidInput
from bot.services.members import (
    clean_name,
    validate_platform,
    validate_timezone,
    validate_user_id,
)
from bot.services.permissions import Acting, require_role
from bot.storage.models import Member, MemberIdentity, Team
from bot.storage.types import utcnow
from bot.storage.upsert import insert_many_returning_ids

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


@dataclass
class RowProblem:
    line: int
    message: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged


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


def _canonical(header: str) -> str:
    key = header.strip().lower().replace(" ", "_").replace("-", "_")
    return COLUMN_ALIASES.get(key, key)


def parse_member_csv(text: str) -> tuple[list[MemberRow], list[RowProblem]]:
    """Parse and validate rows; pure, so it can be tested without a database."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(
            "The file is empty; expected a header line such as "
            "platform,user_id,name,team,manager,role,timezone."
        ) from None
    columns = [_canonical(name) for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise InvalidInput(
            f"The header lacks {', '.join(missing)}; expected columns "
            "platform,user_id,name,team,manager,role,timezone."
        )
    rows: list[MemberRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str, str], int] = {}
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(columns):
            problems.append(
                RowProblem(line, f"{len(values)} fields, the header has {len(columns)}")
            )
            continue
        record = {columns[i]: values[i].strip() for i in range(len(values))}
        try:
            row = MemberRow(
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
            problems.append(RowProblem(line, error.message))
            continue
        key = (row.platform, row.workspace, row.user_id)
        if key in seen:
            problems.append(RowProblem(line, f"{row.user_id} already appears on line {seen[key]}"))
            continue
        seen[key] = line
        rows.append(row)
    return rows, problems


async def import_members(session: AsyncSession, actor: Acting, text: str) -> ImportReport:
    """Import an HR CSV: bad rows are reported with their line number, good rows kept."""
    rows, problems = parse_member_csv(text)
    return await import_member_rows(session, actor, rows, problems)


async def import_member_rows(
    session: AsyncSession,
    actor: Acting,
    rows: list[MemberRow],
    problems: list[RowProblem] | None = None,
) -> ImportReport:
    """Upsert members and link their managers in a handful of queries, so tens of thousands of
    rows (an HR file, a workspace's directory) import in seconds. Values left None keep what the
    member already has."""
    require_role(actor, (), "import members")
    report = ImportReport(rejected=list(problems or ()))
    known = await _known_members(session, {(row.platform, row.workspace) for row in rows})
    teams = await _teams(session, {" ".join(row.team.split())[:100] for row in rows if row.team})
    outcomes: dict[tuple[str, str, str], str] = {}
    ids: dict[tuple[str, str, str], int] = {key: member.id for key, member in known.items()}
    new_rows = []
    for row in rows:
        key = (row.platform, row.workspace, row.user_id)
        team_id = teams[" ".join(row.team.split())[:100]] if row.team else None
        member = known.get(key)
        if member is None:
            new_rows.append((row, team_id))
            outcomes[key] = "created"
        else:
            outcomes[key] = "updated" if _update(member, row, team_id) else "unchanged"
    await session.flush()
    if new_rows:
        now = utcnow()
        created = await insert_many_returning_ids(
            session,
            Member,
            [
                {
                    "display_name": clean_name(row.name, row.user_id),
                    "role": row.role or Role.EMPLOYEE,
                    "timezone": row.timezone or "UTC",
                    "team_id": team_id,
                    "manager_id": None,
                    "created_at": now,
                }
                for row, team_id in new_rows
            ],
        )
        for (row, _), member_id in zip(new_rows, created, strict=True):
            ids[(row.platform, row.workspace, row.user_id)] = member_id
        await session.execute(
            insert(MemberIdentity),
            [
                {
                    "member_id": ids[(row.platform, row.workspace, row.user_id)],
                    "platform": row.platform,
                    "workspace": row.workspace,
                    "user_id": row.user_id,
                    "created_at": now,
                }
                for row, _ in new_rows
            ],
        )

    managers: dict[int, int | None] = {
        member_id: manager_id
        for member_id, manager_id in await session.execute(select(Member.id, Member.manager_id))
    }
    links = []
    for row in rows:
        if row.manager is None:
            continue
        key = (row.platform, row.workspace, row.user_id)
        member_id = ids[key]
        manager_id = ids.get((row.platform, row.workspace, row.manager))
        if manager_id is None:
            report.warnings.append(
                RowProblem(row.line, f"manager '{row.manager}' is not a member; left without one")
            )
        elif _reports_to(managers, manager_id, member_id):
            report.warnings.append(
                RowProblem(
                    row.line,
                    f"manager '{row.manager}' reports to {row.user_id}; "
                    "left without a manager to avoid a loop",
                )
            )
        elif managers.get(member_id) != manager_id:
            managers[member_id] = manager_id
            links.append({"id": member_id, "manager_id": manager_id})
            if outcomes[key] == "unchanged":
                outcomes[key] = "updated"
    if links:
        await session.execute(update(Member), links)
        session.expire_all()
    report.created = sum(1 for outcome in outcomes.values() if outcome == "created")
    report.updated = sum(1 for outcome in outcomes.values() if outcome == "updated")
    report.unchanged = sum(1 for outcome in outcomes.values() if outcome == "unchanged")
    return report


async def _known_members(
    session: AsyncSession, spaces: set[tuple[str, str]]
) -> dict[tuple[str, str, str], Member]:
    """Existing members of the file's platforms and workspaces, by identity."""
    known: dict[tuple[str, str, str], Member] = {}
    for platform, workspace in spaces:
        statement = (
            select(MemberIdentity.user_id, Member)
            .join(Member, Member.id == MemberIdentity.member_id)
            .where(MemberIdentity.platform == platform, MemberIdentity.workspace == workspace)
        )
        for user_id, member in await session.execute(statement):
            known[(platform, workspace, user_id)] = member
    return known


def _update(member: Member, row: MemberRow, team_id: int | None) -> bool:
    changed = False
    values = {
        "display_name": clean_name(row.name, member.display_name) if row.name else None,
        "role": row.role,
        "timezone": row.timezone,
    }
    for attribute, value in values.items():
        if value is not None and getattr(member, attribute) != value:
            setattr(member, attribute, value)
            changed = True
    if team_id is not None and member.team_id != team_id:
        member.team_id = team_id
        changed = True
    return changed


async def _teams(session: AsyncSession, names: set[str]) -> dict[str, int]:
    """Team ids by name, creating the teams the file names for the first time."""
    teams = {name: team_id for name, team_id in await session.execute(select(Team.name, Team.id))}
    missing = sorted(names - set(teams))
    if missing:
        now = utcnow()
        created = await insert_many_returning_ids(
            session, Team, [{"name": name, "created_at": now} for name in missing]
        )
        teams.update(zip(missing, created, strict=True))
    return teams


def _reports_to(managers: dict[int, int | None], start: int, target: int) -> bool:
    """True when ``target`` is ``start`` or above it in the hierarchy (a link would loop)."""
    seen: set[int] = set()
    current: int | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = managers.get(current)
    return False
