"""Commands the Teams adapter adds: ``members sync teams`` and ``teams package``."""

from __future__ import annotations

from pathlib import Path

import click

from adapters.teams.config import TeamsConfig
from adapters.teams.deferred import loaded
from adapters.teams.package import build_package
from bot.platform.cli import (
    AdapterRun,
    cli_settings,
    fail_on_domain_error,
    print_json,
    run_with_adapter,
)
from bot.platform.support import InvalidInput, plural


@click.command("teams")
@click.option("--team", "team_id", help="Only this team (its id) [default: every team].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync_teams(team_id: str | None, as_json: bool) -> None:
    """Read the roster of each team the app is installed in, import the members, and open a
    1:1 chat with each, so digests reach people who never wrote to the bot."""

    async def work(run: AdapterRun) -> list[tuple[str, int]]:
        # Imported here: every `advocacy` command (serve too) registers this module's commands.
        from adapters.teams.adapter import TeamsAdapter

        adapter = loaded(run.adapter)
        if not isinstance(adapter, TeamsAdapter):
            raise InvalidInput("The Teams adapter is not enabled here.")
        teams = [key for key, _ in await adapter.conversations.teams()]
        if team_id:
            teams = [key for key in teams if key == team_id]
        if not teams:
            raise InvalidInput(
                "The app is not installed in any team yet: add it to a team in "
                "Teams first (see the README's Teams section)."
            )
        return [(team, await adapter.sync_team(team)) for team in teams]

    results = run_with_adapter("teams", work)
    if as_json:
        print_json([{"team": team, "members": count} for team, count in results])
        return
    for team, count in results:
        click.echo(
            f"Team {team}: {plural(count, 'member')} read; each can now be reached in a 1:1 chat."
        )


@click.group("teams")
def teams_group() -> None:
    """Microsoft Teams app set-up."""


@teams_group.command("package")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("advocacy-teams.zip"),
    show_default=True,
)
@click.option("--name", default="Advocacy", show_default=True, help="The app's name in Teams.")
@click.option(
    "--privacy-url",
    help="Your organisation's privacy page [default: the bot's own, PUBLIC_URL/privacy].",
)
@click.option(
    "--terms-url",
    help="Your organisation's terms of use [default: the bot's own, PUBLIC_URL/terms].",
)
def package(output: Path, name: str, privacy_url: str | None, terms_url: str | None) -> None:
    """Build the Teams app package (manifest.json and icons) to upload in Teams, and print
    what an admin does in Azure and Teams to connect the bot.

    Its privacy and terms links go to short pages the bot serves (PUBLIC_URL/privacy and
    PUBLIC_URL/terms), or to your organisation's own with --privacy-url and --terms-url."""
    settings = cli_settings()
    with fail_on_domain_error():
        app_id = (settings.env.get("MICROSOFT_APP_ID") or "").strip()
        if not app_id:
            raise InvalidInput(
                "Set MICROSOFT_APP_ID first: the bot's app id (a single-tenant Azure Bot's "
                "Microsoft App ID, or the client id of its user-assigned managed identity)."
            )
        output.write_bytes(
            build_package(
                app_id,
                settings.public_url,
                name=name,
                privacy_url=privacy_url,
                terms_url=terms_url,
            )
        )
    try:  # the package needs only the app id; the bot needs the rest to start
        TeamsConfig.from_env(settings.env, settings.public_url)
        problem = None
    except ValueError as error:
        problem = str(error)
    click.echo(f"Wrote {output}.")
    click.echo(admin_steps(settings.public_url.rstrip("/"), output, problem))


def admin_steps(public_url: str, output: Path, problem: str | None) -> str:
    """What an admin does today to connect the bot to Teams (the README walks the same)."""
    steps = [
        "To connect the bot to Microsoft Teams:",
        "1. Azure portal → Create a resource → Azure Bot. Type of App: Single Tenant (new "
        "multi-tenant bots are no longer created since 31 July 2025) or User-Assigned Managed "
        "Identity. Then set, where the bot runs:",
        "   - Single Tenant: MICROSOFT_APP_ID (Settings → Configuration → Microsoft App ID), "
        "MICROSOFT_APP_TENANT_ID (App Tenant ID, same page), MICROSOFT_APP_PASSWORD (a client "
        "secret: 'Manage Password' → New client secret); MICROSOFT_APP_TYPE=SingleTenant is the "
        "default.",
        "   - Managed identity: MICROSOFT_APP_TYPE=UserAssignedMSI, MICROSOFT_APP_ID = the "
        "identity's client id, MICROSOFT_APP_TENANT_ID, no password (the bot must run on Azure "
        "with that identity assigned).",
        "   - A bot registered as multi-tenant before then: MICROSOFT_APP_TYPE=MultiTenant, "
        "MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD.",
        f"2. Azure Bot → Settings → Configuration → Messaging endpoint: {public_url}/api/messages",
        "3. Azure Bot → Channels → Microsoft Teams → accept the terms → Apply.",
        f"4. Upload {output}: Teams admin center → Teams apps → Manage apps → Upload new app (for "
        "everyone; a setup policy can pin it), or Teams Developer Portal → Apps → Import app, "
        "or, where custom apps are allowed, Teams → Apps → Manage your apps → Upload an app.",
        "5. Add the app to a team (the bot reads its roster and opens a chat with each member) "
        "or open it in a personal chat; each member gets a home card there (type home for a "
        "fresh one), and the Console tab opens the console.",
    ]
    if problem:
        steps.append(f"Before the bot can start: {problem}")
    return "\n".join(steps)


def register(root: click.Group) -> None:
    members = root.commands.get("members")
    if isinstance(members, click.Group) and isinstance(members.commands.get("sync"), click.Group):
        members.commands["sync"].add_command(sync_teams)  # type: ignore[union-attr]
    root.add_command(teams_group)
