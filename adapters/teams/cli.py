"""Commands the Teams adapter adds: ``members sync teams`` and ``teams package``."""

from __future__ import annotations

from pathlib import Path

import click

from adapters.teams.adapter import TeamsAdapter
from adapters.teams.config import TeamsConfig
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
        adapter = run.adapter
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
    """Build the Teams app package (manifest.json and icons) to sideload or publish.

    Its privacy and terms links go to short pages the bot serves (PUBLIC_URL/privacy and
    PUBLIC_URL/terms), or to your organisation's own with --privacy-url and --terms-url."""
    settings = cli_settings()
    with fail_on_domain_error():
        config = TeamsConfig.from_env(settings.env, settings.public_url)
        if not config.app_id:
            raise InvalidInput("Set MICROSOFT_APP_ID (the bot's Azure app id) first.")
        output.write_bytes(
            build_package(
                config.app_id,
                settings.public_url,
                name=name,
                privacy_url=privacy_url,
                terms_url=terms_url,
            )
        )
    click.echo(f"Wrote {output}: upload it in Teams (Apps → Manage your apps → Upload an app).")


def register(root: click.Group) -> None:
    members = root.commands.get("members")
    if isinstance(members, click.Group) and isinstance(members.commands.get("sync"), click.Group):
        members.commands["sync"].add_command(sync_teams)  # type: ignore[union-attr]
    root.add_command(teams_group)
