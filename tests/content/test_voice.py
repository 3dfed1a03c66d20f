"""The customer-voice pipeline: scrubbing, sentiment, themes, imports, the webhook and alerts,
and the digest built from it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from click.testing import CliRunner
from sqlalchemy import func, select

from adapters.shell import ShellAdapterFactory
from bot.app import Application, open_application
from bot.cli.main import cli
from bot.config import Settings
from bot.errors import InvalidInput
from bot.platform import AdapterRegistry
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.storage.models import VoiceItem
from bot.storage.types import utcnow
from bot.web import build_web_app
from content.voice.file_import import parse_file
from content.voice.pipeline import AlertRules, VoicePipeline, VoiceRecord
from content.voice.scrub import scrub
from content.voice.sentiment import sentiment
from content.voice.themes import Taxonomy, emerging_themes
from content.voice.webhook import PATH, sign
from tests.conftest import make_member
from tests.fakes import RemoteAdapterFactory, RemotePlatform
from tests.voice_files import messy_csv, messy_jsonl

SECRET = "webhook-secret"


# ----- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("write to jo.smith@example.org now", "write to [email] now", "jo.smith"),
        ("call +44 20 7946 0958 today", "call [phone] today", "7946"),
        ("call 06 12 34 56 78", "call [phone]", "56 78"),
        ("card 4111 1111 1111 1111 charged", "card [card number] charged", "4111"),
        ("IBAN GB29 NWBK 6016 1331 9268 19 please", "IBAN [account] please", "NWBK"),
        ("ssn 123-45-6789", "ssn [id number]", "6789"),
    ],
)
def test_personal_data_is_masked(text: str, kept: str, gone: str) -> None:
    assert scrub(text) == kept and gone not in scrub(text)


def test_dates_order_numbers_and_non_card_digits_survive_scrubbing() -> None:
    text = "On 2026-11-23 order 12345 failed; ref 1234 5678 9012 3456 is not a card"
    assert scrub(text) == text


def test_sentiment_blends_the_words_with_the_rating() -> None:
    words_only = sentiment("The support team was wonderful and fast")
    assert words_only > 0.5
    assert sentiment("The support team was wonderful and fast", 1, (1, 5)) < words_only
    assert sentiment("", 0, (0, 10)) == -1.0
    assert sentiment("", 10, (0, 10)) == 1.0


def test_the_taxonomy_matches_whole_words_and_names_objectives(tmp_path: Path) -> None:
    taxonomy = Taxonomy.load()
    names = [t.name for t in taxonomy.match("My invoice doubled and nobody answered; waited hours")]
    assert names == ["response time", "billing"]
    assert taxonomy.objective_for(names) == "reply-within-1h"
    assert taxonomy.match("the invoicing module") == []  # whole words only
    # ...and their plurals: "Your invoices are wrong" is about billing too.
    for said, theme in [
        ("Your invoices are wrong", "billing"),
        ("Refunds take weeks", "billing"),
        ("The app crashes daily", "reliability"),
        ("The app keeps crashing on login", "reliability"),
        ("Two outages this week", "reliability"),
        ("I keep getting errors", "reliability"),
        ("The dashboards are empty", "reporting"),
    ]:
        assert [t.name for t in taxonomy.match(said)] == [theme], said
    broken = tmp_path / "themes.yaml"
    broken.write_text("themes:\n  - phrases: [x]\n")
    with pytest.raises(InvalidInput) as raised:
        Taxonomy.load(broken)
    assert "theme 1 needs a 'theme' name" in raised.value.message


def test_alert_phrases_are_found_in_their_plurals_too() -> None:
    rules = AlertRules()
    assert rules.reason("Where are my refunds?", 0.0) == "mentions “refund”"
    assert rules.reason("Three outages this month", 0.0) == "mentions “outage”"
    assert rules.reason("Refunding is slow", 0.0) is None  # still whole words


def test_emerging_themes_surface_what_no_theme_covers() -> None:
    uncovered = ["The mobile app logs me out every morning"] * 4 + [
        "Mobile logout again, third time today",
        "Random remark about weather",
    ]
    found = emerging_themes(uncovered, ["Older note about weather"] * 10, Taxonomy.load())
    assert found[0] == ("mobile", 5)
    assert all("weather" not in term for term, _ in found)


# ----- imports ----------------------------------------------------------------------------------


@pytest.fixture
def voice_cli(cli_env: dict[str, str]) -> Iterator[CliRunner]:
    yield CliRunner()


def import_file(runner: CliRunner, *args: str) -> tuple[int, dict]:
    result = runner.invoke(cli, ["voice", "import", *args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_a_messy_file_reports_each_bad_row_by_line_and_keeps_every_good_one(
    voice_cli: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "tickets.csv"
    bad = messy_csv(path, rows=3000)
    code, report = import_file(voice_cli, str(path), "--source", "helpdesk")
    assert code == 2  # some rows rejected, the rest kept
    assert report["encoding"] == "windows-1252" and report["rows"] == 3000
    assert report["imported"] == 3000 - len(bad) and report["rejected"] == len(bad)
    reasons = {p["line"]: p["reason"] for p in report["problems"]}
    assert set(reasons) == set(bad)
    for line, expected in bad.items():
        assert expected in reasons[line], (line, reasons[line])
    again_code, again = import_file(voice_cli, str(path), "--source", "helpdesk")
    assert (again["imported"], again["already_there"]) == (0, 3000 - len(bad))
    assert again_code == 2


def test_json_lines_with_a_bom_and_broken_lines(voice_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "reviews.jsonl"
    bad = messy_jsonl(path, rows=200)
    _, report = import_file(voice_cli, str(path), "--source", "reviews", "--dry-run")
    assert report["imported"] == 196 and set(p["line"] for p in report["problems"]) == set(bad)
    code, report = import_file(voice_cli, str(path), "--source", "reviews")
    assert report["imported"] == 196 and code == 2


def test_presets_maps_and_json_lists(voice_cli: CliRunner, tmp_path: Path) -> None:
    nps = tmp_path / "nps.csv"
    nps.write_text(
        "response_id;submitted_at;score;reason;plan\n"
        "R1;2026-11-20;9;Fast answers every time;pro\n"
        "R2;20/11/2026;2;Billing surprises again;free\n"
        "R3;2026-11-20;11;Out of range;free\n",
        encoding="utf-8",
    )
    _, report = import_file(voice_cli, str(nps), "--preset", "nps", "--map", "text=reason")
    assert report["imported"] == 2 and report["problems"][0]["line"] == 4
    assert "outside 0-10" in report["problems"][0]["reason"]
    listed = tmp_path / "export.json"
    listed.write_text(
        json.dumps(
            {
                "items": [
                    {"ticket_id": "A", "body": "Slow replies", "created": "2026-11-20T10:00:00Z"},
                    {"ticket_id": "B"},
                    "not an object",
                ]
            }
        ),
        encoding="utf-8",
    )
    _, report = import_file(voice_cli, str(listed))
    assert report["imported"] == 1
    assert [p["item"] for p in report["problems"]] == [2, 3]
    missing = tmp_path / "x.csv"
    missing.write_text("a,b\n1,2\n")
    result = voice_cli.invoke(cli, ["voice", "import", str(missing)])
    assert result.exit_code == 1 and "--map text=COLUMN" in result.output


# ----- the webhook and urgent alerts -------------------------------------------------------------


@pytest.fixture
async def voice_server(
    settings: Settings, remote: RemotePlatform
) -> AsyncIterator[tuple[Application, TestServer]]:
    configured = Settings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        env={"VOICE_WEBHOOK_SECRET": SECRET, "VOICE_ALERT_CHANNELS": "remote:CALERTS"},
    )
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    async with open_application(configured, registry=registry) as app:
        server = TestServer(
            build_web_app(app, run_scheduler=False, run_jobs=False), host="127.0.0.1"
        )
        await server.start_server()
        try:
            yield app, server
        finally:
            await server.close()


async def post_webhook(
    server: TestServer, body: bytes, headers: dict[str, str]
) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{server.port}{PATH}?source=helpdesk"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=body, headers={"Content-Type": "application/json", **headers}
        ) as response,
    ):
        return response.status, await response.json()


def signed(
    body: bytes, *, secret: str = SECRET, at: float | None = None, query: str = "source=helpdesk"
) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {
        "X-Advocacy-Timestamp": stamp,
        "X-Advocacy-Signature": sign(secret, stamp, body, query),
    }


async def test_unsigned_forged_or_stale_webhook_calls_are_refused(
    voice_server: tuple[Application, TestServer],
) -> None:
    app, server = voice_server
    body = json.dumps({"id": "1", "comment": "forged"}).encode()
    for headers in (
        {},
        signed(body, secret="wrong"),
        signed(body, at=time.time() - 600),
        {**signed(body), "X-Advocacy-Timestamp": "soon"},
    ):
        status, answer = await post_webhook(server, body, headers)
        assert status == 401 and answer["error"]
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(VoiceItem.id))) == 0


async def test_a_signed_urgent_item_reaches_the_alert_channel_at_once(
    voice_server: tuple[Application, TestServer], remote: RemotePlatform
) -> None:
    _, server = voice_server
    body = json.dumps(
        {
            "items": [
                {
                    "id": "T-9",
                    "comment": "We will cancel and ask for a refund. Call +44 20 7946 0958",
                    "rating": 1,
                    "customer": "Acme",
                },
                {"id": "T-10", "comment": "Lovely product"},
                {"comment": ""},
            ]
        }
    ).encode()
    status, answer = await post_webhook(server, body, signed(body))
    assert status == 200
    assert (answer["imported"], answer["alerts"]) == (2, 1)
    assert answer["rejected"] == [{"item": 3, "reason": "no text (the comment is empty)"}]
    for _ in range(100):  # the worker was woken: no explicit drain here
        if remote.sent:
            break
        await asyncio.sleep(0.05)
    [alert] = remote.sent
    assert alert.target.recipient == "CALERTS" and alert.target.channel
    card = alert.message.cards[0]
    assert "cancel" in json.dumps(alert.message.to_dict()["cards"][0]["facts"])
    assert "[phone]" in card.text
    assert "7946" not in json.dumps(alert.message.to_dict())
    status, again = await post_webhook(server, body, signed(body, at=time.time() + 1))
    assert (again["imported"], again["already_there"], again["alerts"]) == (0, 2, 0)


async def test_without_a_secret_the_webhook_is_off(app: Application) -> None:
    server = TestServer(build_web_app(app, run_scheduler=False, run_jobs=False), host="127.0.0.1")
    await server.start_server()
    try:
        body = b'{"id": "1", "comment": "hi"}'
        status, answer = await post_webhook(server, body, signed(body))
        assert status == 503 and "VOICE_WEBHOOK_SECRET" in answer["error"]
    finally:
        await server.close()


# ----- the digest ---------------------------------------------------------------------------------


async def test_the_voice_digest_shows_themes_trend_objectives_and_scrubbed_quotes(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "alice")
    now = utcnow()
    async with app.db.transaction() as session:
        await add_objective(
            session, OPERATOR, "reply-within-1h", "Answer every customer within one hour"
        )
        pipeline = await VoicePipeline.load(session, Taxonomy.load(), AlertRules())
        records = [
            VoiceRecord(
                n, "helpdesk", f"now-{n}", text, rating=rating, received_at=now - timedelta(days=1)
            )
            for n, (text, rating) in enumerate(
                [
                    ("Waited two days, no reply. Mail me at ana@example.org", 1),
                    ("Still no answer after a week, call 06 12 34 56 78", 1),
                    ("Support answered in minutes, no waiting at all", 5),
                    ("My invoice doubled without warning", 2),
                    ("The mobile app logs me out every morning", 2),
                    ("Mobile logout again on my phone", 2),
                    ("Mobile app forgets my settings at login", 2),
                ]
            )
        ] + [
            VoiceRecord(
                100 + n,
                "helpdesk",
                f"before-{n}",
                "Nice invoice layout",
                rating=5,
                received_at=now - timedelta(days=10),
            )
            for n in range(3)
        ]
        await pipeline.store(session, records, sealer=app.sealer)
        digest = await add_digest(
            session,
            OPERATOR,
            "Voices",
            kind="voice",
            audience="all",
            cron="0 9 * * mon",
            timezone="UTC",
        )
        outcome = await start_run(
            session, app.sealer, digest, actor=OPERATOR, composers=app.extensions.composers
        )
    assert outcome is not None and outcome.queued == 1
    assert app.worker is not None
    await app.worker.drain()
    message = remote.sent[0].message
    shown = json.dumps(message.to_dict(), ensure_ascii=False)
    assert "ana@example.org" not in shown and "56 78" not in shown
    assert "[email]" in shown and "[phone]" in shown
    header = {fact.label: fact.value for fact in message.cards[0].facts}
    assert header["Voices"].startswith("7 (") and "negative" in header["Sentiment"]
    titles = [card.title for card in message.cards]
    assert titles[1] == "Response time: 3 voices"
    response = message.cards[1]
    assert ("Objective", "Answer every customer within one hour") in [
        (f.label, f.value) for f in response.facts
    ]
    assert any(title.startswith("Emerging: “mobile”") for title in titles)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VOICE_ALERT_SENTIMENT", "abc", "VOICE_ALERT_SENTIMENT must be a number, not 'abc'."),
        ("VOICE_ALERT_SENTIMENT", "-3", "VOICE_ALERT_SENTIMENT must be between -1 and 1, not -3."),
        ("FEED_POLL_MINUTES", "0", "FEED_POLL_MINUTES must be at least 1, not 0."),
        ("VOICE_ALERT_CHANNELS", "C0123", "write PLATFORM:CHANNEL_ID"),
    ],
)
def test_a_bad_content_setting_stops_the_start_with_its_name(
    cli_env: dict, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, ["digest", "list"])
    assert result.exit_code == 1
    assert message in result.output


async def test_a_signed_webhook_body_that_is_not_utf8_is_refused_clearly(
    voice_server: tuple[Application, TestServer],
) -> None:
    """Invalid UTF-8, correctly signed (a sender's bug, not an attack): 400 with the reason."""
    app, server = voice_server
    body = b'{"id": "1", "comment": "caf\xe9 \xff broken"}'
    status, answer = await post_webhook(server, body, signed(body))
    assert status == 400 and "UTF-8" in answer["error"]
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(VoiceItem.id))) == 0


