"""``advocacy deliveries``: the outbox as admins see it; dead letters and re-queueing them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import RecordId, print_json, print_table, run_with_app
from bot.outbox.admin import (
    FailedDelivery,
    HeldDeliveries,
    describe_held,
    failed_deliveries,
    held_deliveries,
    retry_deliveries,
)
from bot.outbox.queue import queue_depth

STATUSES = ("pending", "sending", "sent", "dead")


@click.group("deliveries")
def deliveries_group() -> None:
    """The outbox: what waits, what was sent, what failed for good (dead letters)."""


@deliveries_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(as_json: bool) -> None:
    """Deliveries per platform and status. Those waiting for a platform that is not enabled
    in this configuration are HELD: nothing sends them until it is (the reason says how)."""

    async def work(app: Application) -> tuple[dict[tuple[str, str], int], list[HeldDeliveries]]:
        async with app.db.transaction() as session:
            return await queue_depth(session), await held_deliveries(session, app.platform_states())

    depth, held = run_with_app(work, existing_database=True)
    reasons = {group.platform: group.reason for group in held}
    platforms = sorted({platform for platform, _ in depth})
    rows = [[p, *(depth.get((p, s), 0) for s in STATUSES)] for p in platforms]
    if as_json:
        print_json(
            [
                {
                    **dict(zip(("platform", *STATUSES), row, strict=True)),
                    "held": row[0] in reasons,
                    "held_reason": reasons.get(row[0]),
                }
                for row in rows
            ]
        )
        return
    print_table(
        "Outbox",
        ["Platform", "Waiting", "In flight", "Sent", "Failed for good"],
        [
            [p, f"{waiting} HELD" if p in reasons and waiting else waiting, *rest]
            for p, waiting, *rest in rows
        ],
        empty="The outbox is empty: nothing has been sent yet.",
    )
    echo_held(held)


def echo_held(held: list[HeldDeliveries]) -> None:
    for group in held:
        click.echo(f"HELD: {describe_held(group)}")


@deliveries_group.command("failed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def failed(limit: int, as_json: bool) -> None:
    """Dead-lettered deliveries with the platform's error, newest first."""

    async def work(app: Application) -> tuple[list[FailedDelivery], list[HeldDeliveries]]:
        async with app.db.transaction() as session:
            return await failed_deliveries(session, limit), await held_deliveries(
                session, app.platform_states()
            )

    found, held = run_with_app(work, existing_database=True)
    if as_json:
        print_json([_record(f) for f in found])
        return
    print_table(
        "Failed deliveries (dead letters)",
        ["Id", "Platform", "To", "Digest", "Attempts", "Error", "Queued"],
        [
            [
                f.id,
                f.platform,
                f.to,
                f.digest or "",
                f.attempts,
                f.error,
                f.queued_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for f in found
        ],
        empty="No failed deliveries.",
    )
    if found:
        click.echo("Fix the cause, then re-queue with: advocacy deliveries retry ID... (or --all)")
    # Not failed, but not sent either: say so, or "No failed deliveries" reads as all is well.
    echo_held(held)


def _record(failed: FailedDelivery) -> dict[str, Any]:
    record = asdict(failed)
    for key in ("queued_at", "failed_at"):
        record[key] = record[key].isoformat() if record[key] else None
    return record


@deliveries_group.command("retry")
@click.argument("ids", nargs=-1, type=RecordId("delivery"))
@click.option(
    "--run", "run_id", type=RecordId("run"), help="Every failed delivery of this digest run."
)
@click.option("--all", "everything", is_flag=True, help="Every failed delivery.")
def retry(ids: tuple[int, ...], run_id: int | None, everything: bool) -> None:
    """Re-queue dead-lettered deliveries with fresh attempts; the server sends them."""
    if ids and everything:
        raise click.UsageError("Give either the ids of the deliveries to retry or --all, not both.")

    async def work(app: Application) -> int:
        async with app.db.transaction() as session:
            return await retry_deliveries(session, ids=ids, run_id=run_id, everything=everything)

    count = run_with_app(work)
    if count == 0:
        click.echo("Nothing to retry: no failed delivery matches.")
        return
    click.echo(
        f"Re-queued {count} deliver{'y' if count == 1 else 'ies'}; the running server sends "
        "them (advocacy deliveries status shows progress)."
    )


def register(root: click.Group) -> None:
    root.add_command(deliveries_group)
