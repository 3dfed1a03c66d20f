"""The ``advocacy`` command line: each command's happy path, and bad input that writes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.cli.main import cli
from bot.services.rollups import OTHER
from content.demo.loader import demo_file

ISSUE_COMMANDS = {
    "serve",
    "shell",
    "db",
    "members",
    "objectives",
    "content",
    "digest",
    "suggestions",
    "rollup",
    "roles",
    "demo",
}


def run(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def fails(*args: str) -> str:
    """Run a command that must fail; returns its one-line error."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def test_help_lists_every_command(cli_env: dict[str, str]) -> None:
    listed = {
        line.split()[0]
        for line in run("--help").output.split("Commands:")[1].splitlines()
        if line.strip()
    }
    assert listed >= ISSUE_COMMANDS
    assert "--json" in run("members", "list", "--help").output


def test_db_upgrade_reports_and_is_idempotent(cli_env: dict[str, str]) -> None:
    due = run("db", "current", ok=False)  # a deployment script can tell an upgrade is due
    assert due.exit_code == 1 and "needs: advocacy db upgrade" in due.output
    assert "upgraded from an empty database" in run("db", "upgrade").output
    assert "up to date" in run("db", "upgrade").output
    assert "up to date" in run("db", "current").output


def test_members_add_list_and_roles(cli_env: dict[str, str]) -> None:
    run(
        "members",
        "add",
        "slack",
        "U1",
        "--name",
        "Mike",
        "--team",
        "Support",
        "--role",
        "manager",
        "--tz",
        "Europe/London",
    )
    run("members", "add", "slack", "U2", "--name", "Alice", "--team", "Support", "--manager", "U1")
    run("roles", "grant", "slack", "U2", "strategist")
    records = json.loads(run("members", "list", "--json").output)
    assert [(r["name"], r["role"], r["team"], r["manager"]) for r in records] == [
        ("Alice", "strategist", "Support", "Mike"),
        ("Mike", "manager", "Support", None),
    ]
    assert records[0]["identities"] == ["slack:U2"]


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("members", "add", "slack", "U1", "--tz", "Nowhere/City"), "IANA"),
        (("members", "add", "slack", "U1", "--manager", "U404"), "advocacy members add slack U404"),
        (("roles", "grant", "slack", "U404", "admin"), "No member slack:U404"),
        (("objectives", "add", "Bad Key!", "Title"), "objective key"),
        (("content", "add", "ftp://x", "--title", "T"), "http:// or https://"),
        (
            ("content", "add", "https://x.org", "--title", "T", "--objective", "nope"),
            "Unknown objective",
        ),
        (
            ("digest", "add", "d", "--kind", "content", "--cron", "61 * * * *", "--tz", "UTC"),
            "cron",
        ),
        (
            ("digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "Moon"),
            "time zone",
        ),
        (("digest", "run", "nope"), "Unknown digest 'nope'"),
        (("rollup", "--since", "soon"), "not a period"),
    ],
)
def test_bad_input_gets_one_line_a_non_zero_exit_and_writes_nothing(
    cli_env: dict[str, str], args: tuple[str, ...], hint: str
) -> None:
    assert hint in fails(*args)
    assert json.loads(run("members", "list", "--json").output) == []
    assert json.loads(run("content", "list", "--json").output) == []
    assert json.loads(run("digest", "list", "--json").output) == []


