"""``advocacy digest``: schedules, and firing one now."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from bot.app import Application
from bot.cli.runtime import print_json, print_table, run_with_app
from bot.compose.text import plural
from bot.domain import DeliveryStatus, DigestKind
from bot.outbox.worker import DrainStats
from bot.services.digest_runs import list_runs, start_run
from bot.services.digests import (
    add_digest,
    delete_digest,
    describe_schedule,
    edit_digest,
    get_digest,
    list_digests,
    next_fire_times,
    parse_since,
    set_digest_enabled,
)
from bot.services.permissions import OPERATOR
from bot.storage.models import Delivery, Digest


@click.group("digest")
def digest_group() -> None:
    """Digests: scheduled deliveries of content, customer voice or suggestion rollups."""


@digest_group.command("add")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in DigestKind]),
    required=True,
    help="content: curated picks; voice: customer-voice themes; rollup: managers' idea rollup.",
)
@click.option("--audience", default="all", show_default=True, help="'all' or 'team:NAME'.")
@click.option(
    "--cron", required=True, help="Five fields: minute hour day month weekday, e.g. '0 9 * * mon'."
)
@click.option(
    "--tz",
    "timezone",
    help="IANA time zone the cron is read in, e.g. Europe/Paris (not needed with --local-time).",
)
@click.option(
    "--local-time",
    is_flag=True,
    help="Fire at the cron's time on each recipient's own clock (09:00 in Paris, then in NYC).",
)
@click.option("--objective", "objective_key", help="Only content or voice tied to this objective.")
def add(
    name: str,
    kind: str,
    audience: str,
    cron: str,
    timezone: str | None,
    local_time: bool,
    objective_key: str | None,
) -> None:
    """Schedule a digest called NAME. The running server picks it up within 30 seconds."""
    if not timezone and not local_time:
        raise click.UsageError("Give --tz ZONE (e.g. --tz Europe/Paris) or --local-time.")

    async def work(app: Application) -> tuple[Digest, list[Any]]:
        async with app.db.transaction() as session:
            digest = await add_digest(
                session,
                OPERATOR,
                name,
                kind=kind,
                audience=audience,
                cron=cron,
                timezone=timezone or "UTC",
                objective_key=objective_key,
                local_time=local_time,
            )
            return digest, next_fire_times(digest, 3)

    digest, upcoming = run_with_app(work)
    click.echo(
        f"Scheduled '{digest.name}' ({digest.kind} to {digest.audience}, "
        f"{describe_schedule(digest)}). {_next(digest, upcoming)}"
    )


def _next(digest: Digest, upcoming: list[Any]) -> str:
    if not digest.enabled:
        return "Paused."
    when = ", ".join(t.strftime("%a %d %b %Y %H:%M %Z") for t in upcoming) or "never"
    if digest.local_time:
        return f"Next in {digest.timezone}: {when}; each recipient gets it at that time locally."
    return f"Next: {when}."


@digest_group.command("edit")
@click.argument("name")
@click.option("--cron", help="New schedule: minute hour day month weekday.")
@click.option("--tz", "timezone", help="New IANA time zone.")
@click.option("--audience", help="'all', 'team:NAME' or 'channel:PLATFORM:ID'.")
@click.option("--objective", "objective_key", help="Objective key; '' for none.")
@click.option(
    "--local-time/--fixed-zone",
    default=None,
    help="Each recipient's own clock, or the digest's one time zone.",
)
def edit(
    name: str,
    cron: str | None,
    timezone: str | None,
    audience: str | None,
    objective_key: str | None,
    local_time: bool | None,
) -> None:
    """Change digest NAME's schedule or audience; takes effect without a restart."""

    async def work(app: Application) -> tuple[Digest, list[Any]]:
        async with app.db.transaction() as session:
            digest = await edit_digest(
                session,
                OPERATOR,
                name,
                cron=cron,
                timezone=timezone,
                audience=audience,
                objective_key=objective_key,
                local_time=local_time,
            )
            return digest, next_fire_times(digest, 3)

    digest, upcoming = run_with_app(work)
    click.echo(
        f"Updated '{digest.name}': {digest.kind} to {digest.audience}, "
        f"{describe_schedule(digest)}. {_next(digest, upcoming)}"
    )


@digest_group.command("pause")
@click.argument("name")
def pause(name: str) -> None:
    """Stop firing digest NAME (runs already queued still go out)."""
    _set_enabled(name, False)


@digest_group.command("resume")
@click.argument("name")
def resume(name: str) -> None:
    """Fire digest NAME on its schedule again."""
    _set_enabled(name, True)


