"""What an admin meets installing and running the bot for a company (an operator's trial):
settings in .env, the database URLs providers hand out, ids typed on the command line, HR
exports with more columns than ours, files the CLI writes, the Docker health check and a
secret key set after the bot first ran. Each refusal is one line saying what to do."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.app import Application
from bot.cli.main import cli
from bot.config import Settings
from bot.messages import Message
from bot.outbox.queue import Recipient, enqueue
from bot.platform import DeliveryError
from bot.sealing import GENERATED_KEY_FILE, load_or_create_secret, new_secret
from bot.storage.database import Database, normalise_database_url
from tests.conftest import POSTGRES_URL
from tests.fakes import RemotePlatform

ROOT = Path(__file__).resolve().parents[2]
TOO_LONG = "9" * 23  # no 64-bit id: SQLite's driver raised OverflowError with a traceback


def one_error_line(result: Result) -> str:
    """The single 'Error:' line of a refused command (and no traceback)."""
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- PORT and ADVOCACY_HOST in .env ------------------------------------------------------------


def test_host_and_port_are_read_from_the_env_file_like_every_setting(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=4999\nADVOCACY_HOST=0.0.0.0\n")
    settings = Settings.from_env({}, dotenv)
    assert (settings.host, settings.port) == ("0.0.0.0", 4999)
    assert settings.public_url == "http://localhost:4999"
    # A real variable still wins over the file.
    assert Settings.from_env({"PORT": "4100"}, dotenv).port == 4100


@pytest.mark.parametrize("port", ["abc", "70000", "-1", "80.5"])
def test_a_port_that_is_no_port_is_one_line(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    monkeypatch.setenv("PORT", port)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"Error: PORT must be a TCP port, a whole number from 0 to 65535, not '{port}'."
    )


async def test_serve_listens_on_the_port_set_in_the_env_file(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """It listened on 3978 whatever .env said: click read PORT from the process alone."""
    port = free_port()
    (tmp_path / ".env").write_text(f"PORT={port}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "ADVOCACY_HOST")}
    env.update(cli_env, PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    said: list[str] = []
    try:
        while not any("listening on" in line for line in said):
            line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
            assert line, "serve exited:\n" + "".join(said)
            said.append(line)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 20)
    assert f"listening on http://127.0.0.1:{port} " in said[-1]


def test_serve_help_says_where_the_defaults_come_from(cli_env: dict[str, str]) -> None:
    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    assert "[default: (ADVOCACY_HOST, else 127.0.0.1)]" in text
    assert "[default: (PORT, else 3978); 0<=x<=65535]" in text


# -- DATABASE_URL as people paste it ------------------------------------------------------------


def test_a_database_url_that_is_no_url_is_one_line_without_echoing_it(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres//admin:hunter2@db")
    for args in (["members", "list"], ["db", "current"], ["serve", "--port", "0"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert one_error_line(result) == (
            "Error: DATABASE_URL is not a database URL; use sqlite+aiosqlite:///FILE or "
            "postgresql+asyncpg://USER:PASSWORD@HOST/DB."
        )
        assert "hunter2" not in result.output


def test_libpq_sslmode_from_a_providers_url_reaches_asyncpg_as_ssl() -> None:
    url = normalise_database_url("postgres://u:p@db.example.com/app?sslmode=require")
    assert url == "postgresql+asyncpg://u:p@db.example.com/app?ssl=require"
    # An explicit ssl= is kept.
    both = normalise_database_url("postgresql://u@h/d?sslmode=require&ssl=verify-full")
    assert both.endswith("?ssl=verify-full")


def test_a_url_parameter_asyncpg_cannot_take_is_one_line(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/d?application_name=advocacy")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "Error: DATABASE_URL's ?application_name= is not a setting this bot can pass to "
        "PostgreSQL: remove it (sslmode=require or sslmode=verify-full are taken)."
    )


@pytest.mark.skipif(not POSTGRES_URL, reason="needs TEST_DATABASE_URL")
async def test_a_missing_database_schema_says_so_and_how_to_create_it() -> None:
    """PostgreSQL only said 'no schema has been selected to create in'."""
    from bot.storage.migrate import MissingSchema, require_schema

    assert POSTGRES_URL
    db = Database(POSTGRES_URL, search_path="advocacy_no_such_schema")
    try:
        with pytest.raises(MissingSchema) as refused:
            await require_schema(db)
    finally:
        await db.dispose()
    assert str(refused.value) == (
        "DATABASE_SCHEMA is 'advocacy_no_such_schema', a schema this database does not have: "
        'create it (CREATE SCHEMA "advocacy_no_such_schema";) or unset DATABASE_SCHEMA to use '
        "the default one."
    )
    public = Database(POSTGRES_URL, search_path="public")
    try:
        await require_schema(public)  # exists: nothing to say
    finally:
        await public.dispose()


# -- ids on the command line --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["deliveries", "retry", TOO_LONG],
        ["deliveries", "retry", "--run", TOO_LONG],
        ["inbox", "retry", TOO_LONG],
        ["suggestions", "hide", TOO_LONG, "--reason", "spam"],
        ["suggestions", "merge", TOO_LONG, "--into", "1"],
        ["suggestions", "merge", "1", "--into", TOO_LONG],
        ["content", "approve", TOO_LONG],
        ["content", "reject", TOO_LONG],
    ],
    ids=lambda args: " ".join(args[:2] + [a for a in args if a.startswith("--")][:1]),
)
def test_an_id_too_long_to_be_one_is_refused_in_one_line(
    cli_env: dict[str, str], args: list[str]
) -> None:
    CliRunner().invoke(cli, ["db", "upgrade"])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert re.search(
        rf"'{TOO_LONG}' is not an? \w+ number; write it like 12 or #12\.$",
        one_error_line(result),
    )


def test_retry_takes_ids_or_all_not_both(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["deliveries", "retry", "1", "--all"])
    assert result.exit_code == 2
    assert one_error_line(result) == (
        "Error: Give either the ids of the deliveries to retry or --all, not both."
    )


# -- HR exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "row", "said"),
    [
        (
            # Workday and BambooHR export the employee number as "ID" beside the chat id:
            # the last one won, and members were stored under their employee numbers.
            "platform,user_id,name,ID",
            "shell,ann,Ann Lee,100231",
            "'user_id' (column 2) and 'ID' (column 4)",
        ),
        ("platform,user_id,department,team", "shell,ann,Engineering,Platform", "team: "),
        ("platform,user_id,manager,manager_id", "shell,ann,Mia Boss,mia", "manager: "),
    ],
)
def test_two_columns_read_as_one_field_refuse_the_file(
    cli_env: dict[str, str], tmp_path: Path, header: str, row: str, said: str
) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text(f"{header}\n{row}\n")
    result = CliRunner().invoke(cli, ["members", "import", str(hr)])
    assert result.exit_code == 1, result.output
    line = one_error_line(result)
    assert line.startswith("Error: The header has two columns read as ")
    assert said in line
    assert line.endswith("rename or remove one of them and import again.")
    listed = CliRunner().invoke(cli, ["members", "list", "--all", "--json"])
    assert "ann" not in listed.output  # nothing half-imported


def test_an_import_piped_to_a_file_starts_with_its_report_not_a_blank_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text("platform,user_id,name\nshell,ann,Ann Lee\n")
    result = CliRunner().invoke(cli, ["members", "import", str(hr)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "1 created, 0 updated, 0 unchanged, 0 rejected."


# -- files the CLI writes ------------------------------------------------------------------------


def test_a_file_that_cannot_be_written_is_not_blamed_on_the_database(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://advocacy.example.com")
    monkeypatch.setenv("MICROSOFT_APP_ID", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
    target = tmp_path / "no-such-folder" / "advocacy-teams.zip"
    result = CliRunner().invoke(cli, ["teams", "package", "--output", str(target)])
    assert result.exit_code == 1
    assert one_error_line(result) == f"Error: cannot use {target}: No such file or directory."


# -- the Docker image's health check -------------------------------------------------------------


# -- the secret key ------------------------------------------------------------------------------


def test_a_key_set_after_the_bot_generated_one_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The README's first command generates a key; its PostgreSQL section then sets another.
    Anonymous authors sealed with the first were silently never told of an answer."""
    generated = load_or_create_secret(None, tmp_path)
    assert (tmp_path / GENERATED_KEY_FILE).read_text().strip() == generated
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.sealing"):
        assert load_or_create_secret(generated, tmp_path) == generated  # the same: silent
        assert caplog.records == []
        configured = new_secret()
        assert load_or_create_secret(configured, tmp_path) == configured
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("ADVOCACY_SECRET_KEY differs from the key generated in ")
    assert str(tmp_path / GENERATED_KEY_FILE) in message
    assert "set ADVOCACY_SECRET_KEY to that file's key" in message
    assert generated not in message and configured not in message


