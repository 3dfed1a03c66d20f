"""Commands the Slack adapter adds: ``members sync slack`` and ``slack manifest``."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

from adapters.slack.config import SlackConfig
from bot.platform.cli import AdapterRun, cli_settings, print_json, run_with_adapter
from bot.platform.members import describe_leaving
from bot.platform.support import InvalidInput, plural

if TYPE_CHECKING:  # slack_sdk is imported when Slack is used, not by every advocacy command
    from adapters.slack.directory import SyncReport

MANIFEST = Path(__file__).with_name("manifest.yaml")


@click.command("slack")
@click.option("--workspace", help="With OAuth installs: the team id to sync [default: all].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync_slack(workspace: str | None, as_json: bool) -> None:
    """Import every human member of the Slack workspace (bots, deleted and guest accounts are
    left out). Names and time zones are refreshed; teams and managers from HR are kept. Members
    whose account was deactivated are marked as left (and back when it is reactivated)."""

    async def work(run: AdapterRun) -> list[tuple[str, SyncReport]]:
        # Through the running adapter: its client, its installations, its pace for users.list.
        from adapters.slack.adapter import SlackAdapter

        adapter = run.adapter
        if not isinstance(adapter, SlackAdapter):
            settings = run.context.settings
            reason = SlackConfig.from_env(settings.env, settings.public_url).status().reason
            raise InvalidInput(f"Slack is not enabled, so its directory cannot be read: {reason}.")
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            tasks: dict[str, TaskID] = {}

            def on_page(team: str, report: SyncReport) -> None:
                if team not in tasks:
                    tasks[team] = progress.add_task(f"Reading the directory of {team or 'Slack'}")
                progress.update(
                    tasks[team],
                    description=f"{plural(report.seen, 'account')} read "
                    f"({plural(report.pages, 'page')})",
                )

            return await adapter.sync_workspaces(workspace, on_page=on_page)

    reports = run_with_adapter("slack", work)
    records = []
    for team, report in reports:
        imported = report.imported
        assert imported is not None
        records.append(
            {
                "workspace": team or None,
                "accounts": report.seen,
                "pages": report.pages,
                "created": imported.created,
                "updated": imported.updated,
                "unchanged": imported.unchanged,
                "skipped": dict(report.skipped),
                "left": imported.left,
                "returned": imported.returned,
                "leaving": describe_leaving(imported),
            }
        )
    if as_json:
        print_json(records)
        return
    for record in records:
        skipped = ", ".join(f"{n} {why}" for why, n in record["skipped"].items()) or "none"
        click.echo(
            f"{record['workspace'] or 'Slack'}: {plural(record['accounts'], 'account')} read; "
            f"{plural(record['created'], 'member')} created, {record['updated']} updated, "
            f"{record['unchanged']} unchanged; skipped: {skipped}."
            + (f" Left and back: {record['leaving']}." if record["leaving"] else "")
        )


@click.group("slack")
def slack_group() -> None:
    """Slack app set-up."""


@slack_group.command("manifest")
@click.option("--url", help="Public https:// base URL of this server [default: PUBLIC_URL].")
@click.option(
    "--socket-mode",
    is_flag=True,
    help="For SLACK_APP_TOKEN: Slack sends everything over Socket Mode, so no URL is needed.",
)
def manifest(url: str | None, socket_mode: bool) -> None:
    """Print the Slack app manifest with this server's URLs, to paste at api.slack.com/apps.

    The address is PUBLIC_URL (or --url): the https:// address Slack reaches this server at.
    Without one, the manifest would point Slack at localhost, so nothing is printed. With
    --socket-mode the manifest turns Socket Mode on and names no URL at all: the bot connects
    to Slack (create an app-level token with connections:write, and set SLACK_APP_TOKEN)."""
    if socket_mode:
        if url:
            raise click.UsageError(
                "--url and --socket-mode do not go together: over Socket Mode Slack calls no "
                "URL of this server."
            )
        click.echo(socket_mode_manifest(MANIFEST.read_text()), nl=False)
        return
    settings = cli_settings()
    base = (url or settings.env.get("PUBLIC_URL") or "").strip().rstrip("/")
    click.echo(MANIFEST.read_text().replace("https://YOUR-BOT-HOST", public_base(base)), nl=False)


def socket_mode_manifest(text: str) -> str:
    """The manifest for Socket Mode: ``socket_mode_enabled: true`` and no request URL, no
    redirect URL (the lines that hold the placeholder, and the keys left empty by that)."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):  # the HTTP manifest's own instructions
        lines.pop(0)
    kept = [
        line
        for line in lines
        if "https://YOUR-BOT-HOST" not in line and line.strip() != "redirect_urls:"
    ]
    body = "".join(kept).replace("socket_mode_enabled: false", "socket_mode_enabled: true")
    header = (
        "# Slack app manifest for the advocacy bot over Socket Mode (no public URL). Create the\n"
        '# app at https://api.slack.com/apps → "Create New App" → "From an app manifest" and\n'
        "# paste this; install it (SLACK_BOT_TOKEN=xoxb-…), then generate an app-level token\n"
        "# (Basic Information → App-Level Tokens, scope connections:write):\n"
        "# SLACK_APP_TOKEN=xapp-…\n"
    )
    return header + body


DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def public_base(base: str) -> str:
    """The address Slack is to call, or a one-line error: Slack cannot reach localhost, and it
    sends events and commands to https:// addresses only."""
    example = "https://advocacy.example.com"
    if not base:
        raise click.ClickException(
            "PUBLIC_URL is not set, so the manifest would send Slack to http://localhost:3978, "
            f"which Slack cannot reach: set PUBLIC_URL={example} (this server's public "
            f"address) or pass --url {example}."
        )
    parts = urlsplit(base)
    if parts.scheme != "https" or not parts.hostname:
        raise click.ClickException(
            f"'{base}' is not an https:// address; Slack sends events and commands to https "
            f"only: use this server's public address, e.g. {example}."
        )
    if parts.hostname in ("localhost", "127.0.0.1", "::1") or parts.hostname.endswith(".local"):
        raise click.ClickException(
            f"{base} is this machine, which Slack cannot reach: use this server's public "
            f"address, e.g. {example} (or a tunnel's https address)."
        )
    if not _reachable_host(parts.hostname):
        raise click.ClickException(
            f"{base} is not an address Slack can reach from the internet (a private or "
            f"malformed host): use this server's public address, e.g. {example}."
        )
    return base


def _reachable_host(host: str) -> bool:
    """A public IP literal or a well-formed DNS name (10.0.0.5 and 'exa mple.com' are not)."""
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        labels = host.rstrip(".").split(".")
        return len(labels) >= 2 and all(DNS_LABEL.fullmatch(label) for label in labels)


def register(root: click.Group) -> None:
    members = root.commands.get("members")
    if isinstance(members, click.Group) and isinstance(members.commands.get("sync"), click.Group):
        members.commands["sync"].add_command(sync_slack)  # type: ignore[union-attr]
    root.add_command(slack_group)
