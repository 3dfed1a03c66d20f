"""``advocacy members`` and ``advocacy roles``: who the bot serves, and what each may do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import file_progress, print_json, print_table, run_with_app
from bot.domain import DigestKind, Role
from bot.services.member_import import ImportReport, import_member_file
from bot.services.members import (
    add_member,
    describe_identity,
    get_member,
    grant_role,
    list_members,
)
from bot.services.permissions import OPERATOR
from bot.services.preferences import (
    CADENCES,
    PreferenceChange,
    apply_preferences,
    describe_preferences,
)
from bot.storage.models import Member

ROLES = click.Choice([role.value for role in Role], case_sensitive=False)
DIGEST_KINDS = click.Choice([kind.value for kind in DigestKind], case_sensitive=False)
WORKSPACE_HELP = (
    "Where the user id lives: the Teams tenant id, or the Slack team id when several Slack "
    "workspaces installed the app [default: none]."
)


@click.group("members")
def members_group() -> None:
    """Members: employees, with one identity per chat platform."""


def member_record(member: Member, managers: dict[int, Member]) -> dict[str, Any]:
    manager = managers.get(member.manager_id) if member.manager_id else None
    return {
        "id": member.id,
        "name": member.display_name,
        "role": member.role,
        "team": member.team.name if member.team else None,
        "timezone": member.timezone,
        "manager": manager.display_name if manager else None,
        "identities": [
            describe_identity(i.platform, i.user_id, i.workspace) for i in member.identities
        ],
    }


@members_group.command("add")
@click.argument("platform")
@click.argument("user_id")
@click.option("--name", help="Display name [default: the user id].")
@click.option("--team", help="Team name; created if new.")
@click.option("--role", type=ROLES, default="employee", show_default=True)
@click.option("--tz", "timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--manager", "manager_user_id", help="The manager's user id on the same platform.")
@click.option("--workspace", default="", help=WORKSPACE_HELP)
def add(
    platform: str,
    user_id: str,
    name: str | None,
    team: str | None,
    role: str,
    timezone: str,
    manager_user_id: str | None,
    workspace: str,
) -> None:
    """Add a member known on PLATFORM as USER_ID (for example: slack U024BE7LH)."""

    async def work(app: Application) -> Member:
        async with app.db.transaction() as session:
            return await add_member(
                session,
                OPERATOR,
                platform,
                user_id,
                name=name,
                team=team,
                role=role,
                timezone=timezone,
                manager_user_id=manager_user_id,
                workspace=workspace.strip(),
            )

    member = run_with_app(work)
    click.echo(f"Added member #{member.id} {member.display_name} ({member.role}).")


@members_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List members with their role, team, time zone and identities."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            found = await list_members(session)
            by_id = {m.id: m for m in found}
            return [member_record(m, by_id) for m in found]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        f"{len(records)} members",
        ["#", "Name", "Role", "Team", "Manager", "Time zone", "Identities"],
        [
            [
                r["id"],
                r["name"],
                r["role"],
                r["team"] or "",
                r["manager"] or "",
                r["timezone"],
                ", ".join(r["identities"]),
            ]
            for r in records
        ],
        empty="No members yet. Add one with: advocacy members add PLATFORM USER_ID, "
        "or import an HR file with: advocacy members import FILE",
    )


@members_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_command(file: Path, as_json: bool) -> None:
    """Import members from an HR CSV (platform,user_id,name,team,manager,role,timezone).

    Teams and the manager hierarchy used by rollups come from here. Bad rows (a NUL byte, a row
    over 1 MiB...) are reported with their line number and skipped; good rows are kept.
    Importing the same file again changes nothing. The file is read as a stream and stored 2,000
    rows at a time, so any size fits in memory. Exit status: 0 all rows kept, 2 some rejected, 1
    none imported.
    """

    async def work(app: Application) -> ImportReport:
        progress = file_progress(quiet=as_json)
        with file.open("rb") as stream, progress:
            task = progress.add_task("Importing", total=file.stat().st_size)
            return await import_member_file(
                app.db,
                OPERATOR,
                stream,
                on_read=lambda done: progress.update(task, completed=done),
            )

    report = run_with_app(work)
    if as_json:
        print_json(
            {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                # The first 1,000 of each, with their line; the counts cover them all.
                "rejected": [{"line": p.line, "error": p.message} for p in report.rejected],
                "warnings": [{"line": p.line, "warning": p.message} for p in report.warnings],
                "rejected_count": report.rejected_count,
                "warning_count": report.warning_count,
            }
        )
    else:
        for problem in report.rejected:
            click.echo(f"{file}:{problem.line}: rejected: {problem.message}", err=True)
        for problem in report.warnings:
            click.echo(f"{file}:{problem.line}: warning: {problem.message}", err=True)
        if report.rejected_count > len(report.rejected):
            click.echo(
                f"… and {report.rejected_count - len(report.rejected):,} more rejected rows.",
                err=True,
            )
        if report.encoding != "utf-8":
            click.echo(f"(read as {report.encoding}: the file is not UTF-8)", err=True)
        click.echo(
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.rejected_count} rejected."
        )
    if report.rejected_count:
        raise SystemExit(2 if report.accepted else 1)


@members_group.group("sync")
def sync_group() -> None:
    """Import every member of a chat platform's directory (each platform adds its command)."""