def _set_enabled(name: str, enabled: bool) -> None:
    async def work(app: Application) -> tuple[Digest, list[Any]]:
        async with app.db.transaction() as session:
            digest = await set_digest_enabled(session, OPERATOR, name, enabled)
            return digest, next_fire_times(digest, 1)

    digest, upcoming = run_with_app(work)
    state = "resumed" if enabled else "paused"
    click.echo(f"'{digest.name}' {state}. {_next(digest, upcoming)}")


@digest_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete digest NAME and its run history (queued deliveries still go out)."""
    if not yes:
        click.confirm(f"Delete digest '{name}' and its run history?", abort=True)

    async def work(app: Application) -> str:
        async with app.db.transaction() as session:
            return await delete_digest(session, OPERATOR, name)

    click.echo(f"Deleted '{run_with_app(work)}'.")


@digest_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List digests and when each next fires (in its own time zone)."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            records = []
            for d in await list_digests(session):
                upcoming = next_fire_times(d, 1) if d.enabled else []
                records.append(
                    {
                        "name": d.name,
                        "kind": d.kind,
                        "audience": d.audience,
                        "cron": d.cron,
                        "timezone": d.timezone,
                        "local_time": d.local_time,
                        "enabled": d.enabled,
                        "objective": d.objective.key if d.objective else None,
                        "next_fire": upcoming[0].isoformat() if upcoming else None,
                    }
                )
            return records

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Digests",
        ["Name", "Kind", "Audience", "Cron", "Time zone", "Next firing"],
        [
            [
                r["name"],
                r["kind"],
                r["audience"],
                r["cron"],
                "each recipient's" if r["local_time"] else r["timezone"],
                _when(r),
            ]
            for r in records
        ],
        empty="No digests yet. Schedule one with: advocacy digest add NAME --kind content "
        "--cron '0 9 * * mon' --tz Europe/Paris",
    )


@dataclass
class RunSummary:
    name: str
    run_id: int
    note: str
    queued: Counter[str] = field(default_factory=Counter)
    stats: DrainStats = field(default_factory=DrainStats)
    here: list[str] = field(default_factory=list)
    # Read from the database once this command is done: what is sent, failed or waiting,
    # whoever sent it (another process may have delivered some of them meanwhile).
    outcome: dict[str, Counter[str]] = field(default_factory=dict)
    # Why a platform's deliveries are held: it does not send in this configuration.
    held: dict[str, str] = field(default_factory=dict)


@digest_group.command("run")
@click.argument("name")
@click.option(
    "--enqueue-only",
    is_flag=True,
    help="Only queue the deliveries; the running server's outbox sends them.",
)
@click.option(
    "--no-wait", is_flag=True, help="Send what can be sent now; leave retries to the server."
)
@click.option(
    "--include-sent",
    is_flag=True,
    help="Content digests: pick from items people already had too (a deliberate resend).",
)
@click.option(
    "--since",
    "since_text",
    metavar="DATE|PERIOD",
    help="Cover from this date (2026-11-03, in the digest's time zone) or period back (30d), "
    "instead of since the last run.",
)
def run(
    name: str, enqueue_only: bool, no_wait: bool, include_sent: bool, since_text: str | None
) -> None:
    """Fire digest NAME now: compose it, queue a delivery per member, and deliver them through
    every adapter configured here (or leave them to the server with --enqueue-only). A content
    digest sends each person only items they have not had, from any digest."""

    async def work(app: Application) -> RunSummary | str:
        started = monotonic()
        async with app.db.transaction() as session:
            digest = await get_digest(session, name)
            outcome = await start_run(
                session,
                app.sealer,
                digest,
                actor=OPERATOR,
                composers=app.extensions.composers,
                include_sent=include_sent,
                since=parse_since(since_text, digest.timezone) if since_text else None,
            )
            assert outcome is not None
        if outcome.queued == 0:
            return outcome.note
        # Committed: every delivery is in the outbox (benchmarks/fanout.py reads this line).
        click.echo(
            f"Run #{outcome.run.id}: queued {outcome.queued} deliveries in "
            f"{monotonic() - started:.1f} s.",
            err=True,
        )
        summary = RunSummary(digest.name, outcome.run.id, outcome.note, here=sorted(app.adapters))
        async with app.db.transaction() as session:
            rows = await session.execute(
                select(Delivery.platform, func.count(Delivery.id))
                .where(Delivery.run_id == outcome.run.id)
                .group_by(Delivery.platform)
            )
            summary.queued.update(dict(rows.all()))
        states = app.platform_states()
        summary.held = {
            p: states.get(p) or f"no adapter for {p} is installed"
            for p in summary.queued
            if p not in app.adapters
        }
        deliverable = sum(count for p, count in summary.queued.items() if p in app.adapters)
        if enqueue_only or deliverable == 0 or app.worker is None:
            summary.outcome = await run_outcome(app, outcome.run.id)
            return summary
        with Progress(
            TextColumn("Delivering"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            task = progress.add_task("deliver", total=deliverable)
            summary.stats = await app.worker.drain(
                run_id=outcome.run.id,
                wait_for_retries=not no_wait,
                on_progress=lambda s: progress.update(
                    task, completed=sum(s.sent.values()) + sum(s.dead.values())
                ),
            )
        summary.outcome = await run_outcome(app, outcome.run.id)
        return summary

    result = run_with_app(work, adapters=True)
    if isinstance(result, str):
        click.echo(result if result.lower().startswith("nothing") else f"Nothing sent: {result}")
        return
    rows = []
    for platform, queued in sorted(result.queued.items()):
        counts = result.outcome.get(platform, Counter())
        waiting = counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.SENDING]
        if not waiting:
            left = "–"
        elif platform in result.held:
            left = f"{waiting} HELD"
        elif enqueue_only:
            left = f"{waiting} (the server sends them)"
        else:
            left = f"{waiting} retrying (the server sends them)"
        rows.append(
            [platform, queued, counts[DeliveryStatus.SENT], counts[DeliveryStatus.DEAD], left]
        )
    print_table(
        f"Digest '{result.name}', run #{result.run_id} ({result.note})",
        ["Platform", "Queued", "Sent", "Failed", "Waiting"],
        rows,
        empty="",
    )
    for platform, reason in sorted(result.held.items()):
        counts = result.outcome.get(platform, Counter())
        if counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.SENDING]:
            click.echo(f"HELD for {platform} until a server with it enabled runs: {reason}")
    total_dead = sum(counts[DeliveryStatus.DEAD] for counts in result.outcome.values())
    if total_dead:
        raise click.ClickException(
            f"{plural(total_dead, 'delivery', 'deliveries')} failed for good; "
            "advocacy deliveries failed shows why."
        )


async def run_outcome(app: Application, run_id: int) -> dict[str, Counter[str]]:
    """A run's deliveries per platform and status, as the database has them now."""
    async with app.db.transaction() as session:
        rows = await session.execute(
            select(Delivery.platform, Delivery.status, func.count(Delivery.id))
            .where(Delivery.run_id == run_id)
            .group_by(Delivery.platform, Delivery.status)
        )
        outcome: dict[str, Counter[str]] = {}
        for platform, status, count in rows:
            outcome.setdefault(platform, Counter())[status] = count
        return outcome


