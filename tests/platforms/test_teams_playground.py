"""The issue's loop against a REAL Teams client emulator, Microsoft 365 Agents Playground.

"Schedule, deliver after a restart, react once, suggest anonymously, a manager answers, the
author is told; every card valid against the 1.5 schema." The bot is the real ``advocacy
serve`` process (no MICROSOFT_APP_ID, so it accepts loopback requests only); the client is
``@microsoft/m365agentsplayground`` 0.2.28 (Node.js, self-contained, offline), installed by
tests/playground_client.py with ``npm ci`` from tests/playground/package-lock.json into
tests/playground/node_modules. The test is skipped only where node or npm is missing.

Who is who: the playground shows ONE person at the keyboard (``currentUser``, Alex Wilber); its
message API always sends as that person (see below), so the loop is run by that one person whose
role is switched with ``advocacy roles grant`` between steps: strategist (schedules the digest
with the card form, sends it from the chat), employee (gets the digests, reacts, presses Useful,
files the anonymous idea), manager (rollup, "Answer / set status", the answer form). The
author's notice comes back to the same personal chat. "Deliver after a restart": the person
says hello and schedules the digest, the bot restarts, and the digest is fired from the command
line (as the scheduler would on Monday at 09:00) before the person types anything again, so the
restarted bot can only reach them through the conversation reference it stored before the
restart (every message they type refreshes it).

What the playground 0.2.28 does, from its dist/index.js (one webpack bundle: express and ws) and
dist/client (the web page), and by trying it:

Starting
  ``node cli.js -e BOT_ENDPOINT -c msteams --disable-telemetry -p PORT --conversation-id ID``
  in an empty directory (a ``.m365agentsplayground.yml`` there would replace the built-in
  tenant, users, chats and team), with ``TEAMSAPPTESTER_BROWSER=none`` (else it tries to open a
  browser and exits) and ``APPLICATION_INSIGHTS_NO_STATSBEAT=true``. Its console goes to the file
  ``M365_AGENTS_PLAYGROUND_LOGFILE`` names; activities are logged there only while no websocket
  client listens. If PORT is taken it silently picks another: only "Listening on PORT" on
  stdout says which. The bot endpoint is fixed for the process's life, so the restarted bot
  comes back on the same port. ``GET /_debug/ping`` answers ``pong`` once it is up.
  ``GET /_internal/v1/config`` first waits (up to 15 s) for the bot endpoint to answer anything,
  then returns ``{"config": {"tenantId", "bot": {"id", "name"}, "currentUser": {"id":
  "user-id-0", "name", "aadObjectId", "userPrincipleName", ...}, "users": [5 others],
  "personalChat": {"id": ID}, "groupChats": [...], "teams": [{"id": "team-id", "channels",
  "members"}]}, "internalConfig": {...}}`` (``/_internal/v1/testConfig``: the same, no wait).
  The group chat's members are the 5 others (its messages are not on the conversation stream);
  the team's roster is all 6.

Acting (JSON bodies; errors are ``{"code": "BadArgument", "message"}`` with 400 or 404)
  * Type a message: ``POST /_conversation/v1/conversations/{conv}/messages`` with ``{"from":
    {"id"}, "text", "textFormat": "plain"|"markdown"|"xml"}``; ``textFormat`` is REQUIRED
    (without it: 400 "Invalid input"); optional ``mentions: [{"mentioned": {"id"}, "text"}]``.
    It answers ``{"messageId", "timestamp"}``, then posts the bot a ``message`` activity whose
    ``id`` is a fresh GUID (not that messageId). ``from.id`` is only checked to be in the chat:
    the activity is ALWAYS from currentUser. In a group chat or channel only messages that
    mention the bot reach it.
  * Press an Action.Execute button: ``POST /_conversation/v1/invoke`` with ``{"name":
    "adaptiveCard/action", "value": {"action": {"type": "Action.Execute", "title", "verb",
    "data"}}, "from": {"id"}, "conversation": {"id"}, "replyToId": MESSAGE_ID}`` (the body the
    web page sends, the card's inputs merged into ``data``; no ``trigger``). ``replyToId`` must
    be a message of that conversation; ``from.id`` is honoured (any member may press). The
    call waits for the bot and answers its invoke response reduced to ``{"type", "value"}``
    (an error status if the bot fails). The web page then replaces the card when ``type`` is
    the Adaptive Card type, or shows ``value`` under it for
    ``application/vnd.microsoft.activity.message``; but the server replaces the stored card by
    ``value`` whatever ``type`` says (after a text answer the message "holds" a string), and
    tells no websocket.
  * Press an Action.Submit button: ``POST /_conversation/v1/submit`` with ``{"conversation":
    {"id"}, "replyToId", "value": DATA, "from": {"id"}}``; 200 with an empty body, then the bot
    gets a ``message`` activity with ``value`` and ``replyToId`` (``from.id`` honoured).
  * Anything else: ``POST /_internal/v1/customActivities`` with a whole activity, posted to the
    bot as is after answering 200 (empty). ``GET /_internal/v1/customActivities/template?
    conversationId=C`` gives a base to fill in (fresh GUID ``id``, ``channelId``,
    ``serviceUrl``, ``from`` currentUser with ``aadObjectId``, ``recipient`` the bot,
    ``conversation`` with ``conversationType`` and ``tenantId``, ``type:
    "<custom-activity-type>"``); ``&type=install|uninstall|botAdded|userAdded|...`` gives a
    ready-made ``installationUpdate``/``conversationUpdate``. The web page has no reaction
    button: a ``messageReaction`` is sent this way, and re-sending the same activity (same
    ``id``) is what a redelivery looks like.

What the bot receives, Teams-shaped: ``channelId: "msteams"``, ``serviceUrl:
"http://localhost:PORT/_connector"``, ``from: {"id": "user-id-0", "name", "aadObjectId"}``,
``conversation: {"conversationType": "personal", "tenantId", "id"}``, ``channelData: {"tenant":
{"id"}}`` (invokes and submits add ``"source": {"name": "message"}``), ``recipient`` the bot,
an ``entities`` ``clientInfo``, ``locale``, ``localTimestamp``; the header
``x-ms-agents-playground: true`` and no Authorization header (no auth configured). The Teams
adapter keys the person by ``aadObjectId`` within ``conversation.tenantId``.

Its connector (``/_connector``) takes sends, replies and updates (PUT), roster reads and
createConversation: installing the app in its team (template ``type=install``,
``conversationId=team-id``) makes the bot read 6 members and open 1:1 chats with the 5 others.
It does not check Adaptive Cards (only that card attachments have an object ``content``): this
test validates them.

Watching (websockets; what is sent while nobody listens is buffered for the first client)
  * ``/_ws_conversation/v1/conversations/stream``: ``{"action": "createMessage" |
    "updateMessage" | "typing", "actionConversationId", "message": {"messageId", "timestamp",
    "from": {"id"}, "text", "textFormat", "attachments": [{"contentType", "content"}],
    "attachmentLayout", "mentions", ...}}`` for the bot's messages in chats currentUser is in,
    proactive ones included (the web page shows the user's own messages itself: they are not
    reported). A bot message's ``messageId`` is the id the connector
    answered the bot with: the ``replyToId`` for its buttons and reactions, and what the bot
    records as the delivery's reference. It can arrive before the bot has that answer.
  * ``/_ws/log/stream``: ``{"logAction": "appendLog", "log": {...}}``; for every activity in
    either direction (and roster reads) ``{"conversationId", "activityName", "messageId",
    "from": "Microsoft 365 Agents Playground" | "User Application", "to", "request": {"body":
    ACTIVITY}, "response": {"statusCode", "body"}}``, so the bot's invoke responses are there;
    other entries are ``{"type": "text", "displayText"}``. An entry may come after the
    conversation stream's message.
On failure the test prints the bot's log and the playground's output and activities; both
streams are saved as JSONL next to the test's database.
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
from tests.serve_process import run_cli
from tests.teams_fake import adaptive_card_error

MISSING = tools_missing()
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.skipif(
        MISSING is not None, reason=f"the Agents Playground needs Node.js and npm: no {MISSING}"
    ),
]
TEST_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def playground_installed() -> Path:
    """``npm ci`` the pinned playground into tests/playground/node_modules, once."""
    return install()


class Bot:
    """``advocacy serve`` as a subprocess, started as tests/platforms/test_teams_e2e.py does;
    its log is kept for failure reports."""

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
        "ADVOCACY_SECRET_KEY": "teams-playground-key-99a5b33bddf358c1d37da4b9",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
        "LOG_LEVEL": "INFO",
        "MICROSOFT_APP_ID": "",
        "PUBLIC_URL": "https://advocacy.example.com",
    }
    db = tmp_path / "advocacy.db"
    await run_cli(
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
            print(f"(both websocket streams are saved as JSONL in {playground.workdir})")
        raise
    finally:
        await bot.stop()


async def run_the_loop(pg: Playground, bot: Bot, env: dict[str, str], cwd: Path, db: Path) -> None:
    me = pg.user
    person = ("teams", me["aadObjectId"])
    tenant = ("--workspace", pg.tenant_id)

    async def become(role: str) -> None:
        out = await run_cli(env, cwd, "roles", "grant", *person, role, *tenant)
        assert f"is now {role}" in out, out

    # The playground's person is a strategist in Support (the Teams adapter keys people by
    # aadObjectId within conversation.tenantId, which is what the playground sends).
    await run_cli(
        env,
        cwd,
        "members",
        "add",
        *person,
        "--name",
        me["name"],
        "--team",
        "Support",
        "--role",
        "strategist",
        *tenant,
    )

    # They say hello: the bot answers and stores the conversation reference.
    await pg.say("hello")
    await pg.wait_for_bot_message("/help")

    # 1. As strategist: schedule a digest with the card form (Action.Execute: an invoke).
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
    # The form is answered with its confirmation, which replaces it (no second submit).
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Scheduled 'Weekly picks'" in json.dumps(answer["value"])
    assert adaptive_card_error(answer["value"]) is None
    assert query(db, "SELECT name, kind, audience, cron, timezone FROM digests") == [
        ("Weekly picks", "content", "all", "0 9 * * mon", "UTC")
    ]

    # 2. The bot restarts; the digest fires (from the command line, as the scheduler would on
    # Monday at 09:00) and the restarted bot delivers it proactively, through the reference
    # stored before the restart: the person has written nothing since (each message they
    # type refreshes it, which is why the chat's "digest run" comes after).
    assert await bot.stop() == 0
    await bot.start()
    posted = len(pg.exchanges())
    seen = len(pg.messages())
    await run_cli(env, cwd, "digest", "run", "Weekly picks", "--enqueue-only")
    digest = await pg.wait_for_bot_message("How support halved first-reply time", after=seen)
    assert digest.action == "createMessage"
    assert digest.conversation_id == pg.conversation_id
    assert not [e for e in pg.exchanges()[posted:] if e.get("to") == "User Application"]
    # The chat shows the message before the bot has the connector's answer, and the bot records
    # a batch's deliveries once the batch is sent; people react later than that.
    await pg.wait_for(
        lambda: query(
            db,
            "SELECT id FROM deliveries WHERE platform_ref = "
            f"'{pg.conversation_id}|{digest.message_id}'",
        ),
        "the digest's delivery to be recorded with the message id the playground gave it",
    )

    # The strategist sends it again now from the chat, once a new article is in the library.
    await run_cli(
        env, cwd, "content", "add", "https://example.com/rota", "--title", "Our on-call rota"
    )
    seen = len(pg.messages())
    await pg.say("digest run Weekly picks")
    await pg.wait_for_bot_message("is on its way to 1 recipient", after=seen)
    second = await pg.wait_for_bot_message("Our on-call rota", after=seen)
    assert not second.mentions("How support halved first-reply time")  # only what is new

    # 3. As employee: a reaction on the first digest, delivered twice (the same activity):
    # it counts once.
    await become("employee")
    reaction = await pg.template()
    reaction.update(
        type="messageReaction",
        replyToId=digest.message_id,
        reactionsAdded=[{"type": "like"}],
    )
    for _ in range(2):
        await pg.send_custom(reaction)
    answered = await pg.wait_for(
        lambda: len(pg.answered(reaction["id"])) == 2 and pg.answered(reaction["id"]),
        "the bot to answer both reactions",
    )
    assert [item["response"]["statusCode"] for item in answered] == [201, 201]
    # Acknowledged, then recorded by the inbox's worker: once.
    await pg.wait_for(
        lambda: (
            query(db, "SELECT kind, detail FROM feedback")
            and not query(
                Path(f"{db}-inbox"), "SELECT id FROM inbox_events WHERE status = 'pending'"
            )
        ),
        "the reaction to be recorded",
    )
    assert query(db, "SELECT kind, detail FROM feedback") == [("reaction", "+1")]

    # "Useful" on the second digest, pressed as Teams does (Action.Execute: the invoke answers
    # with the updated card), then again from a client without Universal Actions (Action.Submit:
    # the bot updates the message in place): it counts once.
    await pg.wait_for(
        lambda: query(
            db,
            "SELECT id FROM deliveries WHERE platform_ref = "
            f"'{pg.conversation_id}|{second.message_id}'",
        ),
        "the second digest's delivery to be recorded",
    )
    useful = button(second.cards[0], "Useful")
    answer = await pg.execute(second, useful)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    assert "✓ Useful" in json.dumps(answer["value"], ensure_ascii=False)
    await pg.submit(second, useful)
    updated = await pg.wait_for(
        lambda: [
            m
            for m in pg.bot_messages()
            if m.action == "updateMessage" and m.message_id == second.message_id
        ],
        "the digest to be updated in place after Action.Submit",
    )
    assert "✓ Useful" in json.dumps(updated[0].cards, ensure_ascii=False)
    assert sorted(query(db, "SELECT kind, detail FROM feedback")) == [
        ("reaction", "+1"),
        ("useful", ""),
    ]

    # 4. An anonymous idea.
    seen = len(pg.messages())
    await pg.say("suggest --anonymous Publish the on-call rota")
    thanks = await pg.wait_for_bot_message("suggestion #1", after=seen)
    assert thanks.mentions("anonymously"), thanks.cards
    [(anonymous, author)] = query(db, "SELECT anonymous, author_id FROM suggestions")
    assert (anonymous, author) == (1, None)

    # 5. As manager: the rollup, "Answer / set status", the answer form.
    await become("manager")
    seen = len(pg.messages())
    await pg.say("rollup")
    rollup = await pg.wait_for_bot_message("Answer / set status", after=seen)
    answer = await pg.execute(rollup, button(rollup.cards[0], "Answer / set status"))
    assert answer == {"type": "application/vnd.microsoft.activity.message", "value": "Done."}
    form = await pg.wait_for_bot_message("Your answer", after=seen)
    for card in (*rollup.cards, *form.cards):  # anonymous: the manager is not told who
        assert me["name"] not in json.dumps(card, ensure_ascii=False)
        assert me["aadObjectId"] not in json.dumps(card)
    seen = len(pg.messages())
    answer = await pg.execute(
        form,
        button(form.cards[0], "Answer"),
        {"status": "planned", "text": "Agreed, from January."},
    )
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Answer recorded: #1 is planned" in json.dumps(answer["value"])

    # 6. The author is told, proactively.
    notice = await pg.wait_for_bot_message("Agreed, from January", after=seen)
    assert notice.mentions("Your anonymous suggestion #1 is now planned"), notice.cards
    assert query(db, "SELECT status FROM suggestions") == [("planned",)]

    # Every Adaptive Card the bot sent (the activities it posted to the connector, and the
    # cards it answered invokes with, from the log stream) and every card the chat showed
    # (from the conversation stream) is valid against the 1.5 schema.
    await pg.wait_for(
        lambda: all(pg.logged(m.message_id) for m in pg.bot_messages()),
        "the log stream to report every message the bot sent",
    )
    shown = [(f"message {m.message_id}", c) for m in pg.bot_messages() for c in m.cards]
    assert all(len(m.cards) == 1 for m in pg.bot_messages())  # the bot only ever sends cards
    sent = pg.cards_from_bot()
    assert any(where.startswith("invoke response") for where, _ in sent)
    assert len(sent) > len(shown) >= 8, (len(sent), len(shown))
    errors = [
        f"{where}: {error}"
        for where, card in sent + shown
        if (error := adaptive_card_error(card)) is not None
    ]
    assert not errors, "\n".join(errors)


async def test_turn_into_suggestion_and_the_home_card_in_the_agents_playground(
    tmp_path: Path, playground_installed: Path
) -> None:
    """The playground (0.2.28) passes message extension invokes to the bot
    (``POST /_conversation/v1/invoke`` with ``composeExtension/fetchTask`` or ``submitAction``)
    and answers with the bot's ``task``; it has no message menu, so the message's payload is
    written here as Teams sends it. The home card's refresh is pressed as Teams would run it."""
    env = {
        **os.environ,
        "ADVOCACY_SECRET_KEY": "teams-playground-key-5be0c1d7a8e94f3a2b6c9d01",
        "DATABASE_URL": "",
        "ADVOCACY_DATA_DIR": "",
        "LOG_LEVEL": "INFO",
        "MICROSOFT_APP_ID": "",
        "PUBLIC_URL": "https://advocacy.example.com",
    }
    db = tmp_path / "advocacy.db"
    bot = Bot(env, tmp_path)
    playground: Playground | None = None
    try:
        async with asyncio.timeout(TEST_TIMEOUT):
            await bot.start()
            async with Playground(bot.endpoint, tmp_path / "playground") as playground:
                await suggest_from_a_message_and_open_the_home(playground, env, tmp_path, db)
    except BaseException:
        print("".join(bot.log))
        if playground is not None:
            print(playground.output())
        raise
    finally:
        await bot.stop()


