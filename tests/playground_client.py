"""Microsoft 365 Agents Playground, Microsoft's local Teams client emulator, driven from tests.

The npm package ``@microsoft/m365agentsplayground`` (pinned in tests/playground/package.json and
package-lock.json) is installed with ``npm ci`` into tests/playground/node_modules on first use.
``Playground`` starts it against a bot endpoint, talks to it over its HTTP API as the person at
the keyboard would through its web page, and records what its two websockets report. What the
API looks like, and what the playground sends the bot, is written down in
tests/platforms/test_teams_playground.py's docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

HERE = Path(__file__).parent / "playground"
PACKAGE = "@microsoft/m365agentsplayground"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_ACTION = "adaptiveCard/action"
START_TIMEOUT = 30.0
INSTALL_TIMEOUT = 300.0


class PlaygroundError(AssertionError):
    """Something the playground did or did not do in time, or refused."""


def tools_missing() -> str | None:
    """Which of node and npm (both needed) is not on PATH, or None."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return " and ".join(missing) if missing else None


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def install() -> Path:
    """The playground's ``cli.js``, installed with ``npm ci`` from the committed lock file.

    npm ci runs unless tests/playground/node_modules holds a whole install of exactly this
    lock file: a stamp written after a successful ``npm ci`` says so (files found there
    without it, left by an interrupted install or put there by hand, do not count)."""
    modules = HERE / "node_modules"
    package_dir = modules / Path(*PACKAGE.split("/"))
    cli = package_dir / "cli.js"
    stamp = modules / ".advocacy-npm-ci"
    wanted = _lock_digest()
    # Two test runs on one checkout (CI runs 3.11 and 3.13 side by side) must not run npm ci
    # into the same node_modules at once: the second waits, then finds the first's install.
    with (HERE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _installed(modules, package_dir, cli, stamp, wanted)


def _installed(modules: Path, package_dir: Path, cli: Path, stamp: Path, wanted: str) -> Path:
    """``npm ci`` unless the stamp says this very lock file is installed (under the lock)."""
    complete = cli.is_file() and (package_dir / "dist" / "index.js").is_file()
    if not (complete and stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted):
        npm = shutil.which("npm")
        assert npm is not None
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise PlaygroundError(
                f"npm ci in {HERE} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        if not (cli.is_file() and (package_dir / "dist" / "index.js").is_file()):
            raise PlaygroundError(f"npm ci in {HERE} did not install {PACKAGE}")
        stamp.write_text(wanted, encoding="utf-8")
    return cli


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cards_in(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """The Adaptive Cards an activity (or a websocket message) carries."""
    return [
        a["content"]
        for a in activity.get("attachments") or []
        if a.get("contentType") == ADAPTIVE_CARD and isinstance(a.get("content"), dict)
    ]


def actions_in(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "ActionSet":
                found.extend(node.get("actions") or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    for action in actions_in(card):
        if action.get("title") == title:
            return action
    titles = [a.get("title") for a in actions_in(card)]
    raise PlaygroundError(f"no button '{title}' on the card; it has {titles}")


@dataclass
class Message:
    """A message shown in the playground's chat (``createMessage``/``updateMessage``)."""

    action: str
    conversation_id: str
    message_id: str
    sender: str
    text: str | None
    cards: list[dict[str, Any]]
    raw: dict[str, Any]

    def mentions(self, needle: str) -> bool:
        return needle in (self.text or "") or needle in json.dumps(self.cards, ensure_ascii=False)


@dataclass
class Playground:
    """One playground process pointed at ``endpoint``; use ``async with``."""

    endpoint: str
    workdir: Path
    conversation_id: str = "advocacy-personal-chat"
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    session: aiohttp.ClientSession | None = None
    config: dict[str, Any] = field(default_factory=dict)
    # Everything the two websockets reported, in order.
    conversation_stream: list[dict[str, Any]] = field(default_factory=list)
    log_stream: list[dict[str, Any]] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)
    _console: Any = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logfile(self) -> Path:
        return self.workdir / "playground.log"

    @property
    def user(self) -> dict[str, Any]:
        """The person at the keyboard (``currentUser``)."""
        return dict(self.config["config"]["currentUser"])

    @property
    def tenant_id(self) -> str:
        return str(self.config["config"]["tenantId"])

    @property
    def bot(self) -> dict[str, Any]:
        return dict(self.config["config"]["bot"])

    # ----- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        cli = install()
        self.workdir.mkdir(parents=True, exist_ok=True)
        cwd = self.workdir / "cwd"  # an empty directory: no .m365agentsplayground.yml in it
        cwd.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "TEAMSAPPTESTER_BROWSER": "none",
            "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",
            "M365_AGENTS_PLAYGROUND_LOGFILE": str(self.logfile),
        }
        self._console = open(self.workdir / "playground.out", "wb")  # noqa: SIM115
        node = shutil.which("node")
        assert node is not None
        self.process = await asyncio.create_subprocess_exec(
            node,
            str(cli),
            "-e",
            self.endpoint,
            "-c",
            "msteams",
            "--disable-telemetry",
            "-p",
            str(self.port),
            "--conversation-id",
            self.conversation_id,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            await self._wait_until_up()
            self.config = await self._get("/_internal/v1/config")
            for path, sink in (
                ("/_ws_conversation/v1/conversations/stream", self.conversation_stream),
                ("/_ws/log/stream", self.log_stream),
            ):
                ws = await self.session.ws_connect(self.url + path, heartbeat=None)
                self._readers.append(asyncio.create_task(self._read(ws, sink)))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for reader in self._readers:
            reader.cancel()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if self.session is not None:
            await self.session.close()
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._console is not None:
            self._console.close()
        for name, stream in (
            ("conversation_stream", self.conversation_stream),
            ("log_stream", self.log_stream),
        ):
            with open(self.workdir / f"{name}.jsonl", "w", encoding="utf-8") as out:
                out.writelines(json.dumps(event, ensure_ascii=False) + "\n" for event in stream)

    async def _wait_until_up(self) -> None:
        """Wait for "Listening on PORT" (the playground takes a random port when the one asked
        for is taken, and says so only there), then for ``/_debug/ping`` to answer ``pong``."""
        assert self.session is not None and self.process is not None
        console = self.workdir / "playground.out"
        deadline = time.monotonic() + START_TIMEOUT
        listening = None
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise PlaygroundError(f"the playground exited ({self.process.returncode})")
            if listening is None:
                listening = re.search(r"Listening on (\d+)", console.read_text(errors="replace"))
                if listening is not None:
                    self.port = int(listening.group(1))
            if listening is not None:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with self.session.get(self.url + "/_debug/ping") as response:
                        if response.status == 200 and (await response.text()) == "pong":
                            return
            await asyncio.sleep(0.1)
        raise PlaygroundError(f"the playground did not answer /_debug/ping in {START_TIMEOUT} s")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, sink: list[dict[str, Any]]) -> None:
        async with ws:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    sink.append(json.loads(frame.data))
                    self._changed.set()

    def output(self) -> str:
        """What the playground printed (its log file and its console), for failure reports."""
        parts = []
        for path in (self.logfile, self.workdir / "playground.out"):
            if path.is_file():
                parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-20000:]}")
        parts.append("--- activities (log stream) ---")
        for item in self.exchanges():
            body = (item.get("request") or {}).get("body") or {}
            response = item.get("response") or {}
            parts.append(
                f"{item.get('from')} -> {item.get('to')}: {body.get('type')} "
                f"{item.get('messageId')} {(body.get('text') or body.get('summary') or '')[:80]!r}"
                f" -> {response.get('statusCode')} {json.dumps(response.get('body'))[:200]}"
            )
        return "\n".join(parts)

    # ----- HTTP ---------------------------------------------------------------------------

    async def _get(self, path: str) -> Any:
        assert self.session is not None
        async with self.session.get(self.url + path) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise PlaygroundError(f"GET {path} -> {response.status}: {body}")
            return body

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        assert self.session is not None
        async with self.session.post(self.url + path, json=body) as response:
            text = await response.text()
            if response.status != 200:
                raise PlaygroundError(f"POST {path} -> {response.status}: {text}\nsent {body}")
            return json.loads(text) if text else None

    async def say(self, text: str, conversation_id: str | None = None) -> dict[str, Any]:
        """Type a message. Returns ``{"messageId", "timestamp"}``; the playground sends the bot
        a ``message`` activity (with a different, GUID id) after answering."""
        conversation = conversation_id or self.conversation_id
        return await self._post(
            f"/_conversation/v1/conversations/{conversation}/messages",
            {"from": {"id": self.user["id"]}, "text": text, "textFormat": "plain"},
        )

    async def execute(
        self,
        message: Message,
        action: dict[str, Any],
        inputs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Press an ``Action.Execute`` button, with the card's ``inputs`` filled in, as the
        playground's web page does (the same request body): an ``adaptiveCard/action`` invoke.
        Returns the bot's invoke response as the playground reduces it: ``{"type", "value"}``."""
        return await self._post(
            "/_conversation/v1/invoke",
            {
                "name": CARD_ACTION,
                "value": {
                    "action": {
                        "type": "Action.Execute",
                        "title": action.get("title"),
                        "verb": action.get("verb"),
                        "data": {**(action.get("data") or {}), **(inputs or {})},
                    }
                },
                "from": {"id": self.user["id"]},
                "conversation": {"id": message.conversation_id},
                "replyToId": message.message_id,
            },
        )

    async def message_action(
        self, name: str, value: dict[str, Any], conversation_id: str | None = None
    ) -> dict[str, Any]:
        """A message extension's invoke (``composeExtension/fetchTask`` or ``submitAction``),
        sent through the playground's invoke API as its compose box does (``value`` as given:
        the playground has no message menu, so the message's payload is the caller's).
        Returns the bot's answer as the playground reduces it: ``{"task", "composeExtension"}``
        (both missing when the bot answered with no response)."""
        return await self._post(
            "/_conversation/v1/invoke",
            {
                "name": name,
                "value": value,
                "from": {"id": self.user["id"]},
                "conversation": {"id": conversation_id or self.conversation_id},
            },
        )

    async def submit(
        self,
        message: Message,
        action: dict[str, Any],
        inputs: dict[str, Any] | None = None,
    ) -> None:
        """Press an ``Action.Submit`` button (for an ``Action.Execute``, its fallback), as the web
        page does: the bot gets a ``message`` activity with ``value`` and ``replyToId``."""
        submit = action.get("fallback") if action.get("type") == "Action.Execute" else action
        await self._post(
            "/_conversation/v1/submit",
            {
                "from": {"id": self.user["id"]},
                "conversation": {"id": message.conversation_id},
                "replyToId": message.message_id,
                "value": {**((submit or {}).get("data") or {}), **(inputs or {})},
            },
        )

    async def template(self, conversation_id: str | None = None, kind: str | None = None) -> Any:
        """The playground's template for a custom activity in a conversation."""
        query = f"conversationId={conversation_id or self.conversation_id}"
        if kind:
            query += f"&type={kind}"
        return await self._get(f"/_internal/v1/customActivities/template?{query}")

    async def send_custom(self, activity: dict[str, Any]) -> None:
        """Send the bot any activity, as is (answered at once; posted to the bot afterwards)."""
        await self._post("/_internal/v1/customActivities", activity)

    # ----- what the websockets reported ---------------------------------------------------

    def messages(self, conversation_id: str | None = None) -> list[Message]:
        """Every message shown in the chat, in order (an update appears again)."""
        found = []
        for event in self.conversation_stream:
            message = event.get("message")
            if event.get("action") not in ("createMessage", "updateMessage") or not message:
                continue
            if conversation_id and event.get("actionConversationId") != conversation_id:
                continue
            found.append(
                Message(
                    action=event["action"],
                    conversation_id=event.get("actionConversationId", ""),
                    message_id=str(message.get("messageId")),
                    sender=(message.get("from") or {}).get("id", ""),
                    text=message.get("text"),
                    cards=cards_in(message),
                    raw=message,
                )
            )
        return found

    def bot_messages(self, conversation_id: str | None = None) -> list[Message]:
        return [m for m in self.messages(conversation_id) if m.sender == self.bot["id"]]

    def exchanges(self) -> list[dict[str, Any]]:
        """Every activity the log stream reported, in both directions: ``from``/``to`` are
        "Microsoft 365 Agents Playground" or "User Application", with request and response."""
        return [
            event["log"]
            for event in self.log_stream
            if event.get("logAction") == "appendLog" and "request" in (event.get("log") or {})
        ]

    def cards_from_bot(self) -> list[tuple[str, dict[str, Any]]]:
        """Every Adaptive Card the bot sent, with where: the activities it posted to the
        connector (sends, replies, updates) and the cards it answered invokes with."""
        found = []
        for item in self.exchanges():
            request = (item.get("request") or {}).get("body") or {}
            response = (item.get("response") or {}).get("body")
            if item.get("from") == "User Application":
                kind = request.get("type", "?")
                found += [(f"{kind} {item.get('messageId')}", c) for c in cards_in(request)]
            elif isinstance(response, dict) and response.get("type") == ADAPTIVE_CARD:
                found.append((f"invoke response {item.get('messageId')}", response.get("value")))
        return found

    async def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        """Wait until ``check()`` returns something truthy (re-checked whenever a websocket
        reports something, and every 0.2 s)."""
        deadline = time.monotonic() + timeout
        while True:
            if value := check():
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PlaygroundError(f"timed out after {timeout} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(0.2, remaining))

    async def wait_for_bot_message(
        self, needle: str, *, after: int = 0, timeout: float = 15.0
    ) -> Message:
        """The first message from the bot, among those after the ``after``-th, whose text or
        cards contain ``needle``."""

        def find() -> Message | None:
            for message in self.messages()[after:]:
                if message.sender == self.bot["id"] and message.mentions(needle):
                    return message
            return None

        try:
            return await self.wait_for(find, f"a message from the bot with '{needle}'", timeout)
        except PlaygroundError as error:
            shown = "\n".join(
                f"  {m.action} {m.message_id} from {m.sender}: "
                f"{m.text or json.dumps(m.cards, ensure_ascii=False)[:300]}"
                for m in self.messages()[after:]
            )
            raise PlaygroundError(
                f"{error}; the chat showed since:\n{shown or '  nothing'}"
            ) from None

    def logged(self, message_id: str) -> list[dict[str, Any]]:
        """The log entries of the activities the bot posted that became ``message_id``."""
        return [
            item
            for item in self.exchanges()
            if item.get("from") == "User Application" and item.get("messageId") == message_id
        ]

    def answered(self, activity_id: str) -> list[dict[str, Any]]:
        """The log entries of the activity ``activity_id`` posted to the bot (one per post),
        with the bot's response."""
        return [
            item
            for item in self.exchanges()
            if item.get("messageId") == activity_id
            and item.get("to") == "User Application"
            and "response" in item
        ]
