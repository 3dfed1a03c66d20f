"""The issue's proof, over HTTP against the real ``advocacy serve`` process: in Teams, a
strategist schedules a digest, it is delivered after a restart, a reaction counts once, an idea
is filed anonymously, a manager answers it and the author is told; every card the bot sends is
valid against the Adaptive Cards 1.5 schema (the fake Connector refuses any that is not)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.serve_process import run_cli, running_serve, wait_for
from tests.teams_fake import FakeConnector
from tests.teams_support import TENANT, TeamsClient, action, cards_in, user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
BOSS, ALICE, DANA = user("Boss"), user("Alice"), user("Dana")


@asynccontextmanager
async def serve(env: dict[str, str], cwd: Path) -> AsyncIterator[str]:
    async with running_serve(env, cwd) as server:
        assert any("adapter teams: enabled (WITHOUT AUTHENTICATION" in line for line in server.log)
        yield f"{server.base_url}/api/messages"


def latest(connector: FakeConnector, person: Any, containing: str = "") -> dict[str, Any] | None:
    for activity in reversed(connector.activities.get(person.conversation, [])):
        if containing in json.dumps(cards_in(activity)):
            return activity
    return None


async def test_the_full_loop_in_teams_against_advocacy_serve(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "teams-e2e-key-e7281d170459febff24fb6a2",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
        "LOG_LEVEL": "INFO",
        "MICROSOFT_APP_ID": "",
        "PUBLIC_URL": "https://advocacy.example.com",
    }
    for person, role in ((BOSS, "manager"), (ALICE, "employee"), (DANA, "strategist")):
        args = [
            "members",
            "add",
            "teams",
            person.aad,
            "--name",
            person.name,
            "--role",
            role,
            "--team",
            "Support",
            "--workspace",
            TENANT,
        ]
        if person is ALICE:
            args += ["--manager", BOSS.aad]
        await run_cli(env, tmp_path, *args)
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

    async with FakeConnector() as connector, aiohttp.ClientSession() as session:
        # Everyone talks to the bot once; then the bot restarts.
        async with serve(env, tmp_path) as url:
            teams = TeamsClient(url, connector, session)
            for person in (BOSS, ALICE, DANA):
                status, _ = await teams.say(person, "hello")
                assert status in (200, 201)
        async with serve(env, tmp_path) as url:
            teams = TeamsClient(url, connector, session)
            # 1. The strategist schedules a digest with the card form, then sends it now.
            await teams.say(DANA, "digest add")
            form = await wait_for(lambda: latest(connector, DANA, "Schedule a digest"), "form")
            status, _ = await teams.execute(
                DANA,
                action(cards_in(form)[0], "Schedule"),
                form["id"],
                inputs={
                    "name": "Weekly picks",
                    "kind": "content",
                    "audience": "all",
                    "channel": "",
                    "days": "mon",
                    "time": "09:00",
                    "timezone": "UTC",
                },
            )
            assert status == 200
            await teams.say(DANA, "digest run Weekly picks")
            # 2. It reaches Alice, in the conversation stored before the restart.
            digest = await wait_for(lambda: latest(connector, ALICE, "halved"), "the digest")
            # The bot records a batch's deliveries once the batch is sent; people react later.
            await wait_for(
                lambda: (
                    sqlite3.connect(db)
                    .execute(
                        "SELECT count(*) FROM deliveries WHERE platform_ref LIKE ?",
                        (f"%|{digest['id']}",),
                    )
                    .fetchone()[0]
                ),
                "the delivery record",
            )
            # 3. She reacts; Teams delivers the reaction twice: it counts once (recorded by the
            # inbox's worker just after the acknowledgement).
            for _ in range(2):
                await teams.react(ALICE, "like", digest["id"], activity_id="reaction-1")

            def feedback() -> list[tuple[str, str]]:
                return sqlite3.connect(db).execute("SELECT kind, detail FROM feedback").fetchall()

            await wait_for(feedback, "the reaction")
            await wait_for(
                lambda: (
                    sqlite3.connect(f"{db}-inbox")  # the inbox's own file
                    .execute("SELECT count(*) FROM inbox_events WHERE status = 'pending'")
                    .fetchone()[0]
                    == 0
                ),
                "the inbox to be empty",
            )
            assert feedback() == [("reaction", "+1")]
            # 4. She files an idea anonymously.
            await teams.say(ALICE, "suggest --anonymous Publish the on-call rota")
            # 5. The manager answers it from the rollup card.
            await teams.say(BOSS, "rollup")
            rollup = await wait_for(
                lambda: latest(connector, BOSS, "Answer / set status"), "the rollup"
            )
            await teams.execute(
                BOSS, action(cards_in(rollup)[0], "Answer / set status"), rollup["id"]
            )
            form = await wait_for(lambda: latest(connector, BOSS, "Your answer"), "answer form")
            await teams.execute(
                BOSS,
                action(cards_in(form)[0], "Answer"),
                form["id"],
                inputs={"status": "planned", "text": "Agreed, from January."},
            )
            # 6. The author is told, proactively.
            notice = await wait_for(
                lambda: latest(connector, ALICE, "Agreed, from January"), "the author's notice"
            )
            assert "Your anonymous suggestion #1 is now planned" in json.dumps(cards_in(notice))
            assert "Alice" not in json.dumps(
                [cards_in(a) for a in connector.activities[BOSS.conversation]]
            )
    # Every card the bot sent was accepted: the fake refuses cards the 1.5 schema rejects.
    sent = [c for c in connector.calls if c.operation in ("send", "reply", "update")]
    assert sent and all(c.status in (200, 201) for c in sent)
    [(anonymous, author)] = (
        sqlite3.connect(db).execute("SELECT anonymous, author_id FROM suggestions").fetchall()
    )
    assert (anonymous, author) == (1, None)
