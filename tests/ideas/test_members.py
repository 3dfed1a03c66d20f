"""Members, roles and the HR import."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.domain import Role
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.services.member_import import import_members, parse_member_csv
from bot.services.members import (
    add_member,
    get_member,
    grant_role,
    managed_team_ids,
    resolve_actor,
)
from bot.services.permissions import OPERATOR
from bot.storage.models import Member, MemberIdentity, Team
from tests.conftest import actor, make_member

HR_FILE = """platform,user_id,name,team,manager,role,timezone
slack,U1,Maria Lopez,Leadership,,manager,Europe/Madrid
slack,U2,Mike Chen,Support,U1,manager,Europe/London
slack,U3,Alice Martin,Support,U2,employee,Europe/Paris
slack,,No Id,Support,U2,employee,UTC
slack,U4,Bad Zone,Support,U2,employee,Mars/Olympus
slack,U5,Bad Role,Support,U2,wizard,UTC
slack,U3,Alice Again,Support,U2,employee,UTC
slack,U6,Priya Singh,Product,U9,employee,Asia/Kolkata
"""


async def count(app: Application, model: type) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_first_contact_creates_an_employee_once(app: Application) -> None:
    async with app.db.transaction() as session:
        first = await resolve_actor(session, actor("U42"))
        second = await resolve_actor(session, actor("U42"))
    assert first.id == second.id
    assert first.role == Role.EMPLOYEE
    assert await count(app, Member) == 1


async def test_bad_member_input_gets_one_actionable_line_and_writes_nothing(
    app: Application,
) -> None:
    cases = [
        ({"timezone": "Mars/Olympus"}, InvalidInput, "IANA"),
        ({"role": "wizard"}, InvalidInput, "employee, strategist, manager, admin"),
        ({"manager_user_id": "nobody"}, NotFound, "advocacy members add"),
    ]
    for kwargs, error, hint in cases:
        with pytest.raises(error) as raised:
            async with app.db.transaction() as session:
                await add_member(session, OPERATOR, "slack", "U1", team="New team", **kwargs)
        assert hint in raised.value.message
        assert "\n" not in raised.value.message
    assert await count(app, Member) == 0
    assert await count(app, Team) == 0


async def test_a_member_cannot_be_added_twice(app: Application) -> None:
    await make_member(app, "u1")
    with pytest.raises(Conflict):
        await make_member(app, "u1")


async def test_only_admins_manage_members_and_roles(app: Application) -> None:
    manager = await make_member(app, "boss", role=Role.MANAGER)
    async with app.db.transaction() as session:
        with pytest.raises(PermissionDenied) as raised:
            await add_member(session, manager, "remote", "newbie")
        assert "roles grant" in raised.value.message
        with pytest.raises(PermissionDenied):
            await grant_role(session, manager, "remote", "boss", "admin")


def test_hr_rows_are_validated_one_by_one_with_line_numbers() -> None:
    rows, problems = parse_member_csv(HR_FILE)
    assert [row.user_id for row in rows] == ["U1", "U2", "U3", "U6"]
    lines = {problem.line: problem.message for problem in problems}
    assert set(lines) == {5, 6, 7, 8}
    assert "Mars/Olympus" in lines[6]
    assert "wizard" in lines[7]
    assert "line 4" in lines[8]


def test_a_file_without_the_required_columns_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_member_csv("name,team\nAlice,Support\n")
    assert "platform" in raised.value.message and "user_id" in raised.value.message


async def test_hr_import_keeps_good_rows_builds_the_hierarchy_and_is_idempotent(
    app: Application,
) -> None:
    async with app.db.transaction() as session:
        report = await import_members(session, OPERATOR, HR_FILE)
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    assert len(report.rejected) == 4
    assert [w.line for w in report.warnings] == [9]  # U9 is no member
    async with app.db.transaction() as session:
        maria = await get_member(session, "slack", "U1")
        mike = await get_member(session, "slack", "U2")
        alice = await get_member(session, "slack", "U3")
        assert alice.manager_id == mike.id and mike.manager_id == maria.id
        assert alice.timezone == "Europe/Paris" and alice.team and alice.team.name == "Support"
        teams = {t.name for t in await session.scalars(select(Team))}
        assert await managed_team_ids(session, maria) == {
            t.id for t in await session.scalars(select(Team)) if t.name in ("Leadership", "Support")
        }
        assert "Product" in teams
    async with app.db.transaction() as session:
        again = await import_members(session, OPERATOR, HR_FILE)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


async def test_hr_import_refuses_a_management_loop(app: Application) -> None:
    text = "platform,user_id,name,manager\nslack,A,Ann,B\nslack,B,Ben,A\n"
    async with app.db.transaction() as session:
        report = await import_members(session, OPERATOR, text)
    assert report.created == 2
    assert len(report.warnings) == 1 and "loop" in report.warnings[0].message


async def test_a_large_hr_file_maps_every_identity_name_team_and_manager(app: Application) -> None:
    await make_member(app, "existing", platform="slack")  # ids do not start at 1
    lines = ["platform,user_id,name,team,manager,role,timezone"]
    lines += [
        f"slack,U{i},Person {i},Team {i % 7},{'U' + str(i // 3) if i else ''},employee,UTC"
        for i in range(1500)
    ]
    async with app.db.transaction() as session:
        report = await import_members(session, OPERATOR, "\n".join(lines))
    assert report.created == 1500 and not report.rejected and not report.warnings
    async with app.db.transaction() as session:
        rows = await session.execute(
            select(
                MemberIdentity.user_id, Member.id, Member.display_name, Member.manager_id, Team.name
            )
            .join(Member, Member.id == MemberIdentity.member_id)
            .join(Team, Team.id == Member.team_id)
        )
        by_user = {
            user: (member_id, name, manager, team) for user, member_id, name, manager, team in rows
        }
    for i in (0, 1, 2, 3, 777, 1499):
        _, name, manager_id, team = by_user[f"U{i}"]
        assert (name, team) == (f"Person {i}", f"Team {i % 7}")
        expected_manager = by_user[f"U{i // 3}"][0] if i else None
        assert manager_id == expected_manager
