"""A first start that goes wrong says so in one line, with what to do: a database driver that is
not installed, a guessable secret key (issue 14)."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from bot.cli.main import cli
from bot.sealing import check_secret, new_secret, secret_weakness

POSTGRES_URL = "postgresql://advocacy@127.0.0.1:1/advocacy"
# Every command that opens the database (a sample of each kind: the server, migrations, a read
# that wants an existing database, a write, the shell and a plugin's command).
DATABASE_COMMANDS = [
    ["serve", "--port", "0"],
    ["db", "upgrade"],
    ["db", "current"],
    ["members", "list"],
    ["members", "add", "slack", "U1"],
    ["deliveries", "status"],
    ["shell", "--user", "ann", "--new"],
    ["demo", "--no-send"],
]


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_a_missing_postgresql_driver_is_one_line_saying_what_to_install(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if it were not installed
    result = CliRunner().invoke(cli, args, input="")
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(
        "Error: DATABASE_URL uses PostgreSQL but its driver (asyncpg) is not installed: run "
    )
    assert errors[0].endswith("pip install -e '.[postgres]' in the project's directory.")
    # Nothing else but the server's line saying it starts.
    assert len(result.output.strip().splitlines()) <= 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "key",
    [
        "change-me",
        "secret",
        "password",
        "changeme",
        "example",
        "x" * 64,
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "this-is-my-production-secret-for-the-bot",
        "replace-with-a-long-random-string-of-your-own",
        "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
    ],
)
def test_a_weak_secret_key_is_refused_at_start_with_how_to_make_one(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("ADVOCACY_SECRET_KEY", key)
    for args in (["members", "list"], ["serve", "--port", "0"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, result.output
        assert errors[0].startswith("Error: ADVOCACY_SECRET_KEY is too weak (")
        assert errors[0].endswith("make one with: advocacy secret-key")
        assert len(result.output.strip().splitlines()) <= 2, result.output


def test_secret_key_prints_a_new_strong_key_each_time(cli_env: dict[str, str]) -> None:
    keys = {CliRunner().invoke(cli, ["secret-key"]).output.strip() for _ in range(5)}
    assert len(keys) == 5
    for key in keys:
        assert secret_weakness(key) is None and len(key) >= 43
        assert check_secret(key) == key


def test_the_printed_key_is_accepted_at_start(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = CliRunner().invoke(cli, ["secret-key"]).output.strip()
    monkeypatch.setenv("ADVOCACY_SECRET_KEY", key)
    result = CliRunner().invoke(cli, ["members", "list"])
    assert result.exit_code == 0, result.output


def test_random_keys_of_the_usual_shapes_are_strong_enough() -> None:
    """What people make with openssl rand -hex 16 / -hex 32 / -base64 32 and secrets."""
    import base64
    import secrets

    for _ in range(300):
        for key in (
            new_secret(),
            secrets.token_hex(32),
            base64.b64encode(secrets.token_bytes(32)).decode(),
            secrets.token_urlsafe(24),
        ):
            assert secret_weakness(key) is None, key
