"""``advocacy objectives``: the business objectives everything is tied to."""

from __future__ import annotations

from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import print_json, print_table, run_with_app
from bot.services.objectives import add_objective, list_objectives
from bot.services.permissions import OPERATOR
from bot.storage.models import Objective


@click.group("objectives")
def objectives_group() -> None:
    """Business objectives: promises to customers that content, voice and ideas serve."""


@objectives_group.command("add")
@click.argument("key")
@click.argument("title")
@click.option(
    "--kpi",
    help="The indicator that tells whether it is kept (for example: median first reply time).",
)
@click.option("--target", help="The target value of the KPI (for example: under 1 hour).")
def add(key: str, title: str, kpi: str | None, target: str | None) -> None:
    """Add an objective: a short KEY (reply-within-1h) and a TITLE people read."""

    async def work(app: Application) -> Objective:
        async with app.db.transaction() as session:
            return await add_objective(session, OPERATOR, key, title, kpi=kpi, target=target)

    objective = run_with_app(work)
    click.echo(f"Added objective '{objective.key}': {objective.title}")


@objectives_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List objectives."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            return [
                {"key": o.key, "title": o.title, "kpi": o.kpi, "target": o.target}
                for o in await list_objectives(session)
            ]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Objectives",
        ["Key", "Title", "KPI", "Target"],
        [[r["key"], r["title"], r["kpi"] or "", r["target"] or ""] for r in records],
        empty="No objectives yet. Add one with: advocacy objectives add KEY TITLE --kpi KPI",
    )


def register(root: click.Group) -> None:
    root.add_command(objectives_group)
