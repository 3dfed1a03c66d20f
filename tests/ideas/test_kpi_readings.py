"""KPIs are measured, not named: an objective's unit, direction and numeric target (read from
the written target where it says one plainly), and its readings coming in from the CLI (one, or a
CSV with line-numbered rejects), a signed webhook (over real HTTP: a good signature, a bad one, a
replay) and the console's objectives page (a refused reading comes back beside its field)."""

from __future__ import annotations

import codecs
import importlib.util
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy
from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result
from sqlalchemy import select

from adapters.shell import ShellAdapterFactory
from bot import kpi_webhook
from bot.app import Application, open_application
from bot.cli.main import cli
from bot.config import Settings
from bot.domain import Role
from bot.errors import InvalidInput, PermissionDenied
from bot.http_limits import SIGNED_ENDPOINTS
from bot.i18n.formats import format_date
from bot.platform import AdapterRegistry
from bot.services.kpi_import import import_kpi_file
from bot.services.kpi_readings import record_reading
from bot.services.kpi_targets import read_written_target
from bot.services.objectives import (
    KEEP,
    add_objective,
    edit_objective,
    get_objective,
    list_objectives,
)
from bot.services.permissions import OPERATOR
from bot.signed_webhook import sign
from bot.storage.models import KpiReading
from bot.storage.types import utcnow
from bot.web import build_web_app
from content.demo.loader import load_demo
from tests.browser_support import chromium_page, requires_chromium, screenshot, screenshot_dir
from tests.conftest import make_member
from tests.fakes import RemoteAdapterFactory, RemotePlatform
from tests.operations import test_console
from tests.operations.test_console import Browser, signed_in
from tests.operations.test_console_browser import loaded_width
from tests.operations.test_console_browser import sign_in_path as browser_sign_in_path
from tests.operations.test_console_forms import parsed, refused_beside

server, browsers = test_console.server, test_console.browsers  # the console's fixtures

ROOT = Path(__file__).resolve().parents[2]
SECRET = "kpi-webhook-secret-for-tests"
TODAY = utcnow().date()


def day(back: int) -> str:
    return (TODAY - timedelta(days=back)).isoformat()


# ----- objectives: unit, direction, numeric target --------------------------------------------


