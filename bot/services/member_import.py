"""Import members from an HR CSV: teams and the manager hierarchy that rollups use come from here.

Each row is validated on its own: a bad row is reported with its line number and the good rows
are kept. Re-importing the same file changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Role, parse_enum
from bot.errors import DomainError, InvalidInput
from bot.services.members import (
    clean_name,
    ensure_team,
    find_member,
    validate_platform,
    validate_timezone,
    validate_user_id,
)
from bot.services.permissions import Acting, require_role
from bot.storage.models import Member, MemberIdentity

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
class _Row:
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


def parse_member_csv(text: str) -> tuple[list[_Row], list[RowProblem]]:
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
    rows: list[_Row] = []
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
            row = _Row(
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
    require_role(actor, (), "import members")
    rows, problems = parse_member_csv(text)
    report = ImportReport(rejected=problems)
    members: dict[tuple[str, str, str], Member] = {}
    outcomes: dict[tuple[str, str, str], str] = {}
    for row in rows:
        key = (row.platform, row.workspace, row.user_id)
        members[key], outcomes[key] = await _upsert(session, row)
    await session.flush()
    for row in rows:
        if row.manager is None:
            continue
        member = members[(row.platform, row.workspace, row.user_id)]
        manager = members.get((row.platform, row.workspace, row.manager)) or await find_member(
            session, row.platform, row.manager, row.workspace
        )
        if manager is None:
            report.warnings.append(
                RowProblem(row.line, f"manager '{row.manager}' is not a member; left without one")
            )
        elif await _would_cycle(session, member, manager):
            report.warnings.append(
                RowProblem(
                    row.line,
                    f"manager '{row.manager}' reports to {row.user_id}; "
                    "left without a manager to avoid a loop",
                )
            )
        elif member.manager_id != manager.id:
            member.manager_id = manager.id
            await session.flush()
            key = (row.platform, row.workspace, row.user_id)
            if outcomes[key] == "unchanged":
                outcomes[key] = "updated"
    report.created = sum(1 for outcome in outcomes.values() if outcome == "created")
    report.updated = sum(1 for outcome in outcomes.values() if outcome == "updated")
    report.unchanged = sum(1 for outcome in outcomes.values() if outcome == "unchanged")
    return report


async def _upsert(session: AsyncSession, row: _Row) -> tuple[Member, str]:
    member = await find_member(session, row.platform, row.user_id, row.workspace)
    team = await ensure_team(session, row.team) if row.team else None
    if member is None:
        member = Member(
            display_name=clean_name(row.name, row.user_id),
            role=row.role or Role.EMPLOYEE,
            timezone=row.timezone or "UTC",
            team_id=team.id if team else None,
        )
        member.identities.append(
            MemberIdentity(platform=row.platform, workspace=row.workspace, user_id=row.user_id)
        )
        session.add(member)
        await session.flush()
        return member, "created"
    changes = {
        "display_name": clean_name(row.name, member.display_name) if row.name else None,
        "role": row.role,
        "timezone": row.timezone,
        "team_id": team.id if team else None,
    }
    changed = False
    for attribute, value in changes.items():
        if value is not None and getattr(member, attribute) != value:
            setattr(member, attribute, value)
            changed = True
    return member, "updated" if changed else "unchanged"


async def _would_cycle(session: AsyncSession, member: Member, manager: Member) -> bool:
    """True when ``member`` is already above ``manager`` in the hierarchy."""
    seen: set[int] = set()
    current: Member | None = manager
    while current is not None and current.id not in seen:
        if current.id == member.id:
            return True
        seen.add(current.id)
        current = await session.get(Member, current.manager_id) if current.manager_id else None
    return False