# -- dead letters in the log ---------------------------------------------------------------------


async def test_a_dead_letter_log_line_counts_one_attempt_in_the_singular(
    app: Application, remote: RemotePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    async with app.db.transaction() as session:
        await enqueue(session, Message.text("hi"), [Recipient("remote", "ann")], sealer=app.sealer)
    remote.fail_next(DeliveryError("invalid_auth", permanent=True))
    assert app.worker is not None
    with caplog.at_level(logging.WARNING, logger="bot.outbox.worker"):
        await app.worker.drain()
    lines = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(lines) == 1 and "dead-lettered after 1 attempt: invalid_auth" in lines[0]


# -- db upgrade and console-link -----------------------------------------------------------------


@pytest.mark.parametrize("revision", ["nosuch", ""])
def test_an_unknown_migration_target_is_one_line_naming_the_newest(
    cli_env: dict[str, str], revision: str
) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--revision", revision])
    assert result.exit_code == 1
    assert re.fullmatch(
        rf"Error: There is no migration '{revision}'; the newest is \d{{4}} "
        r"\(advocacy db upgrade alone goes to it\)\.",
        one_error_line(result),
    )


def test_console_link_is_refused_for_an_employee_with_no_page_there(
    cli_env: dict[str, str],
) -> None:
    """It printed a link 'as a employee' to a console with no page for them."""
    runner = CliRunner()
    runner.invoke(cli, ["members", "add", "shell", "ann", "--name", "Ann Lee"])
    result = runner.invoke(cli, ["console-link", "shell", "ann"])
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "Error: Ann Lee is an employee, and the console has no page for employees: give them a "
        "role first, e.g. advocacy roles grant shell ann manager (or strategist, admin)."
    )
    assert "/console/login/" not in result.output
    runner.invoke(cli, ["roles", "grant", "shell", "ann", "admin"])
    granted = runner.invoke(cli, ["console-link", "shell", "ann"])
    assert granted.exit_code == 0, granted.output
    assert (
        "/console/login/" in granted.output and "opens the console as an admin." in granted.output
    )


