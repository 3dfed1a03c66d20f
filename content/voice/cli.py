"""``advocacy voice``: bring customer voice in from files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import file_progress, print_json, run_with_app
from bot.compose.text import plural
from bot.import_files import encoding_note
from bot.services.rollups import parse_period
from bot.storage.models import VoiceImport
from bot.storage.types import utcnow
from content.settings import content_settings
from content.voice.evidence import weigh_stored
from content.voice.file_import import PRESETS, ParsedFile, VoiceFile, parse_mapping
from content.voice.pipeline import StoreReport, VoicePipeline
from content.voice.spikes import detect_spikes, recent_spikes

SHOWN_PROBLEMS = 50
# Rows stored per transaction: short ones, so the server's own writes wait little meanwhile.
BATCH_ROWS = 2_000


@click.group("voice")
def voice_group() -> None:
    """Customer voice: tickets, reviews and survey comments, with sentiment and themes."""


@voice_group.command("import")
# Not click.Path(exists=True): a missing file is a one-line error and exit status 1 (nothing
# imported), not a usage error with status 2, which the import gives for some rows rejected.
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--source",
    help="Where it comes from (helpdesk, app-store...) [default: the "
    "file's name]; ids are unique per source.",
)
@click.option(
    "--preset",
    metavar="|".join(PRESETS),
    help="; ".join(f"{name}: {p.description}" for name, p in PRESETS.items()),
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read FIELD (id, text, title, rating, created_at, customer, segment, link) "
    "from COLUMN; repeat as needed.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be imported; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_command(
    file: Path,
    source: str | None,
    preset: str | None,
    mapping: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import FILE (CSV, JSON or JSON Lines). Common columns (id, created_at or date, score or
    rating, comment or text or body, customer or segment) are recognised without --map. Bad
    rows (a NUL byte, a row over 1 MiB...) are reported with their line number and skipped;
    importing the same file again adds nothing. The file is read as a stream and stored 2,000
    rows at a time, so any size fits in memory. Exit status: 0 all rows kept, 2 some rejected, 1
    none imported (also a file that cannot be read, or has no rows)."""
    name = source or file.stem

    async def work(app: Application) -> tuple[ParsedFile, StoreReport]:
        progress = file_progress(quiet=as_json)
        voice_file = VoiceFile(file, source=name, preset=preset, mapping=parse_mapping(mapping))
        with voice_file, progress:
            task = progress.add_task("Importing", total=voice_file.size)
            settings = content_settings(app.settings)
            started = utcnow()
            async with app.db.transaction() as session:
                pipeline = await VoicePipeline.load(session, settings.taxonomy(), settings.alerts)
            report = StoreReport()
            batches = voice_file.batches(BATCH_ROWS)
            # Each batch is read in a thread, then stored in its own transaction.
            while (batch := await asyncio.to_thread(next, batches, None)) is not None:
                async with app.db.transaction() as session:
                    part = await pipeline.store(session, batch, sealer=app.sealer, dry_run=dry_run)
                if not dry_run:
                    await weigh_stored(app.db, app.extensions.evidence, part.stored)
                report.imported += part.imported
                report.duplicates += part.duplicates
                report.alerts += part.alerts
                progress.update(task, completed=voice_file.bytes_read)
            parsed = voice_file.summary
            problems = [{"line": p.line, "reason": p.reason} for p in parsed.problems]
            if not dry_run:
                async with app.db.transaction() as session:
                    spikes = await detect_spikes(
                        session,
                        rule=settings.spikes,
                        channels=settings.alerts.channels,
                        sealer=app.sealer,
                    )
                    report.spikes = [spike.theme for spike in spikes]
                    session.add(
                        VoiceImport(
                            source=name,
                            filename=file.name,
                            rows=parsed.rows,
                            imported=report.imported,
                            duplicates=report.duplicates,
                            rejected=parsed.rejected,
                            started_at=started,
                            finished_at=utcnow(),
                            problems=problems,
                        )
                    )
        if (report.alerts or report.spikes) and app.worker is not None:
            await app.worker.drain(wait_for_retries=False)
        return parsed, report

    parsed, report = run_with_app(work, adapters=True)
    summary: dict[str, Any] = {
        "file": str(file),
        "source": name,
        "encoding": parsed.encoding,
        "rows": parsed.rows,
        "imported": report.imported,
        "already_there": report.duplicates,
        "rejected": parsed.rejected,
        "alerts": report.alerts,
        "spikes": report.spikes,
        "dry_run": dry_run,
        "columns": parsed.columns,
        # Which order numeric dates such as 1/2/2024 were read in, when it mattered.
        "dates": parsed.dates or None,
        # The first rejected rows (up to 1,000); "rejected" counts them all.
        "problems": [{parsed.unit: p.line, "reason": p.reason} for p in parsed.problems],
    }
    if as_json:
        print_json(summary)
    else:
        for problem in parsed.problems[:SHOWN_PROBLEMS]:
            click.echo(f"{file}:{parsed.unit} {problem.line}: rejected: {problem.reason}", err=True)
        if parsed.rejected > SHOWN_PROBLEMS:
            click.echo(
                f"… and {parsed.rejected - SHOWN_PROBLEMS:,} more rejected rows "
                f"(--json lists the first {len(parsed.problems):,}).",
                err=True,
            )
        if note := encoding_note(parsed.encoding):
            click.echo(note, err=True)
        if parsed.dates:
            click.echo(f"({parsed.dates})", err=True)
        verb = "would be imported" if dry_run else "imported"
        click.echo(
            f"{plural(parsed.rows, 'row')}: {report.imported} {verb}, {report.duplicates} already "
            f"there, {parsed.rejected} rejected."
            + (f" {plural(report.alerts, 'urgent alert')} sent." if report.alerts else "")
            + (f" Spiking: {', '.join(report.spikes)}." if report.spikes else "")
        )
    if not parsed.rows:
        click.echo(f"{file} has a header but no rows: nothing was imported.", err=True)
        raise SystemExit(1)
    if parsed.rejected:
        raise SystemExit(2 if report.imported or report.duplicates else 1)