async def suggest_from_a_message_and_open_the_home(
    pg: Playground, env: dict[str, str], cwd: Path, db: Path
) -> None:
    me = pg.user
    await run_cli(
        env,
        cwd,
        "members",
        "add",
        "teams",
        me["aadObjectId"],
        "--name",
        me["name"],
        "--team",
        "Support",
        "--role",
        "manager",
        "--workspace",
        pg.tenant_id,
    )
    await pg.say("hello")
    await pg.wait_for_bot_message("/help")
    link = "https://teams.microsoft.com/l/message/19:support@thread.tacv2/1700000000000"
    command = {
        "commandId": "turnIntoSuggestion",
        "commandContext": "message",
        "messagePayload": {
            "id": "1700000000000",
            "body": {"contentType": "html", "content": "<p>Publish the <b>on-call</b> rota</p>"},
            "linkToMessage": link,
        },
    }
    answer = await pg.message_action("composeExtension/fetchTask", command)
    assert answer["task"]["type"] == "continue"
    form = answer["task"]["value"]["card"]["content"]
    assert adaptive_card_error(form) is None
    [submit] = form["actions"]
    seen = len(pg.messages())
    closed = await pg.message_action(
        "composeExtension/submitAction",
        {
            **command,
            "data": {
                **submit["data"],
                "text": "Publish the on-call rota",
                "objective": "-",
                "anonymous": "false",
            },
        },
    )
    assert not closed.get("task")  # no response: the dialog closes
    await pg.wait_for_bot_message("#1", after=seen)  # the confirmation, in the personal chat
    assert query(db, "SELECT text, source_url FROM suggestions") == [
        ("Publish the on-call rota", link)
    ]

    seen = len(pg.messages())
    await pg.say("home")
    home = await pg.wait_for_bot_message("Publish the on-call rota", after=seen)
    [card] = home.cards
    assert adaptive_card_error(card) is None
    assert card["refresh"]["userIds"] == [me["id"]]
    fresh = await pg.execute(home, card["refresh"]["action"])
    assert fresh["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Answer / set status" in json.dumps(fresh["value"])
    assert adaptive_card_error(fresh["value"]) is None
