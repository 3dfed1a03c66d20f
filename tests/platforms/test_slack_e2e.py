"""The issue's proof, over HTTP and over Socket Mode, against the real ``advocacy serve``
process: a strategist schedules a digest, it reaches employees, one presses Useful (counted once
though Slack retries), one files an anonymous idea from a message shortcut, a manager answers it
from the Home tab, and the author gets the answer by DM, while forged requests are refused and
no person's text reaches Slack unescaped."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.serve_process import run_cli, running_serve, wait_for
from tests.slack_fake import FakeSlack
from tests.slack_socket_fake import FakeSlackSocketMode
from tests.slack_socket_support import SocketSlackClient
from tests.slack_support import (
    IDEAS_CHANNEL,
    SIGNING_SECRET,
    TEAM,
    SlackClient,
    unescaped_markup,
    view_submission,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def button(blocks: list[dict], label: str) -> dict:
    return next(
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == label
    )


def serve_env(fake: FakeSlack, **slack: str) -> dict[str, str]:
    """``advocacy serve``'s environment: a SQLite file in the working directory, Slack's Web API
    at the fake, and ``slack``'s SLACK_* variables."""
    return {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "slack-e2e-key-cb73c258a1676988125ae53e",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
        "LOG_LEVEL": "INFO",
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_API_URL": fake.api_url,
        "SUGGESTIONS_CHANNELS": f"slack:{IDEAS_CHANNEL}",
        "PUBLIC_URL": "https://advocacy.example.com",
        **slack,
    }


async def prepare(env: dict[str, str], tmp_path: Path, fake: FakeSlack) -> Path:
    """The people and the article of the loop, added with the CLI; the database file."""
    for user, name, role, manager in (
        ("UDANA", "Dana Kim", "strategist", None),
        ("UBOSS", "Mike Chen", "manager", None),
        ("UALICE", "Alice Martin", "employee", "UBOSS"),
        ("UZED", "Zed Author", "employee", "UBOSS"),
    ):
        args = [
            "members",
            "add",
            "slack",
            user,
            "--name",
            name,
            "--role",
            role,
            "--team",
            "Support",
        ] + (["--manager", manager] if manager else [])
        await run_cli(env, tmp_path, *args)
        fake.add_user(user, real_name=name)
    await run_cli(
        env,
        tmp_path,
        "content",
        "add",
        "https://example.com/halved",
        "--title",
        "How support halved first-reply time",
    )
    return tmp_path / "advocacy.db"


