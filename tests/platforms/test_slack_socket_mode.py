"""Slack over Socket Mode (issue 17), in process against the fake of Slack's Socket Mode: an
envelope is in the durable inbox before Slack sees its ack, a redelivered envelope counts once,
a modal's mistake comes back in the ack's payload, reactions and the Home tab arrive as events,
the app token is checked (refused when it is not an app-level token), a dropped connection is
opened again, and an envelope acknowledged just before a ``kill -9`` is handled after it."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from adapters.slack import SlackAdapterFactory
from adapters.slack.cli import MANIFEST
from adapters.slack.config import SlackConfig
from adapters.slack.socket_mode import SlackSocketAdapter
from bot.cli.main import cli
from bot.config import Settings
from bot.inbox.store import inbox_file
from bot.platform import SocketConnection, capabilities_of
from bot.platform.inbox import InboxClosed
from bot.storage.models import Feedback, Suggestion
from tests.platforms.test_slack import deliver_digest
from tests.platforms.test_slack_e2e import button, query, serve_env
from tests.serve_process import run_cli, running_serve, wait_for
from tests.slack_fake import new_trigger_id
from tests.slack_socket_fake import APP_TOKEN, FakeSlackSocketMode
from tests.slack_socket_support import SocketSlackClient, command_payload
from tests.slack_support import TEAM, SlackStack, slack_stack, view_submission

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def socket_stack(settings: Settings, **env: str):  # type: ignore[no-untyped-def]
    return slack_stack(
        settings, fake_class=FakeSlackSocketMode, **{"SLACK_APP_TOKEN": APP_TOKEN, **env}
    )


async def connected(stack: SlackStack) -> tuple[FakeSlackSocketMode, SocketSlackClient]:
    """Both ends see the connection: the fake has greeted it, and the adapter's websocket
    handshake has returned (the hello can arrive first: on Python 3.13 it always does)."""
    fake = stack.fake
    assert isinstance(fake, FakeSlackSocketMode)
    await fake.connected()
    adapter = stack.app.adapters["slack"]
    assert isinstance(adapter, SlackSocketAdapter)
    await wait_for(lambda: adapter.connected, "the adapter's end of the Socket Mode connection")
    return fake, SocketSlackClient(fake)


async def test_an_envelope_is_in_the_inbox_before_slack_sees_its_ack(
    sqlite_settings: Settings,
) -> None:
    async with socket_stack(sqlite_settings) as stack:
        fake, slack = await connected(stack)
        adapter = stack.app.adapters["slack"]
        assert isinstance(adapter, SlackSocketAdapter) and adapter.connected
        assert isinstance(adapter, SocketConnection)
        assert "socket connection" in capabilities_of(adapter)
        assert "signed requests" not in capabilities_of(adapter)
        db = inbox_file(stack.app.db)  # on a SQLite file, the inbox has a file of its own
        assert db is not None
        payload = command_payload(fake, "/suggest", "Open the office on Saturdays", "UALICE")
        key = stack.app.sealer.event_key("slack", f"command:{payload['trigger_id']}")
        stored_at_ack: list[int] = []

        def on_ack(envelope_id: str) -> None:
            # Runs as the ack arrives, before anything else on the loop: the row is there.
            with sqlite3.connect(db) as connection:
                [(count,)] = connection.execute(
                    "SELECT count(*) FROM inbox_events WHERE event_key = ?", (key,)
                ).fetchall()
            stored_at_ack.append(count)

        fake.on_ack = on_ack
        envelope = await fake.send_envelope(
            "slash_commands", payload, accepts_response_payload=True
        )
        assert await fake.acknowledged(envelope) is None
        assert stored_at_ack == [1]
        await stack.settle()
        async with stack.app.db.transaction() as session:
            texts = (await session.scalars(select(Suggestion.text))).all()
        assert texts == ["Open the office on Saturdays"]
        assert slack.sent == []  # sent by hand above, to know its trigger


async def test_a_redelivered_envelope_counts_once(sqlite_settings: Settings) -> None:
    async with socket_stack(sqlite_settings) as stack:
        fake, slack = await connected(stack)
        message = (await deliver_digest(stack, "UALICE"))["DUALICE"]
        useful = button(message["blocks"], "Useful")
        click = {"channel": "DUALICE", "ts": message["ts"], "action_ts": "1700000300.1"}
        await slack.press("UALICE", useful["action_id"], json.loads(useful["value"]), **click)
        press = slack.sent[-1]
        await fake.redeliver(press)  # Slack did not see the ack in time: the same envelope again
        assert await fake.acknowledged(press) is None
        reaction = {
            "type": "reaction_added",
            "user": "UALICE",
            "reaction": "tada",
            "item": {"type": "message", "channel": "DUALICE", "ts": message["ts"]},
            "item_user": fake.bot_user_id,
            "event_ts": "1700000400.000100",
        }
        await slack.event(reaction, event_id="EvREACT1")
        await fake.redeliver(slack.sent[-1])
        await fake.acknowledged(slack.sent[-1])
        await stack.settle()
        for envelope in (press, slack.sent[-1]):
            assert fake.envelopes[envelope].body["retry_attempt"] == 1
            assert len(fake.envelopes[envelope].acks) == 2  # both deliveries acknowledged
        async with stack.app.db.transaction() as session:
            kinds = sorted(await session.scalars(select(Feedback.kind)))
        assert kinds == ["reaction", "useful"]


async def test_a_form_mistake_comes_back_in_the_ack_s_payload(sqlite_settings: Settings) -> None:
    async with socket_stack(sqlite_settings) as stack:
        fake, slack = await connected(stack)
        await slack.command("/suggest", "", "UBOB")
        [opened] = await wait_for(lambda: fake.opened_views, "the suggestion modal")
        status, body = await slack.interaction(view_submission("UBOB", opened, {"text": " "}))
        assert status == 200
        answer = json.loads(body)  # the ack's payload
        assert answer["response_action"] == "errors" and "empty" in answer["errors"]["text"]
        assert fake.envelopes[slack.sent[-1]].body["accepts_response_payload"] is True
        await stack.settle()
        async with stack.app.db.transaction() as session:
            assert (await session.scalars(select(Suggestion))).all() == []


async def test_the_home_tab_and_a_message_shortcut_arrive_over_the_socket(
    sqlite_settings: Settings,
) -> None:
    async with socket_stack(sqlite_settings) as stack:
        fake, slack = await connected(stack)
        await slack.event(
            {"type": "app_home_opened", "user": "UBOSS", "tab": "home", "channel": "DUBOSS"}
        )
        await wait_for(lambda: fake.published_views.get("UBOSS"), "the Home tab")
        await slack.interaction(
            {
                "type": "message_action",
                "callback_id": "log_customer_voice",
                "trigger_id": new_trigger_id(),
                "team": {"id": TEAM},
                "user": {"id": "UZED"},
                "channel": {"id": "CSUPPORT"},
                "message": {
                    "type": "message",
                    "user": "UCUST",
                    "ts": "1700000200.000300",
                    "text": "The invoice export times out",
                },
                "response_url": fake.response_url("shortcut"),
            }
        )
        voice = await wait_for(
            lambda: [v for v in fake.opened_views if "invoice export" in json.dumps(v)],
            "the customer-voice form",
        )
        assert voice


def test_a_token_that_is_not_an_app_level_token_is_refused_saying_which() -> None:
    status = SlackConfig.from_env(
        {"SLACK_APP_TOKEN": "xoxb-123-456", "SLACK_BOT_TOKEN": "xoxb-123-456"}, "http://x"
    ).status()
    assert not status.enabled and status.warning  # Slack was wanted: a WARNING, not INFO
    assert "xapp-" in status.reason and "bot token" in status.reason
    assert "connections:write" in status.reason
    assert "123-456" not in status.reason


def test_socket_mode_needs_a_bot_token_but_no_signing_secret() -> None:
    without_bot = SlackConfig.from_env({"SLACK_APP_TOKEN": APP_TOKEN}, "http://x").status()
    assert not without_bot.enabled and "SLACK_BOT_TOKEN" in without_bot.reason
    assert without_bot.warning
    assert "SLACK_SIGNING_SECRET is not needed" in without_bot.reason
    ready = SlackConfig.from_env(
        {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_BOT_TOKEN": "xoxb-1"}, "http://x"
    ).status()
    assert ready.enabled
    assert "Socket Mode (SLACK_APP_TOKEN set), no public URL needed" in ready.reason
    assert SlackAdapterFactory().platform == "slack"


async def test_an_app_token_slack_refuses_is_said_in_the_log(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.slack")
    async with socket_stack(sqlite_settings, SLACK_APP_TOKEN="xapp-1-A0001-1-revoked") as stack:
        fake = stack.fake
        await wait_for(lambda: fake.calls_to("apps.connections.open"), "the connection attempt")
        await wait_for(
            lambda: "Slack refused SLACK_APP_TOKEN (invalid_auth)" in caplog.text, "the log line"
        )
        assert isinstance(fake, FakeSlackSocketMode) and fake.hellos == 0
        adapter = stack.app.adapters["slack"]
        assert isinstance(adapter, SlackSocketAdapter) and not adapter.connected


async def test_a_dropped_connection_is_opened_again_and_said_in_the_log(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.slack")
    async with socket_stack(sqlite_settings) as stack:
        fake, slack = await connected(stack)
        await fake.drop()  # no disconnect message: the socket just closes
        status, _ = await slack.command("/suggest", "Said after the drop", "UALICE")
        assert status == 200 and fake.hellos == 2
        await wait_for(
            lambda: "Slack closed the Socket Mode connection unannounced" in caplog.text,
            "the drop in the log",
        )
        assert "slack: Socket Mode reconnected (the connection was lost)" in caplog.text
        await stack.settle()
        async with stack.app.db.transaction() as session:
            assert (await session.scalars(select(Suggestion.text))).all() == ["Said after the drop"]


async def test_an_acknowledged_envelope_is_handled_after_a_kill_9(tmp_path: Path) -> None:
    """Slack never sends an acknowledged envelope again: the bot killed right after the ack,
    before the work was done, does it after the restart, from the inbox."""
    async with FakeSlackSocketMode(team_id=TEAM) as fake:
        env = serve_env(fake, SLACK_APP_TOKEN=fake.app_token, SLACK_SIGNING_SECRET="")
        fake.add_user("UALICE", real_name="Alice Martin")
        fake.delays["users.info"] = 5.0  # the work behind the ack is still in hand at the kill
        slack = SocketSlackClient(fake)
        db = tmp_path / "advocacy.db"
        async with running_serve(env, tmp_path) as first:
            await fake.connected()
            status, _ = await slack.command("/suggest", "Kept through a crash", "UALICE")
            assert status == 200
            await wait_for(lambda: fake.calls_to("users.info"), "the work to begin")
            first.kill()
        assert query(db, "SELECT count(*) FROM suggestions") == [(0,)]
        fake.delays.clear()
        async with running_serve(env, tmp_path):
            await fake.connected(hellos=2)
            ideas = await wait_for(
                lambda: query(db, "SELECT text FROM suggestions"), "the idea", timeout=60
            )
        assert ideas == [("Kept through a crash",)]
        [envelope] = fake.envelopes.values()
        assert envelope.body["retry_attempt"] == 0 and len(envelope.acks) == 1  # sent once


def test_the_socket_mode_manifest_turns_it_on_and_names_no_url() -> None:
    printed = CliRunner().invoke(
        cli, ["slack", "manifest", "--socket-mode"], env={"PUBLIC_URL": ""}
    )
    assert printed.exit_code == 0, printed.output
    assert "YOUR-BOT-HOST" not in printed.output and "https://advocacy" not in printed.output
    assert "connections:write" in printed.output and "SLACK_APP_TOKEN" in printed.output
    manifest = yaml.safe_load(printed.output)
    http = yaml.safe_load(MANIFEST.read_text())
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["event_subscriptions"]
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert all("url" not in command for command in manifest["features"]["slash_commands"])
    assert "redirect_urls" not in manifest["oauth_config"]
    # Everything else is the HTTP manifest's: the same commands, shortcuts, events and scopes.
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [
        c["command"] for c in http["features"]["slash_commands"]
    ]
    assert manifest["features"]["shortcuts"] == http["features"]["shortcuts"]
    assert manifest["oauth_config"]["scopes"] == http["oauth_config"]["scopes"]
    assert (
        manifest["settings"]["event_subscriptions"]["bot_events"]
        == http["settings"]["event_subscriptions"]["bot_events"]
    )
    both = CliRunner().invoke(cli, ["slack", "manifest", "--socket-mode", "--url", "https://a.b"])
    assert both.exit_code != 0 and "do not go together" in both.output


async def test_an_envelope_that_could_not_be_stored_is_not_acknowledged(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inbox refuses (the server is stopping): no ack, so Slack sends the envelope again,
    and that delivery is stored, acknowledged and handled."""
    async with socket_stack(sqlite_settings) as stack:
        fake, slack = await connected(stack)
        inbox = stack.app.inbox
        accept = inbox.accept

        tried = asyncio.Event()

        async def closed(*args: object, **kwargs: object) -> object:
            tried.set()
            raise InboxClosed("the server is stopping")

        monkeypatch.setattr(inbox, "accept", closed)
        refused = await fake.send_envelope(
            "slash_commands",
            command_payload(fake, "/suggest", "Stored the second time", "UALICE"),
            accepts_response_payload=True,
        )
        await asyncio.wait_for(tried.wait(), 20)
        monkeypatch.setattr(inbox, "accept", accept)
        await slack.command("/suggest", "Sent after it", "UBOB")  # acknowledged: the bot is up
        assert not fake.envelopes[refused].acked.is_set()
        await fake.redeliver(refused)
        assert await fake.acknowledged(refused) is None
        await stack.settle()
        async with stack.app.db.transaction() as session:
            texts = sorted(await session.scalars(select(Suggestion.text)))
        assert texts == ["Sent after it", "Stored the second time"]


