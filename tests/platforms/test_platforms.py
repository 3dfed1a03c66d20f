"""Members only on platforms the bot knows, and deliveries that wait for a platform not enabled
here shown as HELD, with why, wherever an admin looks (issue 14, item 4)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result

from adapters.shell import ShellAdapterFactory
from bot.app import Application, open_application
from bot.cli.main import cli
from bot.config import Settings
from bot.domain import Role
from bot.errors import InvalidInput
from bot.messages import Message
from bot.outbox.queue import Recipient, enqueue
from bot.platform import AdapterContext, AdapterRegistry, AdapterStatus
from bot.services.members import add_member, validate_known_platform, validate_timezone
from bot.services.permissions import OPERATOR
from bot.web import build_web_app
from tests.conftest import make_member
from tests.fakes import RemoteAdapterFactory, RemotePlatform
from tests.operations.test_console import Browser, link

OFFLINE_REASON = "set OFFLINE_TOKEN to enable it"
SLACK_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def no_slack(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI's environment with Slack not configured, so Slack is known but not enabled."""
    for name in SLACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return cli_env


# ----- unknown platforms are refused where members are created ----------------------------------


def test_members_add_refuses_an_unknown_platform_and_names_the_known_ones(
    no_slack: dict[str, str],
) -> None:
    result = run("members", "add", "myspace", "foo")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: 'myspace' is not a platform this bot knows; use google_chat, shell, slack or teams."
    )
    assert "No members yet" in run("members", "list").output  # nothing written
    assert run("members", "add", "teams", "aad-1").exit_code == 0  # known, even if not enabled


def test_an_hr_row_on_an_unknown_platform_is_rejected_with_its_line(
    no_slack: dict[str, str], tmp_path: Path
) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text("platform,user_id,name\nslack,U1,Ann\nmyspace,foo,Foo\nshell,bob,Bob\n")
    result = run("members", "import", str(hr))
    assert result.exit_code == 2  # some rows rejected, the others kept
    assert (
        f"{hr}:3: rejected: 'myspace' is not a platform this bot knows; "
        "use google_chat, shell, slack or teams." in result.output
    )
    assert "2 created, 0 updated, 0 unchanged, 1 rejected." in result.output
    listed = json.loads(run("members", "list", "--json").output)
    assert sorted(m["name"] for m in listed) == ["Ann", "Bob"]


async def test_the_service_knows_the_applications_platforms(app: Application) -> None:
    async with app.db.transaction() as session:
        with pytest.raises(InvalidInput) as raised:
            await add_member(session, OPERATOR, "myspace", "x", platforms=app.registry.platforms)
        assert raised.value.message.endswith("use remote or shell.")
        # Without a registry at hand, the installed adapters are the known platforms.
        with pytest.raises(InvalidInput):
            await add_member(session, OPERATOR, "remote", "x")
        assert (await add_member(session, OPERATOR, "teams", "aad-1")).id


# ----- held deliveries ---------------------------------------------------------------------------


class OfflineAdapterFactory:
    """A platform this installation knows whose configuration does not enable it."""

    platform = "offline"

    def status(self, settings: Settings) -> AdapterStatus:
        return AdapterStatus(False, OFFLINE_REASON)

    def create(self, context: AdapterContext) -> None:  # pragma: no cover - never enabled
        raise AssertionError("a disabled adapter is never created")


@pytest.fixture
async def held_app(settings: Settings, remote: RemotePlatform) -> AsyncIterator[Application]:
    registry = AdapterRegistry(
        [ShellAdapterFactory(), RemoteAdapterFactory(remote), OfflineAdapterFactory()]
    )
    async with open_application(settings, registry=registry) as application:
        async with application.db.transaction() as session:
            for platform, users in (("offline", 3), ("myspace", 1), ("remote", 2)):
                await enqueue(
                    session,
                    Message.text("hello"),
                    [Recipient(platform, f"u{n}") for n in range(users)],
                    sealer=application.sealer,
                )
        yield application