def migration_reader():  # type: ignore[no-untyped-def]
    path = ROOT / "bot/storage/migrations/versions/0013_outcomes.py"
    spec = importlib.util.spec_from_file_location("outcomes_0013", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.read_written_target


@pytest.mark.parametrize(
    "text",
    ["under 1 hour", "at least 90%", "< 4.5", "NPS over 40", "within 2 days", "between 2 and 4 h",
     "fast", "max 30 mins", "above 4,5 stars", "at least 1,000 active users", "1.5k signups",
     "no more than 2 per week"],
)  # fmt: skip
def test_the_services_reading_of_a_written_target_is_the_migrations(text: str) -> None:
    """Targets written before the migration and after it are read the same way."""
    read = read_written_target(text)
    assert (read.value, read.unit, read.direction) == migration_reader()(text)


@pytest.mark.parametrize(
    ("text", "read"),
    [("at least 1,000 active users", (1000, None, "higher")),
     ("1,000,000 EUR", (1_000_000, "eur", None)),
     ("above 4,5 stars", (4.5, "stars", "higher")),
     ("under 2 business days", (2, None, "lower")),
     ("no more than 2 per week", (2, None, "lower")),
     ("under 1 hour per ticket", (1, "hours", "lower")),
     ("1.5k signups", (None, None, None)),
     ("95 percent", (95, "%", None))],
)  # fmt: skip
def test_a_written_targets_thousands_are_thousands_and_only_a_unit_is_taken_for_one(
    text: str, read: tuple[float | None, str | None, str | None]
) -> None:
    """ "1,000" is a thousand, not 1.0; the word after the number is the unit only when it is one
    (hours, %) or ends the target ("4.5 stars"): "active" in "1,000 active users" is not."""
    written = read_written_target(text)
    assert (written.value, written.unit, written.direction) == read


async def test_a_written_target_fills_unit_direction_and_number_in_the_kpis_unit(
    app: Application,
) -> None:
    async with app.db.transaction() as session:
        reply = await add_objective(
            session, OPERATOR, "reply", "Answer fast", kpi="median first reply",
            target="under 1 hour", unit="mins",
        )  # fmt: skip
        nps = await add_objective(session, OPERATOR, "nps", "Loved", target="at least 40")
        vague = await add_objective(session, OPERATOR, "vague", "Be nice", target="better")
    # "under 1 hour" for a KPI in minutes is 60 minutes, lower is better.
    assert (reply.kpi_unit, reply.kpi_direction, reply.target_value) == ("minutes", "lower", 60)
    assert (nps.kpi_unit, nps.kpi_direction, nps.target_value) == (None, "higher", 40)
    assert (vague.kpi_unit, vague.kpi_direction, vague.target_value) == (None, None, None)
    assert reply.target == "under 1 hour"  # the note kept as written
    async with app.db.transaction() as session:
        edited = await edit_objective(
            session, OPERATOR, "nps", unit="points", target_value=KEEP, target=KEEP
        )
        assert edited.changed == ("kpi_unit",)
        # A number given wins over the written target's.
        edited = await edit_objective(session, OPERATOR, "reply", target="under 2 hours")
        assert edited.objective.target_value == 120 and edited.objective.kpi_unit == "minutes"
        edited = await edit_objective(
            session, OPERATOR, "reply", target="under 3 hours", target_value=150
        )
        assert edited.objective.target_value == 150
        with pytest.raises(InvalidInput, match="direction"):
            await edit_objective(session, OPERATOR, "reply", direction="sideways")
        with pytest.raises(InvalidInput, match="Nothing to change"):
            await edit_objective(session, OPERATOR, "reply")


async def test_only_strategists_and_managers_define_kpis(app: Application) -> None:
    ann = await make_member(app, "ann")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "reply", "Answer fast")
        with pytest.raises(PermissionDenied):
            await edit_objective(session, ann, "reply", unit="minutes")
        with pytest.raises(PermissionDenied):
            await add_objective(session, ann, "other", "Other")


# ----- the CLI ---------------------------------------------------------------------------------


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_objectives_take_a_measured_kpi_and_list_it_with_the_latest_reading(
    cli_env: dict[str, str],
) -> None:
    added = run(
        "objectives", "add", "reply", "Answer fast", "--kpi", "median first reply",
        "--target", "under 1 hour", "--unit", "minutes",
    ).output  # fmt: skip
    assert "in minutes, lower is better, target 60 minutes" in added
    run("objectives", "add", "nps", "Loved", "--direction", "higher", "--target-value", "40")
    edited = run("objectives", "edit", "nps", "--unit", "points").output
    assert "Changed unit of 'nps'" in edited and "target 40 points" in edited
    assert "nothing changed" in run("objectives", "edit", "nps", "--unit", "points").output
    bad = run("objectives", "edit", "nps", "--target-value", "lots", code=1).output
    assert bad.strip() == "Error: the target value 'lots' is not a number"
    run("objectives", "record", "reply", "74", "--date", day(10))
    listed = json.loads(run("objectives", "list", "--json").output)
    [reply] = [o for o in listed if o["key"] == "reply"]
    assert (reply["unit"], reply["direction"], reply["target_value"]) == ("minutes", "lower", 60)
    assert (reply["latest_value"], reply["latest_date"]) == (74, day(10))
    table = run("objectives", "list").output
    assert "74 minutes on " + day(10) in table and "none yet" in table
    run("objectives", "add", "live", "Live in a week", "--target", "7 days")
    [live] = [line for line in run("objectives", "list").output.splitlines() if "│ live " in line]
    assert "7 days" in live and "7 days (7 days)" not in live  # the target said once