# -- Teams without an app id, behind a reverse proxy ---------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "header", ["X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host"]
)
async def test_without_an_app_id_a_request_through_a_proxy_is_not_from_this_machine(
    sqlite_settings: Settings, header: str
) -> None:
    """nginx or Caddy in front of serve on 127.0.0.1 (for the https Slack needs) made every
    request from the internet come from loopback: Teams activities were taken unauthenticated
    from anyone (a member named as they liked, ideas filed in their name)."""
    from bot.storage.models import Member, Suggestion
    from tests.teams_support import teams_stack, user

    value = {"Forwarded": "for=203.0.113.9"}.get(header, "203.0.113.9")
    async with teams_stack(sqlite_settings) as teams:
        activity = teams.activity("message", user("Mallory"), text="suggest Forged from afar")
        async with teams.session.post(teams.url, json=activity, headers={header: value}) as sent:
            assert sent.status == 401
            assert (await sent.json())["error"] == (
                "This bot has no MICROSOFT_APP_ID: it only serves local emulators, and this "
                "request came through a proxy."
            )
        async with teams.app.db.transaction() as session:
            assert list(await session.scalars(select(Suggestion))) == []
            assert list(await session.scalars(select(Member))) == []
        # The emulator on this machine still works.
        status, _ = await teams.say(user("Alice"), "suggest From the emulator")
        assert status == 201


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_without_an_app_id_replies_never_go_to_a_service_url_elsewhere(
    sqlite_settings: Settings,
) -> None:
    """The bot posted its reply to whatever serviceUrl the unauthenticated activity named: a
    way to make it call any address its network reaches."""
    from bot.storage.models import Suggestion
    from tests.teams_support import teams_stack, user

    async with teams_stack(sqlite_settings) as teams:
        activity = teams.activity("message", user("Mallory"), text="suggest Reply elsewhere")
        activity["serviceUrl"] = "http://10.20.30.40:8080/internal/"
        async with teams.session.post(teams.url, json=activity) as sent:
            assert sent.status == 401
            assert "its serviceUrl must be on this machine" in (await sent.json())["error"]
        async with teams.app.db.transaction() as session:
            assert list(await session.scalars(select(Suggestion))) == []


def test_a_sqlite_file_in_a_missing_folder_names_the_folder(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SQLite said only 'unable to open database file' (and its driver's thread sometimes
    printed a traceback after the error line)."""
    path = tmp_path / "missing" / "advocacy.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    for args in (["members", "list"], ["db", "current"], ["serve", "--port", "0"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert one_error_line(result) == (
            f"Error: cannot use the database sqlite+aiosqlite:///{path}: its folder "
            f"{path.parent} does not exist; create it, or point DATABASE_URL elsewhere."
        )