@click.group("roles")
def roles_group() -> None:
    """Roles: employee, strategist (curates, schedules), manager (rollups, answers), admin."""


@roles_group.command("grant")
@click.argument("platform")
@click.argument("user_id")
@click.argument("role", type=ROLES)
@click.option("--workspace", default="", help=WORKSPACE_HELP)
def grant(platform: str, user_id: str, role: str, workspace: str) -> None:
    """Give the member PLATFORM USER_ID the role ROLE."""

    async def work(app: Application) -> Member:
        async with app.db.transaction() as session:
            return await grant_role(
                session, OPERATOR, platform, user_id, role, workspace=workspace.strip()
            )

    member = run_with_app(work)
    click.echo(f"{member.display_name} is now {member.role}.")


@members_group.command("prefs")
@click.argument("platform")
@click.argument("user_id")
@click.option("--workspace", default="", help=WORKSPACE_HELP)
@click.option(
    "--mute", multiple=True, type=DIGEST_KINDS, help="Stop sending this digest kind (repeatable)."
)
@click.option("--unmute", multiple=True, type=DIGEST_KINDS, help="Send this digest kind again.")
@click.option(
    "--cadence",
    type=click.Choice(CADENCES),
    help="daily: every digest as scheduled; weekly: at most one a week per digest, covering it.",
)
@click.option("--quiet", help="Quiet hours in the member's time zone, e.g. 22:00-07:00; 'off'.")
def prefs(
    platform: str,
    user_id: str,
    workspace: str,
    mute: tuple[str, ...],
    unmute: tuple[str, ...],
    cadence: str | None,
    quiet: str | None,
) -> None:
    """Show or change what PLATFORM USER_ID receives (members do it themselves with /prefs)."""
    change = PreferenceChange(
        mute=mute,
        unmute=unmute,
        cadence=cadence,
        quiet_hours=None if quiet is None else ("" if quiet.lower() == "off" else quiet),
    )

    async def work(app: Application) -> tuple[str, list[tuple[str, str]]]:
        async with app.db.transaction() as session:
            member = await get_member(session, platform, user_id, workspace.strip())
            await apply_preferences(session, member, change)
            return member.display_name, describe_preferences(member)

    name, described = run_with_app(work)
    print_table(f"What {name} receives", ["Preference", "Value"], described, empty="")


def register(root: click.Group) -> None:
    root.add_command(members_group)
    root.add_command(roles_group)