async def test_two_instances_share_one_app_token_and_each_envelope_counts_once(
    tmp_path: Path,
) -> None:
    """Two ``advocacy serve`` on one database and one app token: Slack sends each envelope to
    one of the two connections; one it sends again, to the other instance, counts once."""
    async with FakeSlackSocketMode(team_id=TEAM) as fake:
        env = serve_env(fake, SLACK_APP_TOKEN=fake.app_token, SLACK_SIGNING_SECRET="")
        fake.add_user("UALICE", real_name="Alice Martin")
        db = tmp_path / "advocacy.db"
        await run_cli(env, tmp_path, "db", "upgrade")
        async with running_serve(env, tmp_path) as first:
            await fake.connected()
            async with running_serve(env, tmp_path) as second:
                await fake.connected(hellos=2)
                slack = SocketSlackClient(fake)
                texts = [f"Shared idea {n}" for n in range(6)]
                for text in texts:
                    await slack.command("/suggest", text, "UALICE")
                again = fake.envelopes[slack.sent[0]]
                took_it = again.socket
                await fake.redeliver(slack.sent[0])  # to the other instance's connection
                await fake.acknowledged(slack.sent[0])
                assert again.socket is not took_it and len(again.acks) == 2
                await wait_for(
                    lambda: len(query(db, "SELECT text FROM suggestions")) >= len(texts),
                    "the ideas",
                    timeout=60,
                )
                await wait_for(
                    lambda: second.said("slack: Socket Mode connected; 1 other connection(s)"),
                    "the second instance's log",
                )
            assert first.said("slack: Socket Mode connected")
        sockets = {id(envelope.socket) for envelope in fake.envelopes.values()}
        assert len(sockets) == 2  # both instances took envelopes
        assert sorted(text for (text,) in query(db, "SELECT text FROM suggestions")) == texts
