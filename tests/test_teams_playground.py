"""The issue's loop against a REAL Teams client emulator: Microsoft 365 Agents Playground.

schedule, deliver after a restart, react once, suggest anonymously, a manager answers, the author
is told; every card valid against the 1.5 schema. The bot is the real ``advocacy serve`` process
(no MICROSOFT_APP_ID: loopback requests only); the client is ``@microsoft/m365agentsplayground``
0.2.28, installed by tests/playground_client.py with ``npm ci`` from tests/playground/ (skipped
only where Node.js or npm is missing).

The playground has ONE person at the keyboard (``currentUser``), so the loop is run by that one
person whose role is switched with ``advocacy roles grant`` between steps: strategist (schedules
and sends the digest), employee (receives it, reacts, files the anonymous idea), manager (reads
the rollup and answers); the author's notice comes back to the same personal chat.

What was learned about the playground (0.2.28), by reading its dist/index.js (one webpack
bundle; the server is express + ws) and by trying it:

Starting
  ``node cli.js -e BOT_ENDPOINT -c msteams --disable-telemetry -p PORT --conversation-id ID``
  from an empty directory (a ``.m365agentsplayground.yml`` there would replace the built-in
  tenant, users and chats), with ``TEAMSAPPTESTER_BROWSER=none`` and
  ``APPLICATION_INSIGHTS_NO_STATSBEAT=true``; its console goes to
  ``M365_AGENTS_PLAYGROUND_LOGFILE`` (every activity it logs is there too, as JSON). The bot
  endpoint is fixed for the process's life: a restarted bot must come back on the same port.
  ``GET /_debug/ping`` answers ``pong`` when it is up. ``GET /_internal/v1/config`` waits (up to
  15 s) until the bot endpoint answers at all, then returns ``{"config": {"tenantId", "bot":
  {"id", "name"}, "currentUser": {"id": "user-id-0", "name", "aadObjectId", ...}, "users":
  [5 more], "personalChat": {"id": ID}, "groupChats": [...], "teams": [...]},
  "internalConfig": {...}}`` (``/_internal/v1/testConfig`` is the same without the wait).

Talking (all JSON; 200 on success, else ``{"code": "BadArgument", "message"}`` with 400/404)
  * ``POST /_conversation/v1/conversations/{conv}/messages`` with ``{"from": {"id"}, "text",
    "textFormat": "plain"|"markdown"|"xml"}`` (``textFormat`` is REQUIRED: without it, 400
    "Invalid input"; ``mentions: [{"mentioned": {"id"}, "text"}]`` optional). Answers
    ``{"messageId", "timestamp"}`` at once, then posts the bot a ``message`` activity whose
    ``id`` is a fresh GUID, not that ``messageId``. ``from`` is only checked to be a member of
    the chat: the activity is ALWAYS from ``currentUser``. In a group chat only messages that
    mention the bot reach it.
  * ``POST /_conversation/v1/invoke`` with ``{"name": "adaptiveCard/action", "from": {"id"},
    "conversation": {"id"}, "replyToId": MESSAGE_ID, "value": {"action": {"type":
    "Action.Execute", "verb", "data"}, "trigger": "manual"}}`` (what the web page sends for an
    Action.Execute button, the card's inputs merged into ``data``). ``replyToId`` must be a
    message of that conversation. The call waits for the bot and answers with its invoke
    response reduced to ``{"type", "value"}`` (502 if the bot fails). Then the playground
    replaces the card of that message, in its own state, by ``value`` whatever ``type`` says
    (so after an ``application/vnd.microsoft.activity.message`` answer the message holds that
    string); it tells the websocket nothing about it. Here ``from.id`` is honoured: any user of
    the conversation can press a button.
  * ``POST /_conversation/v1/submit`` with ``{"from": {"id"}, "conversation": {"id"},
    "replyToId": MESSAGE_ID, "value": {...}}``: an Action.Submit; the bot gets a ``message``
    activity with ``value`` and ``replyToId``. Answers 200 with an empty body before posting.
  * ``POST /_internal/v1/customActivities`` with a whole activity: posted to the bot as is,
    after answering 200 (empty). ``GET /_internal/v1/customActivities/template?conversationId=C``
    gives a base activity to fill in (fresh GUID ``id``, ``serviceUrl``, ``channelId``,
    ``from`` currentUser with ``aadObjectId``, ``recipient`` the bot, ``conversation`` with
    ``conversationType`` and ``tenantId``, ``type: "<custom-activity-type>"``); with
    ``&type=install|uninstall|userAdded|botAdded|...`` a ready-made activity of that kind.
    The web page sends reactions (``messageReaction``) this way; re-sending the same activity
    (same ``id``) is what a redelivery looks like.

What the bot receives (Teams-shaped): ``channelId: "msteams"``, ``serviceUrl:
"http://localhost:PORT/_connector"``, ``from: {"id": "user-id-0", "name", "aadObjectId"}``,
``conversation: {"conversationType": "personal", "tenantId", "id"}``, ``channelData: {"tenant":
{"id"}}`` (invokes and submits add ``"source": {"name": "message"}``), ``recipient`` the bot,
an ``entities`` ``clientInfo``, and the header ``x-ms-agents-playground: true``; no
Authorization header unless auth is configured.

Watching (websockets; messages sent while nobody listens are buffered for the first client)
  * ``/_ws_conversation/v1/conversations/stream``: ``{"action": "createMessage" |
    "updateMessage" | "typing", "actionConversationId", "message": {"messageId", "timestamp",
    "from": {"id"}, "text", "textFormat", "attachments": [{"contentType", "content"}],
    "attachmentLayout", "mentions", ...}}``: the user's own messages and the bot's, including
    proactive ones sent to ``/_connector`` (``messageId`` = the id the connector returned to
    the bot; that is the ``replyToId`` for a button on it).
  * ``/_ws/log/stream``: ``{"logAction": "appendLog", "log": {...}}``; for every activity, in
    both directions, ``{"conversationId", "activityName", "messageId", "from": "Microsoft 365
    Agents Playground" | "User Application", "to", "request": {"body": ACTIVITY}, "response":
    {"statusCode", "body"}}`` (so the bot's invoke responses are there too); other entries are
    ``{"type": "text", "displayText"}``.
  The playground does not check Adaptive Cards (its server only checks that an attachment with
  the card content type has an object ``content``): this test validates them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.playground_client import Playground, button, install, tools_missing
from tests.teams_fake import adaptive_card_error

MISSING = tools_missing()
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.skipif(MISSING is not None, reason=f"the Agents Playground needs {MISSING}"),
]
TEST_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def playground_installed() -> Path:
    """``npm ci`` the pinned playground into tests/playground/node_modules, once."""
    return install()


async def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"advocacy {' '.join(args)} failed:\n{err.decode()}"
    return out.decode()


class Bot:
    """``advocacy serve`` as a subprocess, started as tests/test_teams_e2e.py does; its log is
    kept for failure reports."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.log: list[str] = []
        self._drain: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    async def start(self) -> None:
        """Start on ``self.port`` (0 the first time: any free port; then the same one, since
        the playground's bot endpoint cannot change)."""
        self.log.append(f"--- advocacy serve --port {self.port} ---\n")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--port",
            str(self.port),
            cwd=self.cwd,
            env=self.env,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stderr is not None
        while True:
            line = (await asyncio.wait_for(self.process.stderr.readline(), 30)).decode()
            assert line, "advocacy serve exited:\n" + "".join(self.log)
            self.log.append(line)
            if match := re.search(r"listening on http://127\.0\.0\.1:(\d+)", line):
                break
        assert any("adapter teams: enabled (WITHOUT AUTHENTICATION" in entry for entry in self.log)
        self.port = int(match.group(1))
        self._drain = asyncio.create_task(self._keep_log(self.process.stderr))

    async def _keep_log(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.log.append(line.decode(errors="replace"))

    async def stop(self) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._drain is not None:
            await asyncio.wait_for(self._drain, 5)
        return process.returncode


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


async def test_the_full_loop_in_the_agents_playground(
    tmp_path: Path, playground_installed: Path
) -> None:
    env = {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "playground",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
        "LOG_LEVEL": "INFO",
        "MICROSOFT_APP_ID": "",
        "PUBLIC_URL": "https://advocacy.example.com",
    }
    db = tmp_path / "advocacy.db"
    await cli(
        env,
        tmp_path,
        "content",
        "add",
        "https://example.com/halved",
        "--title",
        "How support halved first-reply time",
    )
    bot = Bot(env, tmp_path)
    playground: Playground | None = None
    try:
        async with asyncio.timeout(TEST_TIMEOUT):
            await bot.start()
            async with Playground(bot.endpoint, tmp_path / "playground") as playground:
                await run_the_loop(playground, bot, env, tmp_path, db)
    except BaseException:
        print("".join(bot.log))
        if playground is not None:
            print(playground.output())
        raise
    finally:
        await bot.stop()


async def run_the_loop(pg: Playground, bot: Bot, env: dict[str, str], cwd: Path, db: Path) -> None:
    me = pg.user
    tenant = pg.tenant_id
    who = ["teams", me["aadObjectId"], "--workspace", tenant]

    async def become(role: str) -> None:
        out = await cli(env, cwd, "roles", "grant", *who[:2], role, *who[2:])
        assert f"is now {role}" in out, out

    # The playground's person is a strategist in Support (the Teams adapter keys people by
    # aadObjectId within conversation.tenantId, which is what the playground sends).
    await cli(
        env,
        cwd,
        "members",
        "add",
        *who[:2],
        "--name",
        me["name"],
        "--team",
        "Support",
        "--role",
        "strategist",
        *who[2:],
    )

    # They say hello: the bot answers and stores the conversation reference. Then it restarts.
    await pg.say("hello")
    await pg.wait_for_bot_message("/help")
    assert await bot.stop() == 0
    await bot.start()

    # 1. As strategist: schedule a digest with the card form, then send it now.
    seen = len(pg.messages())
    await pg.say("digest add")
    form = await pg.wait_for_bot_message("Schedule a digest", after=seen)
    answer = await pg.execute(
        form,
        button(form.cards[0], "Schedule"),
        {
            "name": "Weekly picks",
            "kind": "content",
            "audience": "all",
            "channel": "",
            "days": "mon",
            "time": "09:00",
            "timezone": "UTC",
        },
    )
    assert answer == {"type": "application/vnd.microsoft.activity.message", "value": "Done."}
    await pg.wait_for_bot_message("Scheduled 'Weekly picks'", after=seen)
    assert query(db, "SELECT name, kind, audience, cron, timezone FROM digests") == [
        ("Weekly picks", "content", "all", "0 9 * * mon", "UTC")
    ]
    seen = len(pg.messages())
    await pg.say("digest run Weekly picks")
    await pg.wait_for_bot_message("is on its way to 1 recipient", after=seen)

    # 2. The digest arrives proactively, in the conversation stored before the restart.
    await become("employee")
    digest = await pg.wait_for_bot_message("How support halved first-reply time", after=seen)
    assert digest.action == "createMessage"
    assert digest.conversation_id == pg.conversation_id

    # 3. A reaction, delivered twice (the same activity): it counts once.
    reaction = await pg.template()
    reaction.update(
        type="messageReaction",
        replyToId=digest.message_id,
        reactionsAdded=[{"type": "like"}],
    )
    for _ in range(2):
        await pg.send_custom(reaction)
    await pg.wait_for(
        lambda: len(pg.answered(reaction["id"])) == 2, "the bot to answer both reactions"
    )
    assert query(db, "SELECT kind, detail FROM feedback") == [("reaction", "like")]

    # 4. An anonymous idea.
    seen = len(pg.messages())
    await pg.say("suggest --anonymous Publish the on-call rota")
    thanks = await pg.wait_for_bot_message("#1", after=seen)
    assert "anonymous" in json.dumps(thanks.cards).lower()
    [(anonymous, author)] = query(db, "SELECT anonymous, author_id FROM suggestions")
    assert (anonymous, author) == (1, None)

    # 5. As manager: the rollup, "Answer / set status", the answer form.
    await become("manager")
    seen = len(pg.messages())
    await pg.say("rollup")
    rollup = await pg.wait_for_bot_message("Answer / set status", after=seen)
    assert me["name"] not in json.dumps(rollup.cards)  # anonymous: the author is not named
    await pg.execute(rollup, button(rollup.cards[0], "Answer / set status"))
    form = await pg.wait_for_bot_message("Your answer", after=seen)
    seen = len(pg.messages())
    await pg.execute(
        form,
        button(form.cards[0], "Answer"),
        {"status": "planned", "text": "Agreed, from January."},
    )

    # 6. The author is told, proactively.
    notice = await pg.wait_for_bot_message("Agreed, from January", after=seen)
    assert notice.mentions("Your anonymous suggestion #1 is now planned"), notice.cards
    assert query(db, "SELECT status FROM suggestions") == [("planned",)]

    # Every Adaptive Card the bot sent (posted to the connector, or answered to an invoke) is
    # valid against the 1.5 schema; and so is every card the chat showed.
    sent = pg.cards_from_bot()
    shown = [(f"message {m.message_id}", c) for m in pg.bot_messages() for c in m.cards]
    assert len(sent) >= 10 and len(shown) >= 10, (len(sent), len(shown))
    errors = [
        f"{where}: {error}"
        for where, card in sent + shown
        if (error := adaptive_card_error(card)) is not None
    ]
    assert not errors, "\n".join(errors)
