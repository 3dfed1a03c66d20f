"""``advocacy report objectives``: per objective, what the bot did and what came back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from bot.app import Application
from bot.charts import objectives_chart
from bot.cli.runtime import fail_on_domain_error, print_json, print_table, run_with_app
from bot.compose.text import plural
from bot.compose.theme_watch import TITLE as WATCH_TITLE
from bot.compose.theme_watch import watch_line
from bot.services.objectives_report import ObjectivesReport, build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.rollups import parse_period
from bot.text_safety import csv_row


@click.group("report")
def report_group() -> None:
    """Reports by business objective (not by likes or impressions)."""


@report_group.command("objectives")
@click.option("--since", default="30d", show_default=True, help="Period: 7d, 4w, 6m...")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--chart",
    "chart_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also draw the report as a PNG chart into this file.",
)
def objectives(since: str, output: str, chart_file: Path | None) -> None:
    """Content sent and found useful, shares and clicks, customer voice and its sentiment trend,
    suggestions filed, answered, accepted and done, and the median time to a first answer."""
    with fail_on_domain_error():  # a bad or too long period: one line, not a traceback
        period = parse_period(since)
    if period is None:
        raise click.UsageError(
            "Give a period such as 30d; 'all' has no previous period to compare."
        )

    async def work(app: Application) -> ObjectivesReport:
        async with app.db.transaction() as session:
            return await build_objectives_report(session, OPERATOR, app.sealer, period)

    report = run_with_app(work)
    records = [row.as_dict() for row in report.rows]
    other = report.other_suggestions
    if output == "json":
        print_json(
            {
                "since": report.since.isoformat(),
                "until": report.until.isoformat(),
                "objectives": records,
                "other_suggestions": other.__dict__ if other else None,
                "watched_themes": [w.as_dict() for w in report.watched_themes],
            }
        )
    elif output == "csv":
        buffer = io.StringIO()
        if records:
            writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows([csv_row(record) for record in records])
        click.echo(buffer.getvalue(), nl=False)
    else:
        _table(report)
    if chart_file is not None:
        try:
            chart_file.write_bytes(objectives_chart(report))
        except OSError as error:
            raise click.ClickException(
                f"cannot write the chart to {chart_file}: {error.strerror or error}"
            ) from None
        click.echo(f"Chart written to {chart_file}.", err=output != "table")


def _table(report: ObjectivesReport) -> None:
    def percent(value: float | None) -> str:
        return f"{value:.0%}" if value is not None else "–"

    def signed(value: float | None) -> str:
        return f"{value:+.2f}" if value is not None else "–"

    rows = []
    for row in report.rows:
        s = row.suggestions
        ideas = (
            "in other (<5 people)"
            if s.merged_into_other
            else f"{s.filed} / {s.answered} / {s.accepted} / {s.done}"
        )
        rows.append(
            [
                row.title,
                row.owner or "–",
                f"{row.items_sent} to {row.reached}",
                f"{percent(row.useful_share)} ({row.found_useful})",
                f"{row.shares} / {row.clicks}",
                f"{row.voice} ({row.voice - row.voice_before:+d})",
                f"{signed(row.sentiment)} ({signed(row.sentiment_trend)})",
                ideas,
                f"{s.median_days_to_answer} d" if s.median_days_to_answer is not None else "–",
            ]
        )
    days = round((report.until - report.since).total_seconds() / 86_400)
    print_table(
        f"Objectives, last {plural(days, 'day')}",
        [
            "Objective",
            "Owner",
            "Content: items to people",
            "Found useful",
            "Shares / clicks",
            "Customer voice (change)",
            "Sentiment (trend)",
            "Ideas: filed / answered / accepted / done",
            "Median to first answer",
        ],
        rows,
        empty="No objectives yet. Add one with: advocacy objectives add KEY TITLE --kpi ...",
    )
    if report.other_suggestions is not None:
        o = report.other_suggestions
        click.echo(
            f"Suggestions of groups under 5 people (merged so no one can be singled out): "
            f"{o.filed} filed, {o.answered} answered, {o.accepted} accepted, {o.done} done."
        )
    if report.watched_themes:
        click.echo(f"\n{WATCH_TITLE}:")
        for watch in report.watched_themes:
            click.echo(f"  {watch_line(watch)}")


def register(root: click.Group) -> None:
    root.add_command(report_group)
