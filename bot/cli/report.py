"""``advocacy report objectives``: per objective, what the bot did and what came back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from bot.app import Application
from bot.charts import kpi_chart, objectives_chart
from bot.cli.runtime import fail_on_domain_error, print_json, print_table, run_with_app
from bot.compose.kpi_text import kpi_distance, kpi_trend, kpi_value, reading_day
from bot.compose.report_card import promise_summary
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
    help="Also draw content, ideas and sentiment per objective as a PNG chart into this file.",
)
@click.option(
    "--kpi-chart",
    "kpi_chart_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also draw each KPI over the period (with its target, ideas done, content sent and "
    "customer sentiment) as a PNG chart into this file.",
)
def objectives(
    since: str, output: str, chart_file: Path | None, kpi_chart_file: Path | None
) -> None:
    """Each objective's KPI: its latest value, change over the period, distance to target and
    trend, with the days ideas were done and content was sent; content sent and found useful,
    shares and clicks, customer voice and its sentiment trend, suggestions filed, answered,
    accepted and done, and the median time to a first answer."""
    with fail_on_domain_error():  # a bad or too long period: one line, not a traceback
        period = parse_period(since)
    if period is None:
        raise click.UsageError(
            "Give a period such as 30d; 'all' has no previous period to compare."
        )

    async def work(app: Application) -> ObjectivesReport:
        async with app.db.transaction() as session:
            return await build_objectives_report(
                session, OPERATOR, app.sealer, period, overdue_after=app.settings.answer_after
            )

    report = run_with_app(work)
    records = [row.as_dict() for row in report.rows]
    other = report.other_suggestions
    if output == "json":
        print_json(
            {
                "since": report.since.isoformat(),
                "until": report.until.isoformat(),
                "objectives": [
                    {**record, "timeline": row.timeline.as_dict()}
                    for record, row in zip(records, report.rows, strict=True)
                ],
                "other_suggestions": other.__dict__ if other else None,
                "promises": report.promises.as_dict(),
                "watched_themes": [w.as_dict() for w in report.watched_themes],
            }
        )
    elif output == "csv":
        buffer = io.StringIO()
        if records:
            writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows([csv_row(_flat(record)) for record in records])
        click.echo(buffer.getvalue(), nl=False)
    else:
        _kpi_table(report)
        _table(report)
        _promises(report)
    for file, draw in ((kpi_chart_file, kpi_chart), (chart_file, objectives_chart)):
        if file is None:
            continue
        try:
            file.write_bytes(draw(report))
        except OSError as error:
            raise click.ClickException(
                f"cannot write the chart to {file}: {error.strerror or error}"
            ) from None
        click.echo(f"Chart written to {file}.", err=output != "table")


def _flat(record: dict[str, object]) -> dict[str, object]:
    """A CSV cell per figure: lists of days as one cell, space-separated."""
    return {
        key: " ".join(map(str, value)) if isinstance(value, list) else value
        for key, value in record.items()
    }


def _kpi_table(report: ObjectivesReport) -> None:
    """The headline: each KPI where it stands, how it moved, and what happened meanwhile."""
    if not report.rows:
        return  # the figures' table says how to add an objective
    rows = []
    for row in report.rows:
        k = row.kpi_figures
        timeline = row.timeline
        ideas = (
            "in other (<5 people)"
            if timeline.ideas_withheld
            else " ".join(f"#{e.suggestion_id} {e.day:%d %b}" for e in timeline.ideas_done) or "–"
        )
        weeks = timeline.sentiment
        rows.append(
            [
                row.title,
                f"{kpi_value(k.latest, k.unit)} ({reading_day(k.latest_on, report.since)})"
                if k.latest_on
                else "–",
                kpi_trend(k.trend, k.change, k.unit),
                kpi_distance(k.met, k.to_go, k.target_value, k.unit),
                ideas,
                " ".join(f"{e.day:%d %b}" for e in timeline.content_sent) or "–",
                f"{weeks[0].mean:+.2f} → {weeks[-1].mean:+.2f}" if weeks else "–",
            ]
        )
    print_table(
        "KPIs",
        [
            "Objective",
            "Latest",
            "Trend (change)",
            "Target",
            "Ideas done",
            "Content sent",
            "Sentiment, weekly",
        ],
        rows,
        empty="No objectives yet. Add one with: advocacy objectives add KEY TITLE --kpi ...",
    )


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


def _promises(report: ObjectivesReport) -> None:
    """Decisions that named a KPI and what their reviews found (bot/services/promise_figures)."""
    if not report.rows:
        return
    print_table(
        "Promises: decisions that named a KPI",
        [
            "Objective",
            "Decisions made",
            "Reviews answered",
            "Moved as expected",
            "Helped",
            "Overdue now",
        ],
        [
            [
                row.title,
                p.decisions,
                p.answered,
                f"{p.moved_share:.0%}" if p.moved_share is not None else "–",
                f"{p.helped_share:.0%}" if p.helped_share is not None else "–",
                p.overdue,
            ]
            for row in report.rows
            for p in (row.promises,)
        ],
        empty="",
    )
    click.echo(f"Promises, all objectives: {promise_summary(report.promises)}.")


def register(root: click.Group) -> None:
    root.add_command(report_group)