async def the_loop(
    slack: SlackClient | SocketSlackClient,
    fake: FakeSlack,
    db: Path,
    midway: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """The issue's loop, whichever way Slack reaches the bot; ``midway`` runs after the click."""
    # 1. The strategist schedules a digest in the modal, then sends it now.
    await slack.command("/advocacy", "digest add", "UDANA")
    modal = await wait_for(lambda: fake.opened_views, "the digest modal")
    status, body = await slack.interaction(
        view_submission(
            "UDANA",
            modal[-1],
            {
                "name": "Weekly picks",
                "kind": "content",
                "audience": "all",
                "days": "mon",
                "time": "09:00",
                "timezone": "Europe/Paris",
            },
        )
    )
    assert (status, body) == (200, "")
    await slack.command("/advocacy", "digest run Weekly picks", "UDANA")

    # 2. It reaches every employee as a Block Kit DM.
    await wait_for(
        lambda: all(f"D{u}" in fake.messages for u in ("UALICE", "UZED", "UBOSS", "UDANA")),
        "the digest DMs",
    )
    digest = fake.messages["DUALICE"][0]
    assert "How support halved first-reply time" in json.dumps(digest["blocks"])

    # 3. Alice presses Useful; Slack retries the same click: it counts once.
    useful = button(digest["blocks"], "Useful")
    click = {"channel": "DUALICE", "ts": digest["ts"], "action_ts": "1700000100.1"}
    await slack.press("UALICE", useful["action_id"], json.loads(useful["value"]), **click)
    await slack.press("UALICE", useful["action_id"], json.loads(useful["value"]), **click)
    await wait_for(
        lambda: "✓ Useful" in json.dumps(fake.messages["DUALICE"][0]["blocks"], ensure_ascii=False),
        "the card update",
    )
    assert query(db, "SELECT kind FROM feedback") == [("useful",)]

    if midway is not None:
        await midway()

    # 4. Zed turns a customer's message into an anonymous idea.
    await slack.interaction(
        {
            "type": "message_action",
            "callback_id": "turn_into_suggestion",
            "trigger_id": "trig.e2e",
            "team": {"id": TEAM},
            "user": {"id": "UZED"},
            "channel": {"id": "CSUPPORT"},
            "message": {
                "type": "message",
                "user": "UCUST",
                "ts": "1700000200.000300",
                "text": "Customer says <!channel> the export is broken",
            },
            "response_url": fake.response_url("shortcut"),
        }
    )
    shortcut_modal = await wait_for(
        lambda: [v for v in fake.opened_views if v["callback_id"] == "suggest"],
        "the suggestion modal",
    )
    await slack.interaction(
        view_submission(
            "UZED",
            shortcut_modal[-1],
            {
                "text": "Customer says <!channel> the export is broken: fix it",
                "anonymous": True,
            },
        )
    )
    await wait_for(
        lambda: query(db, "SELECT anonymous, author_id, source_url FROM suggestions"),
        "the idea",
    )
    [(anonymous, author_id, source_url)] = query(
        db, "SELECT anonymous, author_id, source_url FROM suggestions"
    )
    # Anonymous: no link back to the message (it could be her own).
    assert anonymous == 1 and author_id is None and source_url is None

    # 5. The manager answers it from the Home tab.
    await slack.event(
        {
            "type": "app_home_opened",
            "user": "UBOSS",
            "tab": "home",
            "channel": "DUBOSS",
            "event_ts": "1.0",
        }
    )
    home = await wait_for(lambda: fake.published_views.get("UBOSS"), "the Home tab")
    answer = button(home["blocks"], "Answer / set status")
    await slack.press(
        "UBOSS",
        answer["action_id"],
        json.loads(answer["value"]),
        view={"id": home.get("id", "VHOME"), "type": "home"},
    )
    answer_modal = await wait_for(
        lambda: [v for v in fake.opened_views if v["callback_id"] == "answer"],
        "the answer modal",
    )
    await slack.interaction(
        view_submission(
            "UBOSS",
            answer_modal[-1],
            {"status": "planned", "text": "Agreed: exports come first this sprint."},
        )
    )

    # 6. The author gets the answer by DM; the manager never learns who it was.
    notice = await wait_for(
        lambda: [
            c
            for c in fake.calls_to("chat.postMessage")
            if c.args["channel"] == "UZED" and "anonymous suggestion" in c.args["text"]
        ],
        "the author's DM",
    )
    assert "exports come first" in json.dumps(notice[0].args["blocks"])
    manager_saw = json.dumps(
        [
            fake.published_views["UBOSS"],
            *fake.opened_views,
            *[c.args for c in fake.calls if c.args.get("channel") in ("UBOSS", "DUBOSS")],
        ]
    )
    assert "UZED" not in manager_saw and "Zed" not in manager_saw

    # 7. No person's text ever reached Slack unescaped.
    assert unescaped_markup(slack) == []


async def test_the_full_loop_in_slack_against_advocacy_serve(tmp_path: Path) -> None:
    async with FakeSlack(team_id=TEAM) as fake:
        env = serve_env(fake, SLACK_SIGNING_SECRET=SIGNING_SECRET)
        db = await prepare(env, tmp_path, fake)

        async with running_serve(env, tmp_path) as server:
            port = int(server.base_url.rsplit(":", 1)[1])
            assert any("adapter slack: enabled" in line for line in server.log)
            # The start-up log says what the adapter can do beyond the contract.
            assert any(
                "adapter slack: also offers directory sync, home, message actions" in line
                for line in server.log
            )
            async with aiohttp.ClientSession() as session:
                slack = SlackClient(f"http://127.0.0.1:{port}/slack/events", fake, session)

                # Forged requests are refused and change nothing.
                forged = slack.post(
                    "command=/suggest&text=forged&user_id=UEVE&team_id=T0001",
                    "application/x-www-form-urlencoded",
                    secret="not-the-secret",
                )
                assert (await forged)[0] == 401

                await the_loop(slack, fake, db)
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    metrics = await response.text()
                assert (
                    'advocacy_feedback_recorded_total{kind="useful",platform="slack"} 1.0'
                    in metrics
                )


async def test_the_full_loop_over_socket_mode_with_slack_reconnecting_midway(
    tmp_path: Path,
) -> None:
    """No public URL: the bot opens Slack's Socket Mode with the app token; halfway through,
    Slack asks it to reconnect (``refresh_requested``) and closes the socket, and the rest of
    the loop arrives over the new connection."""
    async with FakeSlackSocketMode(team_id=TEAM) as fake:
        env = serve_env(fake, SLACK_APP_TOKEN=fake.app_token, SLACK_SIGNING_SECRET="")
        db = await prepare(env, tmp_path, fake)

        async with running_serve(env, tmp_path) as server:
            assert server.said(
                "adapter slack: enabled (Socket Mode (SLACK_APP_TOKEN set), no public URL needed"
            )
            # No signed requests: Slack sends nothing to this server.
            assert server.said(
                "adapter slack: also offers directory sync, home, message actions, "
                "socket connection\n"
            )
            await fake.connected()
            await wait_for(lambda: server.said("slack: Socket Mode connected"), "the log line")
            # Nothing of Slack's is served over HTTP.
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{server.base_url}/slack/events", data=b"{}") as answer,
            ):
                assert answer.status == 404

            async def slack_reconnects() -> None:
                await fake.disconnect("refresh_requested")  # the next envelope waits for it

            slack = SocketSlackClient(fake)
            await the_loop(slack, fake, db, midway=slack_reconnects)
            # The bot left the old connection itself, on Slack's word, and opened one new one.
            assert fake.disconnects_sent == 1 and fake.closed_by_slack == 0
            assert fake.hellos == 2
            assert server.said("slack: Slack asked to reconnect (refresh_requested)")
            assert server.said("slack: Socket Mode reconnected (Slack asked: refresh_requested)")
            assert len(fake.calls_to("apps.connections.open")) == 2
            assert all(c.token == fake.app_token for c in fake.calls_to("apps.connections.open"))
            assert query(db, "SELECT kind FROM feedback") == [("useful",)]
