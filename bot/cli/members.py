"""``advocacy members`` and ``advocacy roles``: who the bot serves, and what each may do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import file_progress, print_json, print_table, run_with_app
from bot.compose.text import plural
from bot.domain import DigestKind, Role
from bot.import_files import encoding_note, open_import_file
from bot.services.member_import import ImportReport, describe_leaving, import_member_file
from bot.services.member_leaving import describe_left, leave_member, return_member, team_note
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
        "left_at": member.left_at.date().isoformat() if member.left_at else None,
        "left_by": member.left_by,
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
    """Add a member known on PLATFORM as USER_ID (for example: slack U024BE7LH).

    PLATFORM is one whose adapter is installed: shell, slack or teams."""

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
                platforms=app.registry.platforms,
            )

    member = run_with_app(work)
    click.echo(f"Added member #{member.id} {member.display_name} ({member.role}).")


@members_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--all",
    "with_left",
    is_flag=True,
    help="Also list the members who left, with the day and who marked them "
    "[default: active members only].",
)
def list_command(as_json: bool, with_left: bool) -> None:
    """List members with their role, team, time zone and identities.

    Members who left the company are kept for the history of their ideas and votes but not
    listed, unless --all is given."""

    async def work(app: Application) -> tuple[list[dict[str, Any]], int]:
        async with app.db.transaction() as session:
            everyone = await list_members(session, with_left=True)
            by_id = {m.id: m for m in everyone}  # a manager who left is still named
            shown = [m for m in everyone if with_left or m.left_at is None]
            return [member_record(m, by_id) for m in shown], len(everyone) - len(shown)

    records, hidden = run_with_app(work)
    if as_json:
        print_json(records)
        return
    columns = ["#", "Name", "Role", "Team", "Manager", "Time zone", "Identities"]
    title = plural(len(records), "member")
    if hidden:
        title += f" ({hidden} who left not shown; --all shows them)"
    print_table(
        title,
        [*columns, "Left"] if with_left else columns,
        [
            [
                r["id"],
                r["name"],
                r["role"],
                r["team"] or "",
                r["manager"] or "",
                r["timezone"],
                ", ".join(r["identities"]),
                *([_left_cell(r)] if with_left else []),
            ]
            for r in records
        ],
        empty="No members yet. Add one with: advocacy members add PLATFORM USER_ID, "
        "or import an HR file with: advocacy members import FILE",
    )


def _left_cell(record: dict[str, Any]) -> str:
    return f"{record['left_at']} ({record['left_by']})" if record["left_at"] else ""


@members_group.command("leave")
@click.argument("platform")
@click.argument("user_id")
@click.option("--workspace", default="", help=WORKSPACE_HELP)
def leave(platform: str, user_id: str, workspace: str) -> None:
    """Mark the member PLATFORM USER_ID as having left the company.

    They stop counting among their team's active members (with fewer than 5, the team's
    anonymous ideas are shown a level up), get no more digests or rollups, are not listed, and
    their console sessions end. Their ideas, votes and feedback stay as they were. They are
    active again if they write to the bot, or with: advocacy members return PLATFORM USER_ID
    """

    async def work(app: Application) -> tuple[Member, str]:
        async with app.db.transaction() as session:
            member = await leave_member(
                session, OPERATOR, platform, user_id, workspace=workspace.strip()
            )
            return member, await team_note(session, member)

    member, note = run_with_app(work)
    click.echo(f"{member.display_name} {describe_left(member)}. {note}".strip())


@members_group.command("return")
@click.argument("platform")
@click.argument("user_id")
@click.option("--workspace", default="", help=WORKSPACE_HELP)
def return_command(platform: str, user_id: str, workspace: str) -> None:
    """Make PLATFORM USER_ID, who had left, an active member again (whoever marked them as
    left: an admin, the HR import or a directory sync). Their role, team and manager are as
    they were."""

    async def work(app: Application) -> tuple[Member, str]:
        async with app.db.transaction() as session:
            member = await return_member(
                session, OPERATOR, platform, user_id, workspace=workspace.strip()
            )
            return member, await team_note(session, member)

    member, note = run_with_app(work)
    click.echo(f"{member.display_name} is an active member again. {note}".strip())


@members_group.command("import")
# A missing file is a one-line error with exit status 1 (click's exists=True would be status 2).
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--complete",
    is_flag=True,
    help="The file is everyone: active members it does not name, on the platforms and "
    "workspaces it names, are marked as left.",
)
@click.option(
    "--yes",
    "confirmed",
    is_flag=True,
    help="With --complete: mark them even if that is more than half of the active members, "
    "or some rows could not be read.",
)
def import_command(file: Path, as_json: bool, complete: bool, confirmed: bool) -> None:
    """Import members from an HR CSV (platform,user_id,name,team,manager,role,timezone,status).

    Teams and the manager hierarchy used by rollups come from here. Bad rows (a NUL byte, a row
    over 1 MiB...) are reported with their line number and skipped; good rows are kept.
    Importing the same file again changes nothing. The file is read as a stream and stored 2,000
    rows at a time, so any size fits in memory. An empty cell keeps what the member has.

    Who left: a status of left, inactive, terminated, resigned, retired, former... marks the
    member as left (active, employed, current: active). A row that does not say left brings
    back a member an HR import had marked as left; one an admin or the Slack sync marked stays
    left (warned). With --complete, whoever is not in the file has left; if that would be more
    than half of the active members (a cut-short file?), nobody is marked unless --yes.

    Exit status: 0 all rows kept, 2 some rejected, 1 none imported or --complete refused.
    """

    async def work(app: Application) -> ImportReport:
        progress = file_progress(quiet=as_json)
        with open_import_file(file) as stream, progress:
            task = progress.add_task("Importing", total=file.stat().st_size)
            return await import_member_file(
                app.db,
                OPERATOR,
                stream,
                on_read=lambda done: progress.update(task, completed=done),
                complete=complete,
                confirmed=confirmed,
                platforms=app.registry.platforms,
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
                "left": report.left,
                "returned": report.returned,
                "kept_left": report.kept_left,
                "former": report.former,
                **(
                    {
                        "absent": report.absent,
                        "absent_left": report.absent_left,
                        "refused": report.refused or None,
                    }
                    if complete
                    else {}
                ),
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
        if note := encoding_note(report.encoding):
            click.echo(note, err=True)
        click.echo(
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.rejected_count} rejected."
        )
        if leaving := describe_leaving(report):
            click.echo(f"Left and back: {leaving}.")
        if complete and not report.absent:
            click.echo("Everyone active on the platforms the file names is in it.")
        if report.refused:
            click.echo(f"Error: {report.refused}", err=True)
    if not report.accepted and not report.rejected_count:
        click.echo(f"{file} has a header but no rows: nothing was imported.", err=True)
        raise SystemExit(1)
    if report.refused:
        raise SystemExit(1)
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
