"""Registering the Teams bot as Azure has it now: new multi-tenant bots ended on 31 July 2025,
so the bot expects a single-tenant registration unless told otherwise, says exactly what is
missing and where Azure shows it, and ``advocacy teams package`` walks an admin through it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from adapters.teams import TeamsAdapterFactory
from adapters.teams.config import TeamsConfig
from bot.cli.main import cli
from bot.config import Settings

APP_ID = "12345678-1234-1234-1234-123456789abc"
TENANT = "99999999-8888-7777-6666-555555555555"
PUBLIC_URL = "https://bot.example.com"


def config(**env: str) -> TeamsConfig:
    return TeamsConfig.from_env(env, PUBLIC_URL)


def test_a_new_registration_is_single_tenant_and_needs_its_tenant() -> None:
    with pytest.raises(ValueError) as missing:
        config(MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="secret")
    said = str(missing.value)
    assert "MICROSOFT_APP_TYPE=SingleTenant (the default)" in said
    assert "set MICROSOFT_APP_TENANT_ID" in said
    assert "Azure portal" in said and "App Tenant ID" in said  # where to find it
    assert "MICROSOFT_APP_TYPE=MultiTenant" in said  # what an older bot sets instead
    given = config(
        MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="secret", MICROSOFT_APP_TENANT_ID=TENANT
    )
    assert (given.app_type, given.tenant_id) == ("SingleTenant", TENANT)
    assert f"(SingleTenant, tenant {TENANT})" in given.status().reason
    with pytest.raises(ValueError, match="needs a client secret: set MICROSOFT_APP_PASSWORD"):
        config(MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_TENANT_ID=TENANT)


def test_older_multi_tenant_bots_and_managed_identities_still_start() -> None:
    older = config(
        MICROSOFT_APP_TYPE="multitenant", MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="s"
    )
    assert older.app_type == "MultiTenant" and older.tenant_id is None
    identity = config(
        MICROSOFT_APP_TYPE="UserAssignedMSI",
        MICROSOFT_APP_ID=APP_ID,
        MICROSOFT_APP_TENANT_ID=TENANT,
    )
    assert identity.app_password is None and not identity.status().warning
    leftover = config(
        MICROSOFT_APP_TYPE="UserAssignedMSI",
        MICROSOFT_APP_ID=APP_ID,
        MICROSOFT_APP_TENANT_ID=TENANT,
        MICROSOFT_APP_PASSWORD="a-secret-from-before",
    ).status()
    assert leftover.enabled and leftover.warning
    assert "MICROSOFT_APP_PASSWORD is set but not used" in leftover.reason
    with pytest.raises(ValueError, match="UserAssignedMSI needs the bot's tenant"):
        config(MICROSOFT_APP_TYPE="UserAssignedMSI", MICROSOFT_APP_ID=APP_ID)
    # Without an app id (a local emulator) nothing else is needed, whatever the type.
    emulator = config()
    assert not emulator.authenticated
    assert emulator.botbuilder_configuration().APP_TYPE == "MultiTenant"  # type: ignore[attr-defined]


def test_the_start_up_log_says_what_is_missing(settings: Settings) -> None:
    wrong = Settings(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        public_url=PUBLIC_URL,
        env={"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "secret"},
    )
    status = TeamsAdapterFactory().status(wrong)
    assert not status.enabled and status.warning
    assert "MICROSOFT_APP_TENANT_ID" in status.reason


def test_the_package_command_walks_an_admin_through_today_s_registration(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/a.db")
    monkeypatch.setenv("PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    for name in ("MICROSOFT_APP_TYPE", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["teams", "package", "--output", "app.zip"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert (tmp_path / "app.zip").exists()
    for step in (
        "Azure Bot",
        "Single Tenant",
        "User-Assigned Managed Identity",
        "31 July 2025",
        f"Messaging endpoint: {PUBLIC_URL}/api/messages",
        "Channels → Microsoft Teams",
        "Teams admin center",
        "Developer Portal",
        "MICROSOFT_APP_TYPE=UserAssignedMSI",
    ):
        assert step in out, step
    # The package is built with the app id alone; what the bot still needs is said.
    assert "Before the bot can start: MICROSOFT_APP_TYPE=SingleTenant" in out
    monkeypatch.setenv("MICROSOFT_APP_TENANT_ID", TENANT)
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "secret")
    ready = CliRunner().invoke(cli, ["teams", "package", "--output", "app.zip"])
    assert ready.exit_code == 0 and "Before the bot can start" not in ready.output
