"""``advocacy inbox``: events platforms were told we received, still waiting or set aside."""

from __future__ import annotations

import click

from bot.app import Application
from bot.cli.runtime import RecordId, print_json, print_table, run_with_app
from bot.compose.text import plural
from bot.services.inbox_events import (
    InboxSummary,
    SetAside,
    inbox_summary,
    retry_set_aside,
    set_aside_count,
    set_aside_events,
)


@click.group("inbox", invoke_without_command=True)
@click.pass_context
def inbox_group(ctx: click.Context) -> None:
    """Inbound events (clicks, commands, messages, webhook calls) acknowledged to the platform:
    what still waits for the server to handle it, and what failed every attempt. Alone, the
    same as 'advocacy inbox status'."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(status)


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"  # type: ignore[attr-defined]


@inbox_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(as_json: bool) -> None:
    """How many events wait and how many were set aside, by kind (slack, teams, the webhook),
    and since when."""

    async def work(app: Application) -> InboxSummary:
        return await app.inbox.store.run(inbox_summary)

    summary = run_with_app(work, existing_database=True)
    if as_json:
        print_json(
            {
                "waiting": summary.waiting,
                "failed": summary.failed,
                "oldest_waiting": summary.oldest_waiting,
                "by_kind": [row.__dict__ for row in summary.rows],
            }
        )
        return
    if not summary.rows:
        click.echo("The inbox is empty: every event acknowledged to a platform was handled.")
        return
    print_table(
        "Inbox",
        ["Kind", "Waiting", "Oldest waiting since", "Failed every attempt"],
        [[r.kind, r.waiting, _when(r.oldest_waiting), r.failed] for r in summary.rows],
        empty="",
    )
    if summary.waiting:
        click.echo(
            "Waiting events are handled by a running 'advocacy serve' with that kind's adapter "
            "enabled (its start-up log says which)."
        )
    if summary.failed:
        click.echo(
            "See the failed ones with 'advocacy inbox failed'; put them back with "
            "'advocacy inbox retry'."
        )


@inbox_group.command("failed")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Show at most this many, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def failed(limit: int, as_json: bool) -> None:
    """Events set aside after every attempt failed, newest first (their content stays sealed).
    They are kept until they are retried."""

    async def work(app: Application) -> tuple[list[SetAside], int]:
        return await app.inbox.store.run(
            lambda connection: (
                set_aside_events(connection, limit),
                set_aside_count(connection),
            )
        )

    found, total = run_with_app(work, existing_database=True)
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
        empty="No inbox event failed every attempt.",
    )
    if total > len(found):
        click.echo(f"Showing the newest {len(found)} of {total}; --limit shows more.")


@inbox_group.command("retry")
@click.argument("ids", nargs=-1, type=RecordId("event"))
@click.option("--all", "every", is_flag=True, help="Every event set aside.")
def retry(ids: tuple[int, ...], every: bool) -> None:
    """Put events set aside back in the queue (after fixing what made them fail)."""
    if ids and every:
        raise click.UsageError("Give either the ids of the events to retry or --all, not both.")
    if not ids and not every:
        raise click.UsageError("Give the ids of the events to retry, or --all.")

    async def work(app: Application) -> int:
        return await app.inbox.store.run(
            lambda connection: retry_set_aside(connection, None if every else list(ids))
        )

    count = run_with_app(work, existing_database=True)
    if not count:
        click.echo("Nothing to retry: no event is set aside.")
        return
    click.echo(
        f"{plural(count, 'event')} back in the queue; a running 'advocacy serve' handles them."
    )


def register(root: click.Group) -> None:
    root.add_command(inbox_group)