@digest_group.command("runs")
@click.argument("name", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs(name: str | None, limit: int, as_json: bool) -> None:
    """Recent runs (of digest NAME, or of all) with what was delivered."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            digest = await get_digest(session, name) if name else None
            found = await list_runs(session, digest, limit)
            counts = await session.execute(
                select(Delivery.run_id, Delivery.status, func.count(Delivery.id))
                .where(Delivery.run_id.in_([r.id for r in found]))
                .group_by(Delivery.run_id, Delivery.status)
            )
            by_run: dict[int, Counter[str]] = {}
            for run_id, status, count in counts:
                by_run.setdefault(run_id, Counter())[status] = count
            return [
                {
                    "run": r.id,
                    "digest": r.digest.name,
                    "trigger": r.trigger,
                    "status": r.status,
                    "started_at": r.started_at.isoformat(),
                    "recipients": r.recipients,
                    "note": r.note,
                    **{s.value: by_run.get(r.id, Counter())[s.value] for s in DeliveryStatus},
                }
                for r in found
            ]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Digest runs",
        [
            "Run",
            "Digest",
            "Started (UTC)",
            "Trigger",
            "Status",
            "Sent",
            "Waiting",
            "Failed",
            "Note",
        ],
        [
            [
                r["run"],
                r["digest"],
                r["started_at"][:16].replace("T", " "),
                r["trigger"],
                r["status"],
                r["sent"],
                r["pending"] + r["sending"],
                r["dead"],
                r["note"],
            ]
            for r in records
        ],
        empty="No runs yet. Send one with: advocacy digest run NAME",
    )


def register(root: click.Group) -> None:
    root.add_command(digest_group)


def _when(record: dict[str, Any]) -> str:
    """The next firing as a person reads it, as `digest add` says it (JSON keeps ISO 8601)."""
    if not record["next_fire"]:
        return "paused"
    moment = datetime.fromisoformat(record["next_fire"]).astimezone(ZoneInfo(record["timezone"]))
    return moment.strftime("%a %d %b %Y %H:%M %Z")
