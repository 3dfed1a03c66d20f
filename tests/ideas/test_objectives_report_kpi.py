"""The objectives report's KPI figures (latest value, change over the period, distance to target
and trend, each read in the direction that is better for the KPI) and the timeline beside them
(ideas done, content sent, customers' weekly sentiment), in the CLI, the chat card and the
chart."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from click.testing import CliRunner

from bot.app import Application
from bot.charts import KPI_TITLE_WIDTH, kpi_figure, kpi_headline
from bot.cli.main import cli
from bot.compose.report_card import objectives_report_message
from bot.domain import Role
from bot.events import CommandInvoked
from bot.messages import Fact
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.kpi_readings import day_start, record_reading
from bot.services.objective_timeline import IdeaDone
from bot.services.objectives import add_objective, get_objective
from bot.services.objectives_report import KpiFigures, build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.suggestions import answer_suggestion, file_suggestion
from bot.storage.models import VoiceItem
from bot.storage.types import utcnow
from bot.web import build_web_app
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform

NOW = utcnow()


def ago(days: int) -> Any:
    return NOW - timedelta(days=days)


async def objectives_with_readings(app: Application) -> None:
    """reply: lower is better, target 60 minutes, 80 before the period, 74 then 55 in it (met,
    better); nps: higher, target 40, 30 then 33 (7 to go, better); churn: lower, target 1.5,
    2 then 2.5 (worse); calls: no direction, 100 then 100.5 (flat); quiet: no readings."""
    readings = {
        "reply": [(40, 80), (20, 74), (5, 55)],
        "nps": [(35, 30), (10, 33)],
        "churn": [(25, 2), (3, 2.5)],
        "calls": [(25, 100), (3, 100.5)],
    }
    async with app.db.transaction() as session:
        objectives = {
            "reply": await add_objective(
                session, OPERATOR, "reply", "Answer fast", target="under 1 hour", unit="minutes"
            ),
            "nps": await add_objective(
                session,
                OPERATOR,
                "nps",
                "Loved",
                unit="points",
                direction="higher",
                target_value=40,
            ),
            "churn": await add_objective(
                session,
                OPERATOR,
                "churn",
                "Customers stay",
                unit="%",
                direction="lower",
                target_value=1.5,
            ),
            "calls": await add_objective(session, OPERATOR, "calls", "Calls", target_value=90),
            "quiet": await add_objective(session, OPERATOR, "quiet", "Quiet"),
        }
        for key, values in readings.items():
            for back, value in values:
                await record_reading(session, OPERATOR, objectives[key], value, ago(back))


async def test_each_kpis_latest_change_distance_and_trend_respect_its_direction(
    app: Application,
) -> None:
    await objectives_with_readings(app)
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    kpis = {row.key: row.kpi_figures for row in report.rows}
    reply = kpis["reply"]
    assert (reply.latest, reply.latest_on.date()) == (55, ago(5).date())  # type: ignore[union-attr]
    # The change counts from the last reading before the period (80), not its first.
    assert (reply.start, reply.change, reply.met, reply.to_go, reply.trend) == (
        80, -25, True, 0, "better"
    )  # fmt: skip
    nps = kpis["nps"]
    assert (nps.change, nps.met, nps.to_go, nps.trend) == (3, False, 7, "better")
    churn = kpis["churn"]
    assert (churn.change, churn.met, churn.to_go, churn.trend) == (0.5, False, 1.0, "worse")
    calls = kpis["calls"]  # no direction: met only on the target; moved under 1%: flat
    assert (calls.met, calls.to_go, calls.trend) == (False, 10.5, "flat")
    quiet = kpis["quiet"]
    assert (quiet.latest, quiet.change, quiet.met, quiet.to_go, quiet.trend) == (None,) * 5
    # A short period: its one reading is compared with the last one before the period.
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=4))
    churn = {row.key: row.kpi_figures for row in report.rows}["churn"]
    assert (churn.latest, churn.start, churn.change, churn.trend) == (2.5, 2, 0.5, "worse")


@pytest.mark.parametrize(
    ("direction", "start", "latest", "target", "met", "to_go", "trend"),
    [
        ("higher", 10, 12, 11, True, 0, "better"),
        ("higher", 12, 10, 11, False, 1, "worse"),
        ("lower", 12, 10, 11, True, 0, "better"),
        ("lower", 10, 12, 11, False, 1, "worse"),
        (None, 10, 12, 11, False, 1, "up"),
        (None, 12, 10, 10, True, 0, "down"),
        ("lower", 0, 0, None, None, None, "flat"),
    ],
)
def test_kpi_figures_read_met_and_trend_in_the_kpis_direction(
    direction: str | None,
    start: float,
    latest: float,
    target: float | None,
    met: bool | None,
    to_go: float | None,
    trend: str,
) -> None:
    figures = KpiFigures(
        None, direction, target, latest=latest, latest_on=ago(1), start=start, start_on=ago(9)
    )
    assert (figures.met, figures.to_go, figures.trend) == (met, to_go, trend)


async def test_the_timeline_shows_ideas_done_content_sent_and_weekly_sentiment(
    app: Application, remote: RemotePlatform
) -> None:
    await objectives_with_readings(app)
    boss = await make_member(app, "boss", role=Role.MANAGER)
    authors = [await make_member(app, f"emp{n}", manager="boss") for n in range(5)]
    async with app.db.transaction() as session:
        ideas = [
            await file_suggestion(
                session, app.sealer, author, f"Idea {n}", platform="remote", objective_key="reply"
            )
            for n, author in enumerate(authors)
        ]
        await answer_suggestion(session, app.sealer, boss, ideas[1].id, "Shipped", status="done")
        await answer_suggestion(session, app.sealer, boss, ideas[2].id, "Soon", status="planned")
        await add_content(
            session, OPERATOR, "https://example.com/a", title="A", objective_key="reply"
        )
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        await start_run(session, app.sealer, digest, actor=OPERATOR)
        reply = await get_objective(session, "reply")
        for back, sentiment in ((20, -0.6), (19, -0.2), (2, 0.5)):
            session.add(
                VoiceItem(
                    source="helpdesk",
                    external_id=f"v{back}",
                    text="t",
                    sentiment=sentiment,
                    objective_id=reply.id,
                    received_at=ago(back),
                )
            )
    assert app.worker is not None
    await app.worker.drain()
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    row = {row.key: row for row in report.rows}["reply"]
    timeline = row.timeline
    assert [(e.suggestion_id, e.day.date()) for e in timeline.ideas_done] == [
        (ideas[1].id, NOW.date())
    ]
    [sent] = timeline.content_sent
    assert (sent.day.date(), sent.items, sent.messages) == (NOW.date(), 1, 6)  # 6 people
    # Weeks counted back from the report's end: 2 days ago, and the week of 19 and 20 days ago.
    assert [(round(w.mean, 2), w.items) for w in timeline.sentiment] == [(-0.4, 2), (0.5, 1)]
    assert timeline.sentiment[0].end < timeline.sentiment[1].end
    # The line starts from the last reading before the period.
    assert [p.value for p in timeline.readings] == [80, 74, 55]
    figures = row.as_dict()
    assert figures["ideas_done_on"] == [NOW.date().isoformat()]
    assert figures["kpi_trend"] == "better" and figures["kpi_target_met"] is True
    # The chat card says it, and the chart draws it.
    message = objectives_report_message(report, "https://bot.example/k.png", None)
    [card] = [card for card in message.cards if card.title == "Answer fast"]
    facts = {fact.label: fact.value for fact in card.facts}
    assert facts["KPI"].startswith("55 minutes on ")
    assert facts["Trend"] == "better (−25 minutes)"
    assert facts["Target"] == "met (target 60 minutes)"
    assert f"1 idea done (#{ideas[1].id} on " in facts["Meanwhile"]
    assert "content sent on 1 day" in facts["Meanwhile"]
    assert "weekly sentiment -0.40 → +0.50" in facts["Meanwhile"]
    figure = kpi_figure(report)
    titles = [axes.get_title(loc="left") for axes in figure.axes]
    assert any(
        "Answer fast" in t and "55 minutes · better (−25 minutes) · met" in t for t in titles
    )


async def test_ideas_of_fewer_than_five_people_are_not_shown_on_the_timeline(
    app: Application,
) -> None:
    await objectives_with_readings(app)
    boss = await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(
            session, app.sealer, ann, "Mine", platform="remote", objective_key="reply",
            anonymous=True,
        )  # fmt: skip
        await answer_suggestion(session, app.sealer, boss, idea.id, "Done", status="done")
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    row = {row.key: row for row in report.rows}["reply"]
    assert row.timeline.ideas_withheld and row.timeline.ideas_done == []
    assert row.as_dict()["ideas_done_on"] is None
    assert row.timeline.as_dict()["ideas_done"] is None


def test_the_report_in_every_format_carries_the_kpi(cli_env: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("objectives", "add", "reply", "Answer fast", "--target", "under 1 hour", "--unit", "min")
    run("objectives", "record", "reply", "74", "--date", ago(20).date().isoformat())
    run("objectives", "record", "reply", "55")
    table = run("report", "objectives")
    assert "55 minutes" in table and "better (−19 minutes)" in table
    assert "met (target 60 minutes)" in table
    [record] = json.loads(run("report", "objectives", "--format", "json"))["objectives"]
    assert (record["kpi_latest"], record["kpi_change"], record["kpi_trend"]) == (55, -19, "better")
    assert [r["value"] for r in record["timeline"]["readings"]] == [74, 55]
    csv_text = run("report", "objectives", "--format", "csv")
    header, line = csv_text.splitlines()
    assert "kpi_latest" in header.split(",") and ",better," in line
    chart = tmp_path / "kpi.png"
    run("report", "objectives", "--kpi-chart", str(chart))
    assert chart.read_bytes().startswith(b"\x89PNG")


async def test_report_in_chat_leads_with_the_kpi_chart_a_signed_link_serves(
    app: Application,
) -> None:
    await objectives_with_readings(app)
    await make_member(app, "boss", role=Role.MANAGER)
    reply = await app.router.handle(
        CommandInvoked(actor("boss"), command="report", text="--since 30d")
    )
    [message] = reply.messages
    header, *cards = message.cards
    assert header.image_url and app.charts.read(header.image_url.rsplit("/", 1)[1]).chart == "kpi"
    [answer] = [card for card in cards if card.title == "Answer fast"]
    assert Fact("Target", "met (target 60 minutes)") in answer.facts
    activity = cards[-1]
    assert activity.image_url and app.charts.read(activity.image_url.rsplit("/", 1)[1]).chart == (
        "objectives"
    )
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    try:
        path = "/charts/" + header.image_url.rsplit("/", 1)[1]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{server.port}{path}") as chart,
        ):
            assert chart.status == 200 and chart.content_type == "image/png"
            assert (await chart.read()).startswith(b"\x89PNG")
    finally:
        await server.close()


OLD = NOW.replace(year=NOW.year - 2) - timedelta(days=3)


async def test_a_latest_reading_from_before_the_period_says_its_year_everywhere(
    app: Application,
) -> None:
    """A KPI last read two years ago is not "37% (26 Sep)" beside this month's figures: the
    chat card and the chart's headline say the reading's year and that it is old."""
    old = OLD
    async with app.db.transaction() as session:
        churn = await add_objective(session, OPERATOR, "churn", "Customers stay", unit="%")
        await record_reading(session, OPERATOR, churn, 37, old)
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    said = f"{old:%b} {old.day}, {old.year}, before the period"  # Babel's English date
    [row] = report.rows
    assert kpi_headline(row, report.since) == f"37% ({said}) · not enough readings · no target set"
    [card] = [c for c in objectives_report_message(report, None).cards if c.title == row.title]
    assert Fact("KPI", f"37% on {said}") in card.facts


def test_the_reports_table_says_the_year_of_a_reading_from_before_the_period(
    cli_env: dict[str, str],
) -> None:
    for args in (
        ("objectives", "add", "churn", "Customers stay", "--unit", "%"),
        ("objectives", "record", "churn", "37", "--date", OLD.date().isoformat()),
        ("report", "objectives"),
    ):
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert f"37% ({OLD:%b} {OLD.day}, {OLD.year}," in result.output


@pytest.mark.parametrize("narrow", [False, True])
async def test_ideas_done_days_apart_get_labels_that_do_not_run_into_each_other(
    app: Application, narrow: bool
) -> None:
    """Five ideas done within a week, at a phone's width too: every star is drawn, the labels
    name every idea (or say how many more) and no label covers another."""
    await objectives_with_readings(app)
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    row = {row.key: row for row in report.rows}["reply"]
    row.timeline.ideas_done = [
        IdeaDone(day_start(ago(back)), idea)
        for back, idea in ((16, 11), (14, 14), (13, 13), (12, 15), (8, 12))
    ]
    figure = kpi_figure(report, narrow=narrow)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    [axes] = [a for a in figure.axes if "Answer fast" in a.get_title(loc="left")]
    labels = [text for text in axes.texts if "#" in text.get_text()]
    boxes = [text.get_window_extent(renderer) for text in labels]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    named = " ".join(text.get_text() for text in labels)
    shown = named.count("#") + sum(int(n) for n in re.findall(r"\+(\d+)", named))
    assert shown == 5
    stars = sum(len(line.get_xdata()) for line in axes.lines if line.get_marker() == "*")
    assert stars == 5


async def test_a_long_headline_is_wrapped_to_a_phones_width_not_cut_off(app: Application) -> None:
    """ "1.39 per 1,000 customers to go (target 2 per 1,000 customers)" is longer than a phone's
    line: it wraps instead of running off the chart's right edge."""
    await objectives_with_readings(app)
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    row = {row.key: row for row in report.rows}["churn"]
    row.kpi_figures.unit = "per 1,000 customers"
    headline = kpi_headline(row, report.since, KPI_TITLE_WIDTH[True])
    lines = headline.splitlines()
    assert all(len(line) <= KPI_TITLE_WIDTH[True] for line in lines), lines
    assert " ".join(lines).replace(" · ", " ") == (
        "2.5 per 1,000 customers worse (+0.5 per 1,000 customers) "
        "1 per 1,000 customers to go (target 1.5 per 1,000 customers)"
    )


async def test_an_objective_without_readings_is_named_in_the_kpi_charts_title_not_drawn(
    app: Application,
) -> None:
    """A database with objectives nobody measures yet: the chart draws the measured ones and
    names the others in one line, instead of a blank panel each."""
    await objectives_with_readings(app)
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))
    measured = [row.title for row in report.rows if row.timeline.readings]
    quiet = [row.title for row in report.rows if not row.timeline.readings]
    assert measured and quiet
    figure = kpi_figure(report)
    drawn = {axes.get_title(loc="left") for axes in figure.axes}
    assert all(any(title in line for line in drawn) for title in measured)
    assert not any(title in line for title in quiet for line in drawn)
    heading = figure.get_suptitle()
    assert all(title in heading for title in quiet)
    assert "No reading in the period" in heading