async def test_the_start_up_log_says_what_is_held_and_why_per_platform(
    held_app: Application, caplog: pytest.LogCaptureFixture
) -> None:
    assert held_app.worker is not None
    stop = asyncio.Event()
    stop.set()  # say what waits, then stop
    with caplog.at_level(logging.INFO, logger="bot.outbox.worker"):
        await held_app.worker.run_forever(stop)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbox:")]
    assert lines == [
        "outbox: 2 for remote waiting to be sent",
        "outbox: 1 delivery for myspace is held: no adapter for 'myspace' is installed "
        "(known: offline, remote, shell), so nothing can send them (advocacy deliveries status)",
        f"outbox: 3 deliveries for offline are held: offline is not enabled: {OFFLINE_REASON} "
        "(advocacy deliveries status)",
    ]


def test_deliveries_status_and_failed_show_what_is_held_and_why(no_slack: dict[str, str]) -> None:
    assert run("members", "add", "slack", "U1").exit_code == 0
    assert run("members", "add", "shell", "ann").exit_code == 0
    assert run("content", "add", "https://example.com/a", "--title", "A").exit_code == 0
    digest = ("digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    assert run(*digest).exit_code == 0
    ran = run("digest", "run", "d")
    assert ran.exit_code == 0, ran.output
    assert "1 HELD" in ran.output
    assert (
        "HELD for slack until a server with it enabled runs: slack is not enabled: set "
        "SLACK_BOT_TOKEN" in ran.output
    )

    status = run("deliveries", "status")
    assert status.exit_code == 0
    assert "1 HELD" in status.output
    assert (
        "HELD: 1 delivery for slack is held: slack is not enabled: set SLACK_BOT_TOKEN and "
        "SLACK_SIGNING_SECRET" in " ".join(status.output.split())
    )
    as_json = {
        row["platform"]: row for row in json.loads(run("deliveries", "status", "--json").output)
    }
    assert as_json["slack"]["held"] is True and as_json["slack"]["pending"] == 1
    assert "SLACK_BOT_TOKEN" in as_json["slack"]["held_reason"]
    assert as_json["shell"]["held"] is False and as_json["shell"]["held_reason"] is None

    failed = run("deliveries", "failed").output
    assert "No failed deliveries." in failed
    assert "HELD: 1 delivery for slack is held: slack is not enabled" in failed


def test_nothing_is_held_when_every_platform_with_deliveries_is_enabled(
    no_slack: dict[str, str],
) -> None:
    assert run("members", "add", "shell", "ann").exit_code == 0
    assert run("content", "add", "https://example.com/a", "--title", "A").exit_code == 0
    digest = ("digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    assert run(*digest).exit_code == 0
    assert run("digest", "run", "d").exit_code == 0
    assert "HELD" not in run("deliveries", "status").output
    assert "HELD" not in run("deliveries", "failed").output


async def test_the_console_deliveries_page_shows_what_is_held_and_why(
    held_app: Application,
) -> None:
    await make_member(held_app, "root", role=Role.ADMIN)
    server = TestServer(build_web_app(held_app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            browser = Browser(f"http://127.0.0.1:{server.port}", http)
            assert (await browser.open_link(await link(held_app, "root"))).status == 303
            status, html = await browser.get("/console/deliveries")
    finally:
        await server.close()
    assert status == 200
    assert (
        f"3 deliveries for offline are waiting, not sent: offline is not enabled: {OFFLINE_REASON}"
        in " ".join(html.split())
    )
    assert "1 delivery for myspace is waiting, not sent: no adapter for" in " ".join(html.split())
    assert "for remote" not in html  # it sends here: nothing of it is held


def test_a_misspelt_platform_or_zone_gets_the_closest_and_a_zone_in_any_case_is_read() -> None:
    with pytest.raises(
        InvalidInput, match=r"use google_chat, shell, slack or teams\. Did you mean slack\?"
    ):
        validate_known_platform("slak")
    assert validate_timezone("europe/paris") == "Europe/Paris"
    assert validate_timezone("AMERICA/NEW_YORK") == "America/New_York"
    with pytest.raises(InvalidInput, match=r"Did you mean Europe/Paris\?"):
        validate_timezone("Europe/Pari")
