"""``advocacy objectives``: the business objectives everything is tied to, and their KPIs
(unit, direction, numeric target). Their readings' commands are in bot/cli/kpi_readings.py."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import func, select

from bot.app import Application
from bot.cli.kpi_readings import import_command, readings_command, record
from bot.cli.runtime import (
    fail_on_domain_error,
    print_json,
    print_table,
    run_with_app,
)
from bot.compose.kpi_text import describe_kpi, kpi_value, target_text
from bot.compose.text import plural
from bot.domain import KpiDirection
from bot.services.kpi_targets import parse_number
from bot.services.objectives import (
    KEEP,
    Edited,
    add_objective,
    edit_objective,
    get_objective,
    latest_readings,
    list_objectives,
)
from bot.services.permissions import OPERATOR
from bot.storage.models import KpiReading, Objective

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

    async def work(app: Application) -> tuple[Edited, int]:
        async with app.db.transaction() as session:
            was = (await get_objective(session, key)).kpi_unit
            edited = await edit_objective(
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
            if not was or "kpi_unit" not in edited.changed:
                return edited, 0
            read = await session.scalar(
                select(func.count())
                .select_from(KpiReading)
                .where(KpiReading.objective_id == edited.objective.id)
            )
            return edited, read or 0

    edited, read = run_with_app(work)
    objective = edited.objective
    if not edited.changed:
        click.echo(f"'{objective.key}' already says that: nothing changed.")
    else:
        names = ", ".join(n.removeprefix("kpi_").replace("_", " ") for n in edited.changed)
        click.echo(f"Changed {names} of '{objective.key}'.")
    click.echo(f"KPI: {describe_kpi(objective)}")
    if read:  # readings measured in the unit it had
        unit = objective.kpi_unit or "no unit"
        click.echo(
            f"The numbers of its {plural(read, 'reading')} stay as they were, now read in "
            f"{unit}: import them again if they were measured in the old unit."
        )


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
                target_text(r["target_value"], r["unit"], r["target"]),
                f"{kpi_value(r['latest_value'], r['unit'])} on {r['latest_date']}"
                if r["latest_date"]
                else "none yet",
            ]
            for r in records
        ],
        empty="No objectives yet. Add one with: advocacy objectives add KEY TITLE --kpi KPI",
    )


for command in (record, import_command, readings_command):
    objectives_group.add_command(command)


def register(root: click.Group) -> None:
    root.add_command(objectives_group)
