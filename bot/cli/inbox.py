"""``advocacy inbox``: events platforms were told we received, still waiting or set aside."""

from __future__ import annotations

import click

from bot.app import Application
from bot.cli.runtime import print_json, print_table, run_with_app
from bot.services.inbox_events import (
    InboxSummary,
    SetAside,
    inbox_summary,
    retry_set_aside,
    set_aside_events,
)


@click.group("inbox")
def inbox_group() -> None:
    """Inbound events (clicks, commands, messages, webhook calls) acknowledged to the platform:
    what still waits for the server to handle it, and what failed every attempt."""


@inbox_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(as_json: bool) -> None:
    """How many events wait, how many were set aside, and since when."""

    async def work(app: Application) -> InboxSummary:
        async with app.db.transaction() as session:
            return await inbox_summary(session)

    summary = run_with_app(work)
    if as_json:
        print_json(
            {
                "waiting": summary.waiting,
                "failed": summary.failed,
                "oldest_waiting": summary.oldest_waiting,
            }
        )
        return
    oldest = (
        summary.oldest_waiting.strftime("%Y-%m-%d %H:%M:%S UTC") if summary.oldest_waiting else "-"
    )
    print_table(
        "Inbox",
        ["Waiting", "Oldest waiting since", "Failed every attempt"],
        [[summary.waiting, oldest, summary.failed]],
        empty="",
    )
    if summary.waiting and not summary.failed:
        click.echo("Waiting events are handled by a running 'advocacy serve'.")
    if summary.failed:
        click.echo(
            "See them with 'advocacy inbox failed'; put them back with 'advocacy inbox retry'."
        )


@inbox_group.command("failed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def failed(limit: int, as_json: bool) -> None:
    """Events set aside after every attempt failed, newest first (their content stays sealed)."""

    async def work(app: Application) -> list[SetAside]:
        async with app.db.transaction() as session:
            return await set_aside_events(session, limit)

    found = run_with_app(work)
    if as_json:
        print_json([event.__dict__ for event in found])
        return
    print_table(
        "Inbox events set aside",
        ["Id", "Platform", "Kind", "Attempts", "Received", "Last error"],
        [
            [e.id, e.platform, e.kind, e.attempts, f"{e.received_at:%Y-%m-%d %H:%M}", e.last_error]
            for e in found
        ],
        empty="No inbox event failed: everything acknowledged was handled.",
    )


@inbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every event set aside.")
def retry(ids: tuple[int, ...], every: bool) -> None:
    """Put events set aside back in the queue (after fixing what made them fail)."""
    if bool(ids) == every:
        raise click.UsageError("Give the ids of the events to retry, or --all.")

    async def work(app: Application) -> int:
        async with app.db.transaction() as session:
            return await retry_set_aside(session, None if every else list(ids))

    count = run_with_app(work)
    click.echo(f"{count} event(s) back in the queue; a running 'advocacy serve' handles them.")


def register(root: click.Group) -> None:
    root.add_command(inbox_group)
