"""CLI answers that must be true (issue 14, item 15): a manifest that Slack can reach or none, the
Teams package's privacy and terms links to real pages, an unknown delivery id refused, and a
digest run summed up from what the database holds."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result

from bot.app import Application
from bot.cli.main import cli
from bot.outbox.worker import DrainStats, OutboxWorker
from bot.web import build_web_app

APP_ID = "12345678-1234-1234-1234-123456789abc"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


# ----- slack manifest ----------------------------------------------------------------------------


def test_slack_manifest_without_a_public_url_prints_nothing_and_says_what_to_set(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    result = run("slack", "manifest")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: PUBLIC_URL is not set, so the manifest would send Slack to "
        "http://localhost:3978, which Slack cannot reach: set "
        "PUBLIC_URL=https://advocacy.example.com (this server's public address) or pass "
        "--url https://advocacy.example.com."
    )
    for url in (
        "http://bot.example.com",
        "https://localhost:3978",
        "bot.example.com",
        "https://10.0.0.5",  # a private address Slack cannot reach
        "https://exa mple.com",
    ):
        refused = run("slack", "manifest", "--url", url)
        assert refused.exit_code == 1 and "localhost" not in refused.output.split("Error:")[0]
        assert refused.output.startswith("Error: ") and len(refused.output.splitlines()) == 1


def test_slack_manifest_uses_the_public_url_or_the_url_given(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com/")
    printed = run("slack", "manifest")
    assert printed.exit_code == 0
    assert "https://bot.example.com/slack/events" in printed.output
    assert "localhost" not in printed.output and "YOUR-BOT-HOST" not in printed.output
    given = run("slack", "manifest", "--url", "https://other.example.org")
    assert "https://other.example.org/slack/events" in given.output


# ----- the Teams package's privacy and terms pages ---------------------------------------------


def test_the_teams_package_links_to_the_bots_privacy_and_terms_pages(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com")
    assert run("teams", "package", "--output", "app.zip").exit_code == 0
    with zipfile.ZipFile(tmp_path / "app.zip") as archive:
        developer = json.loads(archive.read("manifest.json"))["developer"]
    assert developer["privacyUrl"] == "https://bot.example.com/privacy"
    assert developer["termsOfUseUrl"] == "https://bot.example.com/terms"
    own = run(
        "teams",
        "package",
        "--output",
        "own.zip",
        "--privacy-url",
        "https://intranet.example.com/privacy",
        "--terms-url",
        "https://intranet.example.com/terms",
    )
    assert own.exit_code == 0, own.output
    with zipfile.ZipFile(tmp_path / "own.zip") as archive:
        developer = json.loads(archive.read("manifest.json"))["developer"]
    assert developer["privacyUrl"] == "https://intranet.example.com/privacy"
    assert developer["termsOfUseUrl"] == "https://intranet.example.com/terms"
    refused = run("teams", "package", "--privacy-url", "http://intranet/privacy")
    assert refused.exit_code == 1 and "must be an https:// address" in refused.output


async def test_the_bot_serves_short_privacy_and_terms_pages(app: Application) -> None:
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            pages = {}
            for path in ("/privacy", "/terms"):
                async with http.get(f"http://127.0.0.1:{server.port}{path}") as answer:
                    assert answer.status == 200
                    assert answer.content_type == "text/html"
                    pages[path] = await answer.text()
    finally:
        await server.close()
    assert "<h1>Privacy</h1>" in pages["/privacy"] and "anonymously" in pages["/privacy"]
    assert "<h1>Terms of use</h1>" in pages["/terms"]


async def test_the_privacy_page_speaks_the_browser_s_best_language_we_have(
    app: Application,
) -> None:
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"http://127.0.0.1:{server.port}/privacy",
                headers={"Accept-Language": "nl-NL,nl;q=0.9,fr;q=0.7,en;q=0.5"},
            ) as answer,
        ):
            page = await answer.text()
            assert answer.headers["Vary"] == "Accept-Language"
    finally:
        await server.close()
    assert '<html lang="fr">' in page


# ----- deliveries retry --------------------------------------------------------------------------


def test_retrying_an_unknown_or_unfailed_delivery_is_an_error(cli_env: dict[str, str]) -> None:
    assert run("members", "add", "shell", "ann").exit_code == 0
    assert run("content", "add", "https://example.com/a", "--title", "A").exit_code == 0
    digest = ("digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    assert run(*digest).exit_code == 0
    assert run("digest", "run", "d").exit_code == 0  # delivery #1, sent
    unknown = run("deliveries", "retry", "999")
    assert unknown.exit_code == 1
    assert unknown.output.strip() == (
        "Error: There is no delivery #999; advocacy deliveries failed lists the ones that can be "
        "retried (e.g. advocacy deliveries retry 42)."
    )
    sent = run("deliveries", "retry", "1", "999")
    assert sent.exit_code == 1 and "no delivery #999" in sent.output
    sent = run("deliveries", "retry", "1")
    assert sent.exit_code == 1
    assert "Only failed deliveries are retried, and #1 (sent) did not fail" in sent.output
    no_run = run("deliveries", "retry", "--run", "77")
    assert no_run.exit_code == 1 and "There is no digest run #77" in no_run.output
    nothing = run("deliveries", "retry", "--all")
    assert nothing.exit_code == 0 and "Nothing to retry" in nothing.output


# ----- digest run --------------------------------------------------------------------------------


def test_digest_run_reports_what_the_database_holds_after_the_run(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (a running server's outbox) may deliver the run's messages while this
    command runs: they are sent, not 'retrying'."""
    for user in ("ann", "bob", "cid"):
        assert run("members", "add", "shell", user).exit_code == 0
    assert run("content", "add", "https://example.com/a", "--title", "A").exit_code == 0
    digest = ("digest", "add", "d", "--kind", "content", "--cron", "0 9 * * *", "--tz", "UTC")
    assert run(*digest).exit_code == 0
    drain = OutboxWorker.drain

    async def another_process_sends_first(self: OutboxWorker, **options: object) -> DrainStats:
        other = OutboxWorker(self.db, self.adapters, self.sealer, self.metrics, self.links)
        await drain(other, wait_for_retries=False)  # the server's worker, quicker than us
        return await drain(self, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(OutboxWorker, "drain", another_process_sends_first)
    result = run("digest", "run", "d")
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.output.splitlines() if line.startswith("│ shell")]
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells == ["shell", "3", "3", "0", "–"]  # queued, sent, failed, waiting
    assert "retrying" not in result.output
