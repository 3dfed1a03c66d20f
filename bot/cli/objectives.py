"""``advocacy objectives``: the business objectives everything is tied to, and their KPIs'
readings (record one, import a CSV, list them)."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import (
    fail_on_domain_error,
    file_progress,
    print_json,
    print_table,
    run_with_app,
)
from bot.compose.kpi_text import kpi_change, kpi_number, kpi_value
from bot.domain import KpiDirection, KpiSource
from bot.import_files import encoding_note, open_import_file
from bot.services.kpi_import import ImportReport, import_kpi_file, parse_day
from bot.services.kpi_readings import Recorded, reading_on, record_reading
from bot.services.kpi_targets import parse_number
from bot.services.objectives import (
    KEEP,
    Edited,
    add_objective,
    edit_objective,
    get_objective,
    latest_readings,
    list_objectives,
    list_readings,
)
from bot.services.permissions import OPERATOR
from bot.storage.models import KpiReading, Objective
from bot.storage.types import utcnow
from bot.text_safety import csv_row

DIRECTIONS = click.Choice([d.value for d in KpiDirection], case_sensitive=False)


@click.group("objectives")
def objectives_group() -> None:
    """Business objectives: promises to customers that content, voice and ideas serve."""


def _number(value: str | None) -> float | None:
    with fail_on_domain_error():  # one line, not a traceback
        return None if value is None else parse_number(value, "target value")


@objectives_group.command("add")
@click.argument("key")
@click.argument("title")
@click.option(
    "--kpi",
    help="The indicator that tells whether it is kept (for example: median first reply time).",
)
@click.option(
    "--target",
    help="The target as people say it (for example: under 1 hour); a plain number in it fills "
    "--unit, --direction and --target-value when they are not given.",
)
@click.option("--unit", help="The KPI's unit: minutes, %, NPS points...")
@click.option("--direction", type=DIRECTIONS, help="Which way is better for the KPI.")
@click.option("--target-value", help="The numeric target, in the KPI's unit.")
def add(
    key: str,
    title: str,
    kpi: str | None,
    target: str | None,
    unit: str | None,
    direction: str | None,
    target_value: str | None,
) -> None:
    """Add an objective: a short KEY (reply-within-1h) and a TITLE people read."""

    async def work(app: Application) -> Objective:
        async with app.db.transaction() as session:
            return await add_objective(
                session,
                OPERATOR,
                key,
                title,
                kpi=kpi,
                target=target,
                unit=unit,
                direction=direction,
                target_value=_number(target_value),
            )

    objective = run_with_app(work)
    click.echo(f"Added objective '{objective.key}': {objective.title}")
    click.echo(f"KPI: {describe_kpi(objective)}")


@objectives_group.command("edit")
@click.argument("key")
@click.option("--title", help="A new title.")
@click.option("--kpi", help="The indicator's name ('' clears it).")
@click.option("--target", help="The target as people say it ('' clears it).")
@click.option("--unit", help="The KPI's unit ('' clears it).")
@click.option("--direction", type=DIRECTIONS, help="Which way is better for the KPI.")
@click.option("--target-value", help="The numeric target ('none' clears it).")
def edit(
    key: str,
    title: str | None,
    kpi: str | None,
    target: str | None,
    unit: str | None,
    direction: str | None,
    target_value: str | None,
) -> None:
    """Change an objective's title or KPI: its unit, direction and numeric target. Its readings
    stay as they are."""

    def given(value: Any) -> Any:
        return KEEP if value is None else value

    number: Any = KEEP
    if target_value is not None:
        number = None if target_value.strip().lower() in ("", "none") else _number(target_value)

    async def work(app: Application) -> Edited:
        async with app.db.transaction() as session:
            return await edit_objective(
                session,
                OPERATOR,
                key,
                title=given(title),
                kpi=given(kpi),
                target=given(target),
                unit=given(unit),
                direction=given(direction),
                target_value=number,
            )

    edited = run_with_app(work)
    objective = edited.objective
    if not edited.changed:
        click.echo(f"'{objective.key}' already says that: nothing changed.")
    else:
        names = ", ".join(n.removeprefix("kpi_").replace("_", " ") for n in edited.changed)
        click.echo(f"Changed {names} of '{objective.key}'.")
    click.echo(f"KPI: {describe_kpi(objective)}")


def describe_kpi(objective: Objective) -> str:
    """'median first reply time in minutes, lower is better, target 60 minutes'."""
    parts = [objective.kpi or "no KPI named"]
    if objective.kpi_unit:
        parts[0] += f" in {objective.kpi_unit}"
    if objective.kpi_direction:
        parts.append(f"{objective.kpi_direction} is better")
    if objective.target_value is not None:
        parts.append(f"target {kpi_value(objective.target_value, objective.kpi_unit)}")
    elif objective.target:
        parts.append(f"target '{objective.target}' (no number)")
    return ", ".join(parts)


@objectives_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List objectives, with their KPI's unit, direction, target and latest reading."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            latest = await latest_readings(session)
            return [
                {
                    "key": o.key,
                    "title": o.title,
                    "kpi": o.kpi,
                    "target": o.target,
                    "unit": o.kpi_unit,
                    "direction": o.kpi_direction,
                    "target_value": o.target_value,
                    "latest_value": latest[o.id].value if o.id in latest else None,
                    "latest_date": latest[o.id].measured_on.date().isoformat()
                    if o.id in latest
                    else None,
                }
                for o in await list_objectives(session)
            ]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return

    def target(r: dict[str, Any]) -> str:
        number = kpi_value(r["target_value"], r["unit"]) if r["target_value"] is not None else ""
        if r["target"] and number:
            return f"{number} ({r['target']})"
        return number or r["target"] or ""

    print_table(
        "Objectives",
        ["Key", "Title", "KPI", "Unit", "Better", "Target", "Latest reading"],
        [
            [
                r["key"],
                r["title"],
                r["kpi"] or "",
                r["unit"] or "",
                r["direction"] or "",
                target(r),
                f"{kpi_value(r['latest_value'], r['unit'])} on {r['latest_date']}"
                if r["latest_date"]
                else "none yet",
            ]
            for r in records
        ],
        empty="No objectives yet. Add one with: advocacy objectives add KEY TITLE --kpi KPI",
    )


@objectives_group.command("record")
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


@objectives_group.command("import")
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


@objectives_group.command("readings")
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


def register(root: click.Group) -> None:
    root.add_command(objectives_group)
