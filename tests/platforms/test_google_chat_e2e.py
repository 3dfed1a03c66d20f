"""The issue's proof on Google Chat, over HTTP against the real ``advocacy serve`` process and
the fake Chat API: a strategist schedules a digest in a card form and sends it now, it reaches
employees as a cards v2 card, "Useful" counts once though Chat delivers the press twice, ideas
arrive by ``/suggest`` (one anonymous), a manager answers in a dialog and the author is told;
forged and expired tokens are refused. Every card the bot sent passed the fake's checks."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.google_chat_fake import FakeGoogleChat, Posted
from tests.google_chat_support import (
    AUDIENCE,
    PUBLIC_URL,
    ChatClient,
    click_event,
    find_button,
    form_inputs,
    google_chat_env,
    message_event,
    pings,
    readable_text,
    submit_button,
)
from tests.serve_process import run_cli, running_serve, wait_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
DANA, BOSS, ALICE, ZED = "users/201", "users/202", "users/203", "users/204"
NAMES = {DANA: "Dana Kim", BOSS: "Mike Chen", ALICE: "Alice Martin", ZED: "Zed Author"}


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def latest(fake: FakeGoogleChat, user: str, containing: str) -> Posted | None:
    for posted in reversed(fake.in_space(f"spaces/dm-{user.removeprefix('users/')}")):
        if containing in readable_text(posted.body):
            return posted
    return None


def card_with(body: dict[str, Any], containing: str) -> dict[str, Any]:
    return next(c["card"] for c in body["cardsV2"] if containing in readable_text(c["card"]))


async def test_the_full_loop_in_google_chat_against_advocacy_serve(tmp_path: Path) -> None:
    async with FakeGoogleChat() as fake:
        env = {
            **os.environ,
            "ADVOCACY_SECRET_KEY": "gchat-e2e-key-5a0f61d2c34b7e98aa10",
            "DATABASE_URL": "",
            "ADVOCACY_DATA_DIR": "",
            "LOG_LEVEL": "INFO",
            "PUBLIC_URL": PUBLIC_URL,
            "MICROSOFT_APP_ID": "",
            **google_chat_env(fake, tmp_path),
        }
        for user, role, manager in (
            (DANA, "strategist", None),
            (BOSS, "manager", None),
            (ALICE, "employee", BOSS),
            (ZED, "employee", BOSS),
        ):
            args = ["members", "add", "google_chat", user, "--name", NAMES[user]]
            args += ["--role", role, "--team", "Support"]
            await run_cli(env, tmp_path, *args + (["--manager", manager] if manager else []))
            fake.add_user(user)
        await run_cli(
            env,
            tmp_path,
            "content",
            "add",
            "https://example.com/halved",
            "--title",
            "How support halved first-reply time",
        )
        db = tmp_path / "advocacy.db"

        async with running_serve(env, tmp_path) as server, aiohttp.ClientSession() as session:
            assert any("adapter google_chat: enabled" in line for line in server.log)
            chat = ChatClient(f"{server.base_url}/google-chat/events", fake, session)

            def say(user: str, text: str, **kwargs: Any) -> Any:
                return chat.post(message_event(user, NAMES[user], text, **kwargs))

            # Forged and expired tokens are refused and change nothing.
            forged = message_event(DANA, NAMES[DANA], "digest run Weekly picks")
            assert (await chat.post(forged, token=fake.forged_token(AUDIENCE)))[0] == 401
            stale = fake.request_token(AUDIENCE, issued=time.time() - 7200)
            assert (await chat.post(forged, token=stale))[0] == 401

            # 1. The strategist schedules a digest in a card form, then sends it now.
            status, answer = await say(DANA, "digest add")
            assert status == 200 and "Schedule" in readable_text(answer)
            form = answer["cardsV2"][0]["card"]
            values = {
                "name": "Weekly picks",
                "kind": "content",
                "audience": "all",
                "days": "mon",
                "time": "09:00",
                "timezone": "UTC",
            }
            status, _ = await chat.post(
                click_event(
                    DANA,
                    NAMES[DANA],
                    {},
                    submit_button(form),
                    form_inputs=form_inputs(form, values),
                )
            )
            assert status == 200
            await say(DANA, "digest run Weekly picks")

            # 2. It reaches Alice as a cards v2 card, through the Chat API.
            digest = await wait_for(lambda: latest(fake, ALICE, "halved"), "the digest")
            assert digest.body["cardsV2"]
            await wait_for(
                lambda: query(
                    db, f"SELECT count(*) FROM deliveries WHERE platform_ref = '{digest.name}'"
                )[0][0],
                "the delivery record",
            )

            # 3. Alice presses Useful; Chat delivers the press twice: it counts once.
            useful = find_button(card_with(digest.body, "halved"), "Useful")
            press = click_event(ALICE, NAMES[ALICE], {"name": digest.name}, useful)
            for _ in range(2):
                assert (await chat.post(press))[0] == 200
            await wait_for(lambda: query(db, "SELECT kind FROM feedback"), "the feedback")
            assert query(db, "SELECT kind FROM feedback") == [("useful",)]

            # 4. Ideas by /suggest: one signed, one anonymous.
            await say(ALICE, "Publish the on-call rota", command="suggest")
            await say(ZED, "--anonymous Fix the export before anything else", command="suggest")
            ideas = await wait_for(
                lambda: (
                    rows
                    if len(rows := query(db, "SELECT anonymous, author_id FROM suggestions")) == 2
                    else None
                ),
                "both ideas",
            )
            assert sorted(anonymous for anonymous, _ in ideas) == [0, 1]
            assert [author for anonymous, author in ideas if anonymous] == [None]

            # 5. The manager answers the anonymous idea in a dialog.
            await say(BOSS, "rollup")
            rollup = await wait_for(
                lambda: (
                    latest(fake, BOSS, "Answer / set status")
                    or next(
                        (a for u, a in chat.answers if u == BOSS and "Answer" in readable_text(a)),
                        None,
                    )
                ),
                "the rollup",
            )
            rollup_body = rollup.body if isinstance(rollup, Posted) else rollup
            rollup_name = rollup.name if isinstance(rollup, Posted) else None
            answer_button = find_button(card_with(rollup_body, "export"), "Answer / set status")
            status, dialog = await chat.post(
                click_event(
                    BOSS, NAMES[BOSS], {"name": rollup_name} if rollup_name else {}, answer_button
                )
            )
            assert dialog["actionResponse"]["type"] == "DIALOG"
            body = dialog["actionResponse"]["dialogAction"]["dialog"]["body"]
            status, closed = await chat.post(
                click_event(
                    BOSS,
                    NAMES[BOSS],
                    {"name": rollup_name} if rollup_name else {},
                    submit_button(body),
                    dialog="SUBMIT_DIALOG",
                    form_inputs=form_inputs(
                        body, {"status": "planned", "text": "Agreed: exports come first."}
                    ),
                )
            )
            assert status == 200 and closed["actionResponse"]["type"] == "DIALOG"

            # 6. The author is told; the manager never learns who it was.
            notice = await wait_for(
                lambda: latest(fake, ZED, "exports come first"), "the author's notice"
            )
            assert "anonymous suggestion" in readable_text(notice.body)
            manager_saw = json.dumps(
                [p.body for p in fake.in_space("spaces/dm-202")]
                + [a for u, a in chat.answers if u == BOSS]
            )
            assert "Zed" not in manager_saw and ZED not in manager_saw

    # Every message the bot sent was accepted by the fake, and none of it pings anyone.
    writes = [c for c in fake.calls if c.method in ("POST", "PATCH") and "/messages" in c.path]
    assert writes and all(c.status == 200 for c in writes)
    assert all(pings(p.body) == [] for p in fake.messages.values())