def test_a_new_unit_of_time_converts_the_target_and_says_the_readings_keep_their_numbers(
    cli_env: dict[str, str],
) -> None:
    run("objectives", "add", "reply", "Answer fast", "--target", "under 1 hour", "--unit", "min")
    run("objectives", "record", "reply", "74", "--date", day(3))
    edited = run("objectives", "edit", "reply", "--unit", "hours").output
    # 60 minutes is 1 hour, not 60 hours; the reading of 74 is not silently 74 hours.
    assert "lower is better, target 1 hour" in edited
    assert "The numbers of its 1 reading stay as they were, now read in hours" in edited
    back = run("objectives", "edit", "reply", "--unit", "minutes").output
    assert "target 60 minutes" in back
    run("objectives", "add", "nps", "Loved", "--target-value", "40")
    first = run("objectives", "edit", "nps", "--unit", "points").output
    assert "target 40 points" in first and "stay as they were" not in first


def test_a_misspelt_objective_is_offered_the_closest_and_a_date_off_the_calendar_says_so(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run("objectives", "add", "nps", "Loved")
    run("objectives", "add", "reply-within-1h", "Answer fast")
    typo = run("objectives", "record", "nsp", "40", code=1).output
    assert typo.startswith("Error: Unknown objective 'nsp'. Did you mean 'nps'? Known objectives")
    leap = run("objectives", "record", "nps", "40", "--date", "2025-02-29", code=1).output
    assert leap.strip() == "Error: the date '2025-02-29' is not a day of the calendar"
    path = tmp_path / "kpis.csv"
    path.write_text(f"objective,date,value\nreply-within-1,{day(2)},52\n")
    output = run("objectives", "import", str(path), code=1).output
    assert "unknown objective 'reply-within-1' (did you mean reply-within-1h? known: " in output


def test_a_target_written_as_its_number_reads_once_and_another_beside_its_number(
    cli_env: dict[str, str],
) -> None:
    run("objectives", "add", "stars", "Loved app", "--target", "4.5 stars")
    run("objectives", "add", "reply", "Answer fast", "--target", "under 1 hour")
    table = run("objectives", "list").output
    assert "4.5 stars" in table and "4.5 stars (4.5 stars)" not in table
    assert "1 hour (under 1 hour)" in table


async def test_the_objectives_page_says_a_target_once_and_one_without_a_number_as_such(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "stars", "Loved app", target="4.5 stars")
        await add_objective(session, OPERATOR, "reply", "Answer fast", target="under 1 hour")
        await add_objective(session, OPERATOR, "fast", "Be fast", kpi="speed", target="fast")
    await signed_in(app, browsers[0], "boss")
    status, html = await browsers[0].get("/console/objectives")
    assert status == 200
    assert "target 4.5 stars</small>" in html and "(<bdi>4.5 stars</bdi>)" not in html
    assert "target 1 hour (<bdi>under 1 hour</bdi>)" in html
    # A target with no number says it is one, as the CLI does, not "speed (fast)".
    assert "<bdi>speed</bdi>, target '<bdi>fast</bdi>' (no number)</small>" in html


def test_recording_a_reading_says_added_updated_or_unchanged_and_the_change(
    cli_env: dict[str, str],
) -> None:
    run("objectives", "add", "reply", "Answer fast", "--unit", "minutes")
    first = run("objectives", "record", "reply", "74", "--date", day(7)).output
    assert first.strip() == f"Added reply on {day(7)}: 74 minutes."
    today = run("objectives", "record", "reply", "52").output
    assert (
        today.strip()
        == f"Added reply on {day(0)}: 52 minutes; −22 minutes since {day(7)} (74 minutes)."
    )
    again = run("objectives", "record", "reply", "52").output
    assert again.startswith(f"Unchanged: reply on {day(0)} was already 52 minutes")
    fixed = run("objectives", "record", "reply", "50.5", "--date", day(0)).output
    assert fixed.startswith(f"Updated reply on {day(0)}: 50.5 minutes (was 52 minutes)")
    for args, says in (
        (("reply", "fast"), "the value 'fast' is not a number"),
        (("reply", "3", "--date", "06/12/2026"), "or month/day; write it YYYY-MM-DD"),
        (("reply", "3", "--date", day(-30)), "in the future"),
        (("nope", "3"), "Unknown objective 'nope'"),
    ):
        output = run("objectives", "record", *args, code=1).output
        assert output.startswith("Error: ") and says in output and "Traceback" not in output
    readings = json.loads(run("objectives", "readings", "reply", "--json").output)
    assert [(r["date"], r["value"]) for r in readings["readings"]] == [(day(0), 50.5), (day(7), 74)]
    table = run("objectives", "readings", "reply").output
    assert "−23.5 minutes" in table
    assert run("objectives", "readings", "reply", "--csv").output == (
        f"objective,date,value\nreply,{day(0)},50.5\nreply,{day(7)},74\n"
    )


def test_a_percentage_is_refused_for_a_kpi_in_another_unit_and_taken_for_one_in_percent(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """ "50%" typed for a KPI in hours is a slip, not 50 hours; for a KPI in % (or with no unit)
    the % is the unit's."""
    run("objectives", "add", "reply", "Answer fast", "--unit", "hours")
    run("objectives", "add", "csat", "Happy", "--unit", "%")
    refused = run("objectives", "record", "reply", "50%", code=1).output
    assert refused.strip() == (
        "Error: the value '50%' is a percentage, but this KPI is measured in hours"
    )
    assert "Added csat" in run("objectives", "record", "csat", "91.5%").output
    path = tmp_path / "kpis.csv"
    path.write_text(f"objective,date,value\nreply,{day(3)},50%\ncsat,{day(3)},90%\n")
    result = run("objectives", "import", str(path), code=2)
    assert ":2: rejected: the value '50%' is a percentage, but this KPI" in result.output
    assert result.output.splitlines()[-1] == "1 added, 0 updated, 0 unchanged, 1 rejected."
    readings = json.loads(run("objectives", "readings", "reply", "--json").output)
    assert readings["readings"] == []


def test_a_csv_import_keeps_good_rows_and_rejects_bad_ones_by_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run("objectives", "add", "reply", "Answer fast", "--unit", "minutes")
    run("objectives", "add", "nps", "Loved")
    path = tmp_path / "kpis.csv"
    path.write_bytes(
        codecs.BOM_UTF8
        + (
            "Value;OBJECTIVE;Date\r\n"
            f"74;reply;{day(20)}\r\n"
            f"3;refunds;{day(20)}\r\n"
            "60;reply;20/11/2026\r\n"
            f"fast;reply;{day(12)}\r\n"
            f"61;reply;{day(-40)}\r\n"
            "\r\n"
            f"35;NPS;{day(20)}\r\n"
            f"62;reply;{day(5)}\r\n"
            f"63;reply;{day(5)}\r\n"
        ).encode()
    )
    result = run("objectives", "import", str(path), code=2)
    assert result.output.splitlines()[-1] == "3 added, 0 updated, 0 unchanged, 5 rejected."
    rejects = [line for line in result.output.splitlines() if ": rejected: " in line]
    assert [line.split(":")[1] for line in rejects] == ["3", "4", "5", "6", "10"]
    assert "unknown objective 'refunds' (known: nps, reply)" in rejects[0]
    assert "'20/11/2026' reads as day/month or month/day; write it YYYY-MM-DD" in rejects[1]
    assert "'fast' is not a number" in rejects[2]
    assert "in the future" in rejects[3]
    assert f"reply on {day(5)} is already on line 9" in rejects[4]
    again = json.loads(run("objectives", "import", str(path), "--json", code=2).output)
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert again["rejected"][0] == {
        "line": 3, "error": "unknown objective 'refunds' (known: nps, reply)"
    }  # fmt: skip


def test_dotted_dates_of_european_spreadsheets_are_read_day_first(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Excel in Germany writes 06.12.2026: dotted dates are always day first, so they are read;
    01/02/2026 (January or February?) is still refused, naming a way to write it."""
    run("objectives", "add", "nps", "Loved")
    first, second = date.fromisoformat(day(9)), date.fromisoformat(day(3))
    path = tmp_path / "excel.csv"
    path.write_text(
        "objective;date;value\r\n"
        f"nps;{first:%d.%m.%Y};40\r\n"
        f"nps;{second:%Y/%m/%d};41\r\n"
        "nps;01/02/2026;42\r\n"
    )
    result = run("objectives", "import", str(path), code=2)
    assert result.output.splitlines()[-1] == "2 added, 0 updated, 0 unchanged, 1 rejected."
    assert "excel.csv:4: rejected: the date '01/02/2026' reads as day/month" in result.output
    readings = json.loads(run("objectives", "readings", "nps", "--json").output)["readings"]
    assert [(r["date"], r["value"]) for r in readings] == [(day(3), 41), (day(9), 40)]


def test_negative_values_and_decimal_commas_are_read_and_an_ambiguous_comma_is_refused(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """An NPS of -12 is a value, not an option; Excel in much of Europe writes 52,5 in a file
    separated by semicolons; 1,000 (a thousand, or one?) is not guessed at."""
    run("objectives", "add", "nps", "Loved")
    added = run("objectives", "record", "nps", "-12", "--date", day(9)).output
    assert added.strip() == f"Added nps on {day(9)}: -12."
    run("objectives", "record", "nps", "--date", day(8), "-3,5")
    path = tmp_path / "excel.csv"
    path.write_text(
        "objective;date;value\r\n"
        f"nps;{day(7)};52,5\r\n"
        f"nps;{day(6)};1.234,5\r\n"
        f"nps;{day(5)};1,000\r\n"
    )
    result = run("objectives", "import", str(path), code=2)
    assert result.output.splitlines()[-1] == "2 added, 0 updated, 0 unchanged, 1 rejected."
    assert "excel.csv:4: rejected: the value '1,000' could be 1000 or 1.000" in result.output
    readings = json.loads(run("objectives", "readings", "nps", "--json").output)["readings"]
    assert [(r["date"], r["value"]) for r in readings] == [
        (day(6), 1234.5), (day(7), 52.5), (day(8), -3.5), (day(9), -12)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "read"),
    [("under 1,000 tickets", (1000, "tickets", "lower")),
     ("above 4,5 stars", (4.5, "stars", "higher")),
     ("€1.5m revenue", (1_500_000, "€", None)), ("over $200k", (200_000, "$", "higher"))],
)  # fmt: skip
def test_a_written_target_reads_thousands_and_money(text: str, read: tuple) -> None:
    """1,000 is a thousand, not one; after a currency sign m is a million, not minutes."""
    written = read_written_target(text)
    assert (written.value, written.unit, written.direction) == read
    assert migration_reader()(text) == read


async def test_a_large_file_is_stored_a_batch_at_a_time_and_its_progress_follows_the_storing(
    app: Application,
) -> None:
    """3,000 rows (a small file, read whole at once): the progress bar moves as rows are stored,
    not jumps to the end on the first read, and the days already read are looked up a batch at
    a time, not a row at a time (a 5,000-row file took 20 s)."""
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "reply", "Answer fast", unit="minutes")
    start = TODAY - timedelta(days=3000)
    lines = ["objective,date,value"] + [
        f"reply,{start + timedelta(days=n)},{50 + n % 7}" for n in range(3000)
    ]
    body = ("\n".join(lines) + "\n").encode()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = app.db.engine.sync_engine
    sqlalchemy.event.listen(engine, "before_cursor_execute", count)
    progress: list[int] = []
    try:
        report = await import_kpi_file(app.db, OPERATOR, io.BytesIO(body), on_read=progress.append)
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", count)
    assert (report.added, report.rejected_count) == (3000, 0)
    assert progress == sorted(progress) and len(progress) >= 3 and progress[-1] == len(body)
    assert progress[0] < len(body) / 2
    looked_up = [q for q in statements if q.startswith("SELECT") and "FROM kpi_readings" in q]
    assert len(looked_up) <= 3000 // 500  # a query a batch, not one a row
    again = await import_kpi_file(app.db, OPERATOR, io.BytesIO(body))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3000)
    changed = body.replace(b",50\n", b",49\n")
    fixed = await import_kpi_file(app.db, OPERATOR, io.BytesIO(changed))
    assert (fixed.added, fixed.updated, fixed.unchanged) == (0, 429, 2571)
    async with app.db.transaction() as session:
        values = list(await session.scalars(select(KpiReading.value)))
    assert len(values) == 3000 and values.count(49) == 429 and values.count(50) == 0


def test_a_file_that_is_not_a_readings_csv_is_refused_in_one_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run("objectives", "add", "reply", "Answer fast")
    headless = tmp_path / "headless.csv"
    headless.write_text(f"reply,{day(3)},52\n")
    output = run("objectives", "import", str(headless), code=1).output
    assert output.startswith("Error: The header lacks objective, date, value")
    workbook = tmp_path / "kpis.xlsx"
    workbook.write_bytes(b"PK\x03\x04" + bytes(200))
    assert "Excel workbook" in run("objectives", "import", str(workbook), code=1).output
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(f"objective\tdate\tvalue\nreply\t{day(3)}\t52\n".encode("utf-16"))
    read = run("objectives", "import", str(utf16))
    assert "1 added" in read.output and "UTF-16" in read.output


# ----- the signed webhook over real HTTP -------------------------------------------------------


@pytest.fixture
async def kpi_server(
    settings: Settings, remote: RemotePlatform
) -> AsyncIterator[tuple[Application, TestServer]]:
    configured = Settings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        env={"KPI_WEBHOOK_SECRET": SECRET},
    )
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    async with open_application(configured, registry=registry) as app:
        async with app.db.transaction() as session:
            await add_objective(session, OPERATOR, "reply", "Answer fast", unit="minutes")
        test_server = TestServer(
            build_web_app(app, run_scheduler=False, run_jobs=False), host="127.0.0.1"
        )
        await test_server.start_server()
        try:
            yield app, test_server
        finally:
            await test_server.close()


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {"X-Advocacy-Timestamp": stamp, "X-Advocacy-Signature": sign(secret, stamp, body)}


async def post(server: TestServer, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{server.port}/webhooks/kpi",
            data=body,
            headers={"Content-Type": "application/json", **headers},
        ) as response,
    ):
        return response.status, await response.json()


async def stored(app: Application) -> list[tuple[str, float, str]]:
    async with app.db.transaction() as session:
        rows = await session.scalars(select(KpiReading).order_by(KpiReading.measured_on))
        return [(r.measured_on.date().isoformat(), r.value, r.source) for r in rows]


async def test_signed_readings_are_stored_with_each_bad_one_answered_by_number(
    kpi_server: tuple[Application, TestServer],
) -> None:
    app, server = kpi_server
    body = json.dumps(
        {
            "readings": [
                {"objective": "reply", "date": day(2), "value": 58},
                {"objective": "refunds", "date": day(2), "value": 3},
                {"objective": "reply", "date": day(1), "value": "57.5"},
                {"objective": "reply", "date": "yesterday", "value": 1},
                {"objective": "reply", "date": day(0), "value": True},
                "not an object",
            ]
        }
    ).encode()
    status, answer = await post(server, body, signed(body))
    assert status == 200
    assert (answer["added"], answer["updated"], answer["unchanged"]) == (2, 0, 0)
    assert [r["reading"] for r in answer["rejected"]] == [2, 4, 5, 6]
    assert "unknown objective 'refunds'" in answer["rejected"][0]["reason"]
    assert await stored(app) == [(day(2), 58, "webhook"), (day(1), 57.5, "webhook")]
    # The same readings sent again (signed anew: a deliberate resend) change nothing.
    status, answer = await post(server, body, signed(body, at=time.time() + 1))
    assert status == 200 and answer["unchanged"] == 2 and answer["added"] == 0


def test_the_kpi_webhook_is_refused_unsigned_before_its_body_is_read() -> None:
    """The server's middleware refuses requests without the signature's headers early; it must
    know this endpoint by the path and headers it really has."""
    [endpoint] = [e for e in SIGNED_ENDPOINTS if e.path == kpi_webhook.PATH]
    assert endpoint.headers == kpi_webhook.HEADERS
    assert endpoint.unless_unset == kpi_webhook.SECRET_SETTING


async def test_unsigned_forged_stale_or_replayed_requests_store_nothing(
    kpi_server: tuple[Application, TestServer],
) -> None:
    app, server = kpi_server
    body = json.dumps({"readings": [{"objective": "reply", "date": day(1), "value": 50}]}).encode()
    for headers in (
        {},
        signed(body, secret="not the secret"),
        signed(body, at=time.time() - 600),
        # Signed with the customer-voice webhook's rules but another body.
        signed(b'{"readings": []}'),
    ):
        status, answer = await post(server, body, headers)
        assert status == 401 and answer["error"], headers
    assert await stored(app) == []
    headers = signed(body)
    status, _ = await post(server, body, headers)
    assert status == 200
    async with app.db.transaction() as session:
        reading = (await session.scalars(select(KpiReading))).one()
        reading.value = 49  # corrected by hand since
    status, answer = await post(server, body, headers)  # the captured request, replayed
    assert status == 409 and answer["already_received"] is True
    assert await stored(app) == [(day(1), 49, "webhook")]


async def test_a_body_that_is_not_readings_is_refused_and_without_a_secret_the_hook_is_off(
    kpi_server: tuple[Application, TestServer], app: Application
) -> None:
    _, server = kpi_server
    body = json.dumps([{"objective": "reply"}]).encode()
    status, answer = await post(server, body, signed(body))
    assert status == 400 and '{"readings": [' in answer["error"]
    off = TestServer(build_web_app(app, run_scheduler=False, run_jobs=False), host="127.0.0.1")
    await off.start_server()
    try:
        status, answer = await post(off, body, signed(body))
    finally:
        await off.close()
    assert status == 503 and "KPI_WEBHOOK_SECRET" in answer["error"]


# ----- the console's objectives page -----------------------------------------------------------


async def test_a_reading_is_recorded_on_the_objectives_page_and_a_bad_one_comes_back(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    async with app.db.transaction() as session:
        await add_objective(
            session, OPERATOR, "reply", "Answer fast", target="under 1 hour", unit="minutes"
        )
        await add_objective(session, OPERATOR, "nps", "Loved")
    await signed_in(app, browsers[0], "boss")
    csrf = await browsers[0].csrf("/console/objectives")
    typed = {"objective": "reply", "value": "about fifty", "date": day(3)}
    status, location, html = await browsers[0].post(
        "/console/objectives/readings", {"csrf": csrf, "form": "record-kpi", **typed}
    )
    assert (status, location) == (422, "")
    reason, control = refused_beside(html, "kpi-value")
    assert "'about fifty' is not a number" in reason and control.attrs["value"] == "about fifty"
    page = parsed(html)
    assert page.by_id("kpi-date").attrs["value"] == day(3)
    assert '<option value="reply" selected>Answer fast (in minutes)</option>' in html
    status, _, html = await browsers[0].post(
        "/console/objectives/readings",
        {"csrf": csrf, "form": "record-kpi", **typed, "date": day(-30), "value": "50"},
    )
    assert status == 422 and "in the future" in refused_beside(html, "kpi-date")[0]
    assert await stored(app) == []
    status, location, _ = await browsers[0].post(
        "/console/objectives/readings",
        {"csrf": csrf, "form": "record-kpi", **typed, "value": "52"},
    )
    assert status == 303 and location == "/console/objectives"
    status, html = await browsers[0].get("/console/objectives")
    assert status == 200
    # The page shows the day as the reader's language writes it (here English: "Dec 3, 2026").
    shown = format_date(date.fromisoformat(day(3)))
    assert f"Recorded 52 minutes for &#39;Answer fast&#39; on {shown}." in html
    assert f"<td>{shown}</td><td>52 minutes</td>" in html
    assert "target 60 minutes" in html
    assert await stored(app) == [(day(3), 52, "console")]
    async with browsers[0].http.get(browsers[0].base + "/console/objectives/kpi.png") as chart:
        assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")


async def test_employees_cannot_record_readings_on_the_console(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "ann")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "reply", "Answer fast")
        objective = await get_objective(session, "reply")
    await signed_in(app, browsers[0], "ann")
    status, _, _ = await browsers[0].post(
        "/console/objectives/readings",
        {"csrf": "x", "form": "record-kpi", "objective": objective.key, "value": "1"},
    )
    assert status in (403, 303)
    assert await stored(app) == []
    assert date.fromisoformat(day(0)) == TODAY


# ----- the KPI chart in a real browser --------------------------------------------------------


@requires_chromium
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_the_kpi_chart_fits_a_phone_and_a_desktop_on_the_demo(app: Application) -> None:
    """The demo's objectives with a quarter of weekly readings: on the objectives page the KPIs'
    chart comes first, loads, and at a phone's width is the narrow one, within the screen."""
    await load_demo(app.db, app.sealer, you=None)
    async with app.db.transaction() as session:
        for objective in await list_objectives(session):
            target = objective.target_value or 50
            lower = objective.kpi_direction == "lower"
            for week in range(13):
                share = (1.4 - 0.04 * week) if lower else (0.7 + 0.03 * week)
                await record_reading(
                    session,
                    OPERATOR,
                    objective,
                    round(target * share, 1),
                    TODAY - timedelta(weeks=12 - week),
                )
    test_server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await test_server.start_server()
    base = f"http://127.0.0.1:{test_server.port}"
    try:
        for name, viewport in (("phone", {"width": 390, "height": 844}), ("desktop", None)):
            async with chromium_page(base_url=base, viewport=viewport) as page:
                await page.goto(await browser_sign_in_path(app, "sam"))
                await page.get_by_role("button", name="Sign in").click()
                await page.wait_for_url("**/console/*")
                await page.goto("/console/objectives?since=90d")
                chart = page.locator("img.chart").first
                assert await loaded_width(page) > 0, name
                source = await chart.evaluate("img => img.currentSrc")
                assert "/console/objectives/kpi.png" in source
                assert ("layout=narrow" in source) == (name == "phone")
                width = await chart.evaluate("img => img.clientWidth")
                assert width <= (viewport or {"width": 1280})["width"]
                await chart.screenshot(path=str(screenshot_dir() / f"kpi-chart-{name}.png"))
                assert await page.evaluate("document.body.scrollWidth <= innerWidth"), name
                form = page.locator("#record-kpi")
                await form.get_by_label("Value").fill("52")
                await form.get_by_role("button", name="Record").click()
                await page.get_by_role("status").wait_for()
                assert await loaded_width(page) > 0, name
                await screenshot(page, f"console-objectives-kpi-{name}")
    finally:
        await test_server.close()