def test_an_import_with_invalid_utf8_is_read_and_says_how(tmp_path: Path) -> None:
    """A Windows-1252 export (é as a lone byte): every row is kept, read as Windows-1252, and
    the report says which encoding it used."""
    path = tmp_path / "export.csv"
    path.write_bytes(b"id,comment\n1,caf\xe9 is slow\n2,fine\n")
    parsed = parse_file(path, source="helpdesk")
    assert parsed.encoding == "windows-1252"
    assert [r.text for r in parsed.records] == ["café is slow", "fine"]


# ----- a digest that finds nothing in its period says which period, and what lies outside it -----


def write_month(path: Path, first: date, days: int, prefix: str) -> None:
    rows = ["id,date,comment"] + [
        f"{prefix}{n},{first + timedelta(days=n)},Waited too long for a reply" for n in range(days)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def digest_run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, ["digest", "run", "voices", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_a_voice_digest_with_nothing_in_its_period_says_which_period_and_what_was_imported(
    voice_cli: CliRunner, tmp_path: Path
) -> None:
    def cli_ok(*args: str) -> None:
        result = voice_cli.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output

    today = utcnow().date()
    cli_ok("members", "add", "shell", "alice")
    cli_ok("digest", "add", "voices", "--kind", "voice", "--cron", "0 9 * * mon", "--tz", "UTC")
    assert "No customer voice has been imported yet" in digest_run(voice_cli)

    last_month = today - timedelta(days=40)
    write_month(tmp_path / "november.csv", last_month, 28, "N")
    import_file(voice_cli, str(tmp_path / "november.csv"), "--source", "helpdesk")
    first = digest_run(voice_cli)
    week_ago = today - timedelta(days=7)
    assert (
        f"No customer voice dated in the last 7 days (since {week_ago.day} "
        f"{week_ago:%b %Y}; the digest's first run): 0 items in this period." in first
    )
    assert "since the last run" not in first
    last = last_month + timedelta(days=27)
    assert (
        f"28 items stored are dated from {last_month.day} {last_month:%b %Y} to "
        f"{last.day} {last:%b %Y}; to cover them, run the digest with --since "
        f"{last_month:%Y-%m-%d}." in first
    )

    covered = digest_run(voice_cli, "--since", f"{last_month:%Y-%m-%d}")
    assert "28 voices" in covered

    # A later run: nothing new, and nothing stored since the run that was sent.
    later = digest_run(voice_cli)
    assert "No customer voice dated since " in later and "first run" not in later
    assert "items stored" not in later

    # Another old file, imported after that run: counted, as stored since then.
    write_month(tmp_path / "october.csv", last_month - timedelta(days=31), 3, "O")
    import_file(voice_cli, str(tmp_path / "october.csv"), "--source", "helpdesk")
    after_import = digest_run(voice_cli)
    assert "3 items stored since then are dated from" in after_import