@voice_group.command("spikes")
@click.option("--since", default="30d", show_default=True, help="How far back: 7d, 4w, 6m or all.")
@click.option(
    "--detect", is_flag=True, help="Look for spikes now first (the server does it by itself)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the spikes as JSON.")
def spikes_command(since: str, detect: bool, as_json: bool) -> None:
    """Themes whose volume in a period stood far above their own recent history (each is
    alerted once to VOICE_ALERT_CHANNELS), newest first."""

    async def work(app: Application) -> list[dict[str, Any]]:
        period = parse_period(since)
        settings = content_settings(app.settings)
        async with app.db.transaction() as session:
            found = []
            if detect:
                found = await detect_spikes(
                    session,
                    rule=settings.spikes,
                    channels=settings.alerts.channels,
                    sealer=app.sealer,
                )
            start = utcnow() - period if period is not None else datetime.min.replace(tzinfo=UTC)
            rows = await recent_spikes(session, start)
        if detect and found and app.worker is not None:
            await app.worker.drain(wait_for_retries=False)
        return [
            {
                "theme": spike.theme,
                "period_start": spike.period_start.isoformat(),
                "period_end": spike.period_end.isoformat(),
                "count": spike.count,
                "usual": round(spike.usual, 2),
                "spread": round(spike.spread, 2),
                "alerted_at": spike.alerted_at.isoformat() if spike.alerted_at else None,
            }
            for spike in rows
        ]

    spikes = run_with_app(work, adapters=detect)
    if as_json:
        print_json(spikes)
        return
    if not spikes:
        when = "ever" if since.strip().lower() == "all" else f"in the last {since}"
        click.echo(f"No customer-voice spike {when}.")
        return
    for spike in spikes:
        alerted = "alerted" if spike["alerted_at"] else "not alerted (no VOICE_ALERT_CHANNELS)"
        click.echo(
            f"{spike['period_start'][:16].replace('T', ' ')} UTC  {spike['theme']}: "
            f"{spike['count']} voices, usually about {spike['usual']:g} "
            f"(spread {spike['spread']:g}); {alerted}"
        )
