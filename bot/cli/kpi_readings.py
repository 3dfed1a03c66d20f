"""``advocacy objectives record|import|readings``: an objective's KPI readings, one a day (see
bot/services/kpi_readings.py): record one, import a CSV, list them."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta
from pathlib import Path

import click

from bot.app import Application
from bot.cli.runtime import (
    fail_on_domain_error,
    file_progress,
    print_json,
    print_table,
    run_with_app,
)
from bot.compose.kpi_text import describe_kpi, kpi_change, kpi_number, kpi_value
from bot.domain import KpiSource
from bot.import_files import encoding_note, open_import_file
from bot.services.kpi_import import ImportReport, import_kpi_file, parse_day
from bot.services.kpi_readings import Recorded, reading_on, record_reading
from bot.services.kpi_targets import check_percent, parse_number
from bot.services.objectives import get_objective, list_readings
from bot.services.permissions import OPERATOR
from bot.storage.models import KpiReading, Objective
from bot.storage.types import utcnow
from bot.text_safety import csv_row


# A VALUE of -12 (an NPS, a margin) is the value, not an option.
@click.command("record", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@click.option("--date", "day", help="The day the value describes, YYYY-MM-DD (default: today).")
def record(key: str, value: str, day: str | None) -> None:
    """Record the KPI's VALUE for a day; a second value that day replaces the first."""
    with fail_on_domain_error():
        number = parse_number(value)
        when = parse_day(day) if day else utcnow().date()

    async def work(app: Application) -> tuple[Objective, Recorded, KpiReading | None]:
        async with app.db.transaction() as session:
            objective = await get_objective(session, key)
            check_percent(value, objective.kpi_unit)
            recorded = await record_reading(
                session, OPERATOR, objective, number, when, source=KpiSource.CLI
            )
            day_before = recorded.reading.measured_on - timedelta(days=1)
            before = await reading_on(session, objective.id, day_before)
            return objective, recorded, before

    objective, recorded, before = run_with_app(work)
    unit = objective.kpi_unit
    day_text = recorded.reading.measured_on.date().isoformat()
    shown = kpi_value(recorded.reading.value, unit)
    if recorded.outcome == "added":
        line = f"Added {objective.key} on {day_text}: {shown}"
    elif recorded.outcome == "updated":
        line = (
            f"Updated {objective.key} on {day_text}: {shown} "
            f"(was {kpi_value(recorded.previous, unit)})"
        )
    else:
        line = f"Unchanged: {objective.key} on {day_text} was already {shown}"
    if before is not None:
        line += (
            f"; {kpi_change(recorded.reading.value - before.value, unit)} since "
            f"{before.measured_on.date().isoformat()} ({kpi_value(before.value, unit)})"
        )
    click.echo(line + ".")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def import_command(file: Path, as_json: bool) -> None:
    """Import KPI readings from a CSV with a header line: objective,date,value (in any order,
    names in any case; date YYYY-MM-DD).

    Bad rows (an unknown objective, a date that is not one or in the future, a value that is not
    a number) are reported with their line number and skipped; good rows are kept. A day's value
    replaces an earlier one; importing the same file again changes nothing.

    Exit status: 0 all rows kept, 2 some rejected, 1 none imported.
    """

    async def work(app: Application) -> ImportReport:
        progress = file_progress(quiet=as_json)
        with open_import_file(file) as stream, progress:
            task = progress.add_task("Importing", total=file.stat().st_size)
            return await import_kpi_file(
                app.db,
                OPERATOR,
                stream,
                on_read=lambda done: progress.update(task, completed=done),
            )

    report = run_with_app(work)
    if as_json:
        print_json(
            {
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": [{"line": p.line, "error": p.message} for p in report.rejected],
                "rejected_count": report.rejected_count,
            }
        )
    else:
        for problem in report.rejected:
            click.echo(f"{file}:{problem.line}: rejected: {problem.message}", err=True)
        if report.rejected_count > len(report.rejected):
            click.echo(
                f"… and {report.rejected_count - len(report.rejected):,} more rejected rows.",
                err=True,
            )
        if note := encoding_note(report.encoding):
            click.echo(note, err=True)
        click.echo(report.summary())
    if not report.kept and not report.rejected_count:
        click.echo(f"{file} has a header but no rows: nothing was imported.", err=True)
        raise SystemExit(1)
    if report.rejected_count:
        raise SystemExit(2 if report.kept else 1)


@click.command("readings")
@click.argument("key")
@click.option("--last", type=click.IntRange(1), help="Only the newest N readings.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (objective,date,value).")
def readings_command(key: str, last: int | None, as_json: bool, as_csv: bool) -> None:
    """List an objective's KPI readings, newest first. --csv prints a file that
    'advocacy objectives import' reads back."""
    if as_json and as_csv:
        raise click.UsageError("Choose one of --json and --csv.")

    async def work(app: Application) -> tuple[Objective, list[KpiReading]]:
        async with app.db.transaction() as session:
            return await list_readings(session, OPERATOR, key, limit=last)

    objective, readings = run_with_app(work)
    records = [
        {
            "objective": objective.key,
            "date": r.measured_on.date().isoformat(),
            "value": r.value,
            "source": r.source,
        }
        for r in readings
    ]
    if as_json:
        print_json({"objective": objective.key, "unit": objective.kpi_unit, "readings": records})
    elif as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=["objective", "date", "value"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(
            csv_row(
                {
                    "objective": r["objective"],
                    "date": r["date"],
                    "value": kpi_number(r["value"]).replace(",", ""),
                }
            )
            for r in records
        )
        click.echo(buffer.getvalue(), nl=False)
    else:
        changes = [
            kpi_change(r.value - older.value, objective.kpi_unit)
            for r, older in itertools.pairwise(readings)
        ]
        print_table(
            f"{objective.title}: {describe_kpi(objective)}",
            ["Date", "Value", "Change", "Source"],
            [
                [
                    r["date"],
                    kpi_value(r["value"], objective.kpi_unit),
                    changes[i] if i < len(changes) else "",
                    r["source"],
                ]
                for i, r in enumerate(records)
            ],
            empty=f"No readings for {objective.key} yet. Record one with: "
            f"advocacy objectives record {objective.key} VALUE",
        )
