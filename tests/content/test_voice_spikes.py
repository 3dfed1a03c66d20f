"""Spikes, not just single alerts (issue 15): a theme far above its own last eight periods sends
one alert to the alert channels (count, usual level, scrubbed quotes), never twice, not even from
two instances; nothing under the threshold or the minimum; the voice digest marks it."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from adapters.shell import ShellAdapterFactory
from bot.app import Application, open_application
from bot.cli.main import cli
from bot.config import Settings
from bot.platform import AdapterRegistry
from bot.services.voice import store_voice_item
from bot.storage.models import Digest, OutboundMessage, VoiceSpike
from bot.storage.types import utcnow
from content.plugin import summary
from content.settings import content_settings
from content.voice.digest import voice_composer
from content.voice.spikes import SpikeRule, detect_spikes
from tests.fakes import RemoteAdapterFactory, RemotePlatform

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday afternoon
TODAY = datetime(2026, 3, 10, tzinfo=UTC)
ENV = {"VOICE_ALERT_CHANNELS": "remote:CALERTS"}
SERIAL = itertools.count(1)


def with_env(settings: Settings, **env: str) -> Settings:
    return Settings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        env={**ENV, **env},
    )


@pytest.fixture
async def app(settings: Settings, remote: RemotePlatform) -> AsyncIterator[Application]:
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    async with open_application(with_env(settings), registry=registry) as application:
        yield application


async def add_voice(
    app: Application, theme: str, when: datetime, text: str = "", count: int = 1
) -> None:
    async with app.db.transaction() as session:
        for _ in range(count):
            await store_voice_item(
                session,
                source="helpdesk",
                external_id=f"{theme}-{next(SERIAL)}",
                text=text or f"something about {theme}",
                received_at=when,
                sentiment=-0.5,
                themes=[theme],
            )


async def history(app: Application, theme: str, per_day: list[int]) -> None:
    """``per_day[0]`` voices eight days ago ... ``per_day[-1]`` yesterday, at noon."""
    for days_ago, count in zip(range(len(per_day), 0, -1), per_day, strict=True):
        if count:
            await add_voice(
                app, theme, TODAY - timedelta(days=days_ago) + timedelta(hours=12), count=count
            )


async def detect(app: Application, now: datetime = NOW) -> list[str]:
    configured = content_settings(app.settings)
    async with app.db.transaction() as session:
        found = await detect_spikes(
            session,
            rule=configured.spikes,
            channels=configured.alerts.channels,
            sealer=app.sealer,
            now=now,
        )
    return [spike.theme for spike in found]


async def alerts_sent(app: Application, remote: RemotePlatform) -> list:
    assert app.worker is not None
    await app.worker.drain(wait_for_retries=False)
    return [s for s in remote.sent if s.message.kind == "voice_spike"]


def test_the_rule_floors_the_spread_so_zero_then_five_is_a_spike() -> None:
    rule = SpikeRule()
    assert rule.spikes(5, [0] * 8)  # threshold 0 + 3 x 1
    assert not rule.spikes(4, [0] * 8)  # under the minimum
    assert not rule.spikes(19, [10] * 8)  # a steady 10 a day: 10 + 3 x √10 = 19.5
    assert rule.spikes(20, [10] * 8)
    assert not rule.spikes(20, [4, 16] * 4)  # a spread of 6: 10 + 3 x 6 = 28
    assert rule.period_start(NOW) == TODAY


async def test_a_spike_is_alerted_once_with_its_count_usual_level_and_scrubbed_quotes(
    app: Application, remote: RemotePlatform
) -> None:
    await history(app, "billing", [1, 0, 1, 0, 1, 0, 1, 0])
    await add_voice(app, "billing", NOW - timedelta(hours=3), "Charged twice, mail ann@example.com")
    await add_voice(app, "billing", NOW - timedelta(hours=2), "Refund still missing", count=5)
    assert await detect(app) == ["billing"]
    assert await detect(app) == []  # the same spike, later: no second alert
    [alert] = await alerts_sent(app, remote)
    assert alert.target.recipient == "CALERTS"
    [card] = alert.message.cards
    assert card.title == "Spike: billing (6 voices)"
    facts = {fact.label: fact.value for fact in card.facts}
    assert facts["This period"].startswith("6 voices since 10 Mar 00:00 UTC")
    assert facts["Usual"] == "about 0.5 a day over the previous 8 days"
    assert card.text.count("“") == 2 and "ann@example.com" not in card.text
    async with app.db.transaction() as session:
        [spike] = list(await session.scalars(select(VoiceSpike)))
    assert (spike.theme, spike.count, spike.period_start) == ("billing", 6, TODAY)
    assert spike.alerted_at is not None


async def test_two_instances_on_one_database_alert_a_spike_once(
    app: Application, settings: Settings, remote: RemotePlatform
) -> None:
    await history(app, "reliability", [0, 0, 1, 0, 0, 0, 0, 1])
    await add_voice(app, "reliability", NOW - timedelta(hours=1), "It crashed again", count=7)
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    async with open_application(with_env(settings), registry=registry) as other:
        found = await asyncio.gather(
            detect(app), detect(other), detect(other, NOW + timedelta(hours=1))
        )
    assert sorted(theme for each in found for theme in each) == ["reliability"]
    async with app.db.transaction() as session:
        spikes = await session.scalar(select(func.count(VoiceSpike.id)))
        messages = await session.scalar(
            select(func.count(OutboundMessage.id)).where(OutboundMessage.kind == "voice_spike")
        )
    assert (spikes, messages) == (1, 1)
    assert len(await alerts_sent(app, remote)) == 1


async def test_no_alert_under_the_threshold_the_minimum_or_without_history(
    app: Application, remote: RemotePlatform
) -> None:
    # No voice at all in the eight days before: no usual level, so nothing can spike yet.
    await add_voice(app, "billing", NOW - timedelta(hours=1), count=8)
    assert await detect(app) == []
    # A steady 3 a day: 8 today is within 3 + 3 x √3.
    await history(app, "billing", [3] * 8)
    assert await detect(app) == []
    # Never seen before, but 4 is under the minimum of 5...
    await add_voice(app, "onboarding", NOW - timedelta(hours=1), count=4)
    assert await detect(app) == []
    # ...and a fifth makes it a spike.
    await add_voice(app, "onboarding", NOW - timedelta(minutes=30))
    assert await detect(app) == ["onboarding"]
    assert [a.message.cards[0].title for a in await alerts_sent(app, remote)] == [
        "Spike: onboarding (5 voices)"
    ]


async def test_the_minimum_and_the_period_are_configurable(
    settings: Settings, remote: RemotePlatform
) -> None:
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    configured = with_env(settings, VOICE_SPIKE_PERIOD="12h", VOICE_SPIKE_MIN_COUNT="3")
    async with open_application(configured, registry=registry) as app:
        rule = content_settings(app.settings).spikes
        assert (rule.period, rule.minimum) == (timedelta(hours=12), 3)
        await add_voice(app, "billing", NOW - timedelta(days=2))
        await add_voice(app, "documentation", NOW - timedelta(hours=2), count=4)
        assert await detect(app) == ["documentation"]
    with pytest.raises(ValueError, match="VOICE_SPIKE_PERIOD"):
        content_settings(with_env(settings, VOICE_SPIKE_PERIOD="often"))


def test_the_start_up_log_says_how_spikes_are_found_and_whether_they_are_alerted(
    settings: Settings,
) -> None:
    alerted = summary(content_settings(with_env(settings, VOICE_SPIKE_MIN_COUNT="3")))
    assert "spikes: a theme with at least 3 voices a day and over its usual level by 3" in alerted
    assert "alerted to remote:CALERTS" in alerted
    quiet = replace(settings, env={})
    told = summary(content_settings(quiet))
    assert "spikes: a theme with at least 5 voices a day" in told
    assert "marked in voice digests but not alerted (set VOICE_ALERT_CHANNELS)" in told


async def test_the_voice_digest_marks_a_spiking_theme_and_counts_voice_logged_by_colleagues(
    app: Application,
) -> None:
    await history(app, "billing", [0, 1, 0, 0, 0, 0, 1, 0])
    await add_voice(app, "billing", NOW - timedelta(hours=4), "Refund, please", count=6)
    await add_voice(app, "documentation", NOW - timedelta(hours=4), count=2)
    async with app.db.transaction() as session:
        await store_voice_item(
            session,
            source="employee",
            external_id="chat:1",
            text="The docs are thin",
            received_at=NOW - timedelta(hours=1),
            themes=["documentation"],
        )
    assert await detect(app) == ["billing"]
    composer = voice_composer(content_settings(app.settings).taxonomy)
    digest = Digest(name="Customer voice", timezone="UTC", objective_id=None)
    async with app.db.transaction() as session:
        composed = await composer(session, digest, 1, None, NOW)
    assert not isinstance(composed, str)
    message, _ = composed
    titles = [card.title for card in message.cards]
    assert "📈 Spiking: Billing: 7 voices" in titles  # the week's, one before today
    assert "Documentation: 3 voices" in titles  # not spiking: not marked
    billing = next(card for card in message.cards if card.title.startswith("📈"))
    assert dict((f.label, f.value) for f in billing.facts)["Spike"].startswith(
        "6 voices from 10 Mar"
    )
    header = dict((f.label, f.value) for f in message.cards[0].facts)
    assert header["Logged by colleagues"] == "1"


def test_an_import_looks_for_spikes_and_the_cli_lists_them(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    now = utcnow().replace(microsecond=0)
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "created_at", "comment"])
        for day in range(1, 9):
            writer.writerow([f"old-{day}", (now - timedelta(days=day)).isoformat(), "Slow reply"])
        for number in range(8):
            writer.writerow([f"new-{number}", now.isoformat(), f"Overcharged on invoice {number}"])
    runner = CliRunner()
    result = runner.invoke(cli, ["voice", "import", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["spikes"] == ["billing"]
    listed = runner.invoke(cli, ["voice", "spikes", "--json"], catch_exceptions=False)
    [spike] = json.loads(listed.stdout)
    assert (spike["theme"], spike["count"], spike["alerted_at"]) == ("billing", 8, None)
    text = runner.invoke(cli, ["voice", "spikes"], catch_exceptions=False).output
    assert "billing: 8 voices, usually about 0" in text and "not alerted" in text
    again = runner.invoke(cli, ["voice", "spikes", "--detect", "--json"], catch_exceptions=False)
    assert len(json.loads(again.stdout)) == 1


def test_a_bad_period_is_one_line(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["voice", "spikes", "--since", "often"])
    assert result.exit_code == 1 and "'often' is not a period" in result.output


async def test_the_console_marks_spiking_themes_and_counts_voice_logged_by_colleagues(
    app: Application,
) -> None:
    from aiohttp.test_utils import TestServer

    from bot.domain import Role
    from bot.web import build_web_app
    from tests.conftest import make_member
    from tests.operations.test_console import Browser, signed_in

    now = utcnow()
    await add_voice(app, "billing", now - timedelta(hours=1), "Refund, please", count=2)
    async with app.db.transaction() as session:
        await store_voice_item(
            session,
            source="employee",
            external_id="chat:1",
            text="Their invoice was wrong",
            received_at=now - timedelta(minutes=5),
            themes=["billing"],
        )
        session.add(
            VoiceSpike(
                theme="billing",
                period_start=now - timedelta(hours=2),
                period_end=now + timedelta(hours=22),
                count=7,
                usual=0.5,
                spread=1.0,
                alerted_at=now,
            )
        )
    await make_member(app, "mia", role=Role.MANAGER)
    server = TestServer(build_web_app(app, run_scheduler=False, run_jobs=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            browser = Browser(f"http://127.0.0.1:{server.port}", http)
            await signed_in(app, browser, "mia")
            status, html = await browser.get("/console/voice")
    finally:
        await server.close()
    assert status == 200
    assert "📈 spiking" in html and "Spike: 7 voices from" in html
    assert "1 of these voices was logged by colleagues" in html


async def test_the_leaders_periodic_job_finds_a_spike_and_alerts_it(
    app: Application, remote: RemotePlatform
) -> None:
    """Spikes also come from voice dated by a source's own clock: the server looks for them
    on a schedule (a plugin job, which only the leader runs), not only after imports."""
    start = content_settings(app.settings).spikes.period_start(utcnow())
    for days in (1, 3, 5):
        await add_voice(app, "reporting", start - timedelta(days=days, hours=-1))
    await add_voice(app, "reporting", start, "The weekly report is empty again", count=6)
    [job] = [job for job in (f(app) for f in app.extensions.jobs) if job.name == "voice spikes"]
    await job.run()
    await job.run()
    [alert] = await alerts_sent(app, remote)
    assert alert.message.cards[0].title == "Spike: reporting (6 voices)"


async def test_a_webhook_batch_that_makes_a_spike_alerts_it_at_once(
    settings: Settings, remote: RemotePlatform
) -> None:
    from aiohttp.test_utils import TestServer

    from bot.web import build_web_app
    from tests.content.test_voice import SECRET, post_webhook, signed

    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    configured = with_env(settings, VOICE_WEBHOOK_SECRET=SECRET)
    async with open_application(configured, registry=registry) as app:
        start = content_settings(app.settings).spikes.period_start(utcnow())
        await add_voice(app, "documentation", start - timedelta(days=2))
        items = [
            {"id": f"D-{n}", "comment": f"The guide is wrong ({n})", "date": start.isoformat()}
            for n in range(5)
        ]
        body = json.dumps({"items": items}).encode()
        server = TestServer(build_web_app(app, run_scheduler=False, run_jobs=False))
        await server.start_server()
        try:
            status, answer = await post_webhook(server, body, signed(body))
            assert status == 200 and answer["spikes"] == ["documentation"]
            while not [s for s in remote.sent if s.message.kind == "voice_spike"]:
                await alerts_sent(app, remote)  # the server's worker may hold it: let it send
                await asyncio.sleep(0.02)
            [alert] = await alerts_sent(app, remote)
        finally:
            await server.close()
        assert alert.message.cards[0].title == "Spike: documentation (5 voices)"


async def test_a_colleague_whose_voice_tips_a_theme_into_a_spike_is_told(
    app: Application, remote: RemotePlatform, tmp_path: Path
) -> None:
    import io

    from adapters.shell.mailbox import Mailbox
    from adapters.shell.session import ShellSession
    from tests.conftest import make_member

    start = content_settings(app.settings).spikes.period_start(utcnow())
    await add_voice(app, "billing", start - timedelta(days=3))
    await add_voice(app, "billing", start, "Invoice wrong again", count=4)
    await make_member(app, "sam", platform="shell")
    out = io.StringIO()
    script = "/voice The invoice doubled overnight\n\n\n\n"
    session = ShellSession(
        app, Mailbox(tmp_path), "sam", stdin=io.StringIO(script), stdout=out, interactive=False
    )
    assert await session.run() == 0, out.getvalue()
    assert "billing is spiking, far above its usual level: the alert channel was told" in (
        " ".join(out.getvalue().replace("│", " ").split())
    )
    [alert] = await alerts_sent(app, remote)
    assert alert.message.cards[0].title == "Spike: billing (5 voices)"