def test_members_import_reports_bad_lines_and_keeps_good_rows(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text(
        "platform,user_id,name,team,manager,role,timezone\n"
        "slack,U1,Mike,Support,,manager,Europe/London\n"
        "slack,U2,Alice,Support,U1,employee,Mars/Base\n"
        "slack,U3,Bob,Support,U1,employee,Africa/Lagos\n"
    )
    result = CliRunner().invoke(cli, ["members", "import", str(hr)])
    assert result.exit_code == 2
    assert f"{hr}:3: rejected:" in result.output and "Mars/Base" in result.output
    assert "2 created, 0 updated, 0 unchanged, 1 rejected." in result.output
    names = [r["name"] for r in json.loads(run("members", "list", "--json").output)]
    assert names == ["Bob", "Mike"]


def test_objectives_content_and_digests(cli_env: dict[str, str]) -> None:
    run("objectives", "add", "reply-1h", "Answer every customer within one hour", "--kpi", "p50")
    assert "already exists" in fails("objectives", "add", "reply-1h", "Again")
    run(
        "content",
        "add",
        "https://example.com/post?utm_source=x",
        "--title",
        "Post",
        "--objective",
        "reply-1h",
        "--topic",
        "support",
    )
    assert "already curated" in fails("content", "add", "https://EXAMPLE.com/post", "--title", "T")
    [item] = json.loads(run("content", "list", "--json").output)
    assert (item["objective"], item["topics"]) == ("reply-1h", ["support"])
    out = run(
        "digest",
        "add",
        "Monday",
        "--kind",
        "content",
        "--cron",
        "0 9 * * mon",
        "--tz",
        "Europe/Paris",
    ).output
    assert "Next:" in out and ("CET" in out or "CEST" in out)
    [digest] = json.loads(run("digest", "list", "--json").output)
    assert digest["next_fire"] and digest["timezone"] == "Europe/Paris"
    listed = run("digest", "list").output  # read as `digest add` said it, not ISO 8601
    assert re.search(r"Mon \d\d \w{3} \d{4} 09:00 CES?T", listed) and "T09:00" not in listed


def test_digest_run_delivers_through_the_shell_and_prints_a_summary(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run("members", "add", "shell", "alice")
    run("members", "add", "shell", "bob")
    run("members", "add", "slack", "U9")
    run("content", "add", "https://example.com/a", "--title", "A")
    run("digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    out = run("digest", "run", "d").output
    assert "shell" in out and "slack" in out and "1 HELD" in out  # Slack is not enabled here
    assert "queued 3 deliveries in" in out  # once committed: what the benchmarks time
    mailbox = Path(cli_env["ADVOCACY_DATA_DIR"]) / "shell" / "alice.jsonl"
    assert json.loads(mailbox.read_text().splitlines()[0])["message"]["cards"][1]["title"] == "A"
    again = run("digest", "run", "d").output
    assert again.startswith("Nothing new to send") and "Nothing sent: Nothing" not in again
    history = json.loads(run("digest", "runs", "d", "--json").output)
    assert [(h["status"], h["sent"], h["pending"]) for h in history] == [
        ("skipped", 0, 0),
        ("enqueued", 2, 1),  # the Slack delivery waits for a server with Slack configured
    ]


def test_digest_run_resends_items_only_when_asked(cli_env: dict[str, str]) -> None:
    run("members", "add", "shell", "alice")
    run("content", "add", "https://example.com/a", "--title", "A")
    run("digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    run("digest", "add", "team", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    run("digest", "run", "d")
    assert "already had every approved item" in run("digest", "run", "team").output
    resent = " ".join(run("digest", "run", "team", "--include-sent").output.split())
    assert "items already sent included" in resent
    mailbox = Path(cli_env["ADVOCACY_DATA_DIR"]) / "shell" / "alice.jsonl"
    titles = [json.loads(line)["message"]["cards"][1]["title"] for line in mailbox.open()]
    assert titles == ["A", "A"]


def test_suggestions_and_rollup_outputs_never_show_an_anonymous_author(
    cli_env: dict[str, str],
) -> None:
    run("demo", "--you", "tester", "--no-send")
    listing = json.loads(run("suggestions", "list", "--json").output)
    anonymous = [s for s in listing if s["anonymous"]]
    assert anonymous and all(s["author"] is None and s["team"] is None for s in anonymous)
    # The demo's anonymous ideas are dated to the hour, as any anonymous idea is.
    filed = [datetime.fromisoformat(s["created_at"]) for s in anonymous]
    assert all((f.minute, f.second, f.microsecond) == (0, 0, 0) for f in filed), filed
    table = run("suggestions", "list").output
    rollups = [
        run("rollup", "--since", "all", "--format", fmt, "--by", by).output
        for fmt in ("table", "csv", "json")
        for by in ("objective", "team", "status")
    ]
    for text in (json.dumps(listing), table, *rollups):
        assert "Priya" not in text and "priya" not in text  # the demo's anonymous author
    assert "Bob Okafor" in table  # a named author is shown
    rows = list(
        csv.DictReader(
            io.StringIO(run("rollup", "--since", "all", "--format", "csv", "--by", "team").output)
        )
    )
    # Every team of the demo has ideas from at least five people: none is merged into OTHER.
    assert {row["key"] for row in rows} == {"Support", "Product", "Sales", "total"}
    assert all(OTHER not in text for text in rollups)
    total = json.loads(run("rollup", "--since", "all", "--format", "json").output)["total"]
    ideas = demo_file("suggestions.json")
    assert total["total"] == len(ideas)
    assert total["answered"] == sum("answer" in idea for idea in ideas)


def test_an_unreachable_database_is_one_line_not_a_traceback(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/dir/x.db")
    error = fails("members", "list")
    assert "cannot use the database" in error and "DATABASE_URL" in error


def test_schedules_are_edited_paused_and_deleted_from_the_cli(cli_env: dict[str, str]) -> None:
    run("digest", "add", "morning", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    edited = run("digest", "edit", "morning", "--cron", "30 7 * * mon-fri", "--local-time").output
    assert "'30 7 * * mon-fri' on each recipient's own clock" in edited
    assert "paused" in run("digest", "pause", "morning").output
    [row] = json.loads(run("digest", "list", "--json").output)
    assert (row["enabled"], row["local_time"], row["next_fire"]) == (False, True, None)
    assert "Next" in run("digest", "resume", "morning").output
    assert "Deleted 'morning'" in run("digest", "delete", "morning", "--yes").output
    assert json.loads(run("digest", "list", "--json").output) == []
    assert (
        "Give --tz"
        in run("digest", "add", "x", "--kind", "content", "--cron", "0 9 * * *", ok=False).output
    )
    assert "Unknown digest 'morning'" in fails("digest", "pause", "morning")


def test_a_members_preferences_from_the_cli(cli_env: dict[str, str]) -> None:
    run("members", "add", "shell", "ana", "--name", "Ana", "--tz", "Europe/Lisbon")
    shown = run(
        "members",
        "prefs",
        "shell",
        "ana",
        "--mute",
        "voice",
        "--cadence",
        "weekly",
        "--quiet",
        "21:30-06:00",
    ).output
    assert "voice" in shown and "weekly" in shown and "21:30-06:00 (Europe/Lisbon)" in shown
    assert "none" in run("members", "prefs", "shell", "ana", "--quiet", "off").output
    assert "22:00-07:00" in fails("members", "prefs", "shell", "ana", "--quiet", "late")


def test_dead_letters_are_listed_and_requeued_from_the_cli(cli_env: dict[str, str]) -> None:
    # Looking, in a folder with no database, does not create an empty one that says all is well.
    assert "there is no database at" in fails("deliveries", "failed")
    run("members", "add", "slack", "UGONE1", "--name", "Gone")
    assert "No failed deliveries" in run("deliveries", "failed").output
    delivery_id = asyncio.run(_dead_letter("UGONE1", "Slack refused the message: user_not_found"))

    table = run("deliveries", "failed").output
    assert "Gone" in table and "user_not_found" in table and "deliveries retry" in table
    [failed] = json.loads(run("deliveries", "failed", "--json").output)
    assert (failed["id"], failed["platform"], failed["attempts"]) == (delivery_id, "slack", 5)
    assert "Say which deliveries" in fails("deliveries", "retry")
    assert "Re-queued 1 delivery" in run("deliveries", "retry", str(delivery_id)).output
    assert "Nothing to retry" in run("deliveries", "retry", "--all").output
    [status] = json.loads(run("deliveries", "status", "--json").output)
    assert (status["platform"], status["pending"], status["dead"]) == ("slack", 1, 0)


async def _dead_letter(user_id: str, error: str) -> int:
    """A delivery that failed for good, as the worker leaves it after its last attempt."""
    from bot.app import open_application
    from bot.config import Settings
    from bot.messages import Message
    from bot.outbox.queue import enqueue, member_recipient
    from bot.services.members import get_member
    from bot.storage.models import Delivery

    async with (
        open_application(Settings.from_env(), with_adapters=False) as app,
        app.db.transaction() as session,
    ):
        member = await get_member(session, "slack", user_id)
        recipient = member_recipient(member)
        assert recipient is not None
        await enqueue(session, Message(fallback="hello"), [recipient], sealer=app.sealer)
        delivery = (await session.scalars(select(Delivery))).one()
        delivery.status, delivery.attempts, delivery.last_error = "dead", 5, error
        return delivery.id


def test_cli_tables_show_peoples_text_in_written_order(cli_env: dict[str, str]) -> None:
    """A right-to-left override in a name would show "evil" as "live" in a terminal."""
    run("members", "add", "shell", "mallory", "--name", "\u202eevil")
    listed = run("members", "list").output
    assert "evil" in listed and "\u202e" not in listed
    assert "\u202eevil" in json.loads(run("members", "list", "--json").output)[0].values()


def test_the_admin_cli_speaks_english_whatever_the_workspaces_language(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADVOCACY_LOCALE is the language of the chat; a refusal from the core reaches the admin
    in the CLI's own language, not half German."""
    monkeypatch.setenv("ADVOCACY_LOCALE", "de")
    assert "Unknown digest 'nope'" in fails("digest", "run", "nope")
    assert "time zone" in fails(
        "digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "Moon"
    )
