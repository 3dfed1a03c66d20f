"""Interaction ingest: signed Slack button clicks and Teams card invokes a second, and the time
to the ack, at 50 concurrent clients, end to end through `advocacy serve` with the database
write, against the same load on the framework's floor (a bare slack-bolt ``AsyncApp`` and a bare
botbuilder ``ActivityHandler`` that only acknowledge).

Every click is a distinct member voting for a distinct idea (the Vote button of the idea's card
as the bot posted it), so each should be recorded once; after each of our runs the votes in the
database are counted until the count stops growing and compared with the clicks acknowledged.

    python benchmarks/ingest.py                     # 3 x 20 s a side, 50 clients
    python benchmarks/ingest.py --quick --repeat 1  # 5 s a side
    python benchmarks/ingest.py --seconds 10 --clients 20

``measure(repeat, quick)`` returns the section for the benchmarks' entry point. Figures vary
with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import hmac
import itertools
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results import Comparison, Figure, Section, percentile  # noqa: E402

THIS = Path(__file__).resolve()
TEAM = "T0INGEST"
TENANT = "tenant-ingest"
APP_ID = "11111111-2222-3333-4444-555555555555"
BOT = {"id": f"28:{APP_ID}", "name": "Advocacy"}
SIGNING_SECRET = "ingest-signing-secret"
IDEAS_CHANNEL = "CIDEAS"
VOTE = "suggestion.vote"
CLIENTS = 50
PLATFORMS = ("slack", "teams")
SECONDS = {False: 20.0, True: 5.0}  # a side, by quick
WARMUP = {False: 2.0, True: 1.0}  # before each measured window, not counted in the latencies
# Members a platform: with IDEAS, 100,000 distinct Slack votes and 50,000 Teams ones, more than
# three rounds need; every member clicks once before the rounds (see measure_runs).
MEMBERS = {"slack": 2_000, "teams": 1_000}
IDEAS = 50
SLACK_LATE = 3.0  # Slack retries an interaction not acknowledged within 3 seconds
# What ours answers a Teams press it could neither write nor answer early within its budget.
WORKING_ON_IT = b"Working on it"
QUIET = 5.0  # seconds without a new vote (or fake call) before a run counts as settled
SETTLE_LIMIT = 900.0
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


# ----- who clicks what: shared by the parent and the load process ------------------------------


def slack_user(n: int) -> str:
    return f"UI{n:05d}"


def teams_aad(n: int) -> str:
    return f"aad-ingest-{n:05d}"


def pair(index: int, members: int, targets: int) -> tuple[int, int]:
    """Click number ``index``: which member, on which idea. Consecutive clicks come from
    different people; a person comes back only after every member has clicked once."""
    return index % members, (index // members) % targets


def slack_click(spec: dict[str, Any], index: int) -> tuple[bytes, dict[str, str]]:
    """A block_actions interaction as Slack sends it for a press of the Vote button on the
    idea's card in the ideas channel, signed with the v0 scheme."""
    member, target = pair(index, spec["members"], len(spec["targets"]))
    user = slack_user(member)
    card = spec["targets"][target]
    action = card["action"]
    now = time.time()
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0INGEST",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": card["ts"],
            "channel_id": IDEAS_CHANNEL,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(now)}.{index}.ingest",
        "team": {"id": TEAM, "domain": "ingest"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": IDEAS_CHANNEL, "name": "ideas"},
        "message": card["message"],
        "state": {"values": {}},
        "response_url": f"{spec['hooks']}click-{index}",
        "actions": [{**action, "action_ts": f"{now:.6f}"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(now))
    digest = hmac.new(
        spec["secret"].encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return body.encode(), headers


def teams_click(spec: dict[str, Any], index: int) -> tuple[bytes, dict[str, str]]:
    """An ``adaptiveCard/action`` invoke as Teams sends it for a press of the Vote button
    (Action.Execute) in a member's personal chat, with the channel's bearer token."""
    member, target = pair(index, spec["members"], len(spec["targets"]))
    aad = teams_aad(member)
    activity = {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "id": f"ingest-{index}",
        "timestamp": datetime.now(UTC).isoformat(),
        "localTimestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": spec["service_url"],
        "channelId": "msteams",
        "from": {"id": f"29:{aad}", "name": f"Teams employee {member}", "aadObjectId": aad},
        "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": f"a:{aad}"},
        "recipient": BOT,
        "channelData": {"tenant": {"id": TENANT}, "source": {"name": "message"}},
        "locale": "en-US",
        "replyToId": spec["reply_to"],
        "value": {"action": spec["targets"][target], "trigger": "manual"},
    }
    headers = {"Content-Type": "application/json"}
    if spec.get("authorization"):
        headers["Authorization"] = spec["authorization"]
    return json.dumps(activity).encode(), headers


# ----- the load: a process of its own, so it does not share a loop or a GIL with the fakes -----


async def _drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Closed loop: ``clients`` tasks, each sending its next click as soon as the last is
    answered, for ``warmup`` + ``seconds``; only clicks sent after the warm-up are timed."""
    import aiohttp

    build: Callable[[dict[str, Any], int], tuple[bytes, dict[str, str]]] = (
        slack_click if spec["platform"] == "slack" else teams_click
    )
    numbers = itertools.count(spec["start"])
    stop_at = spec["start"] + spec["limit"] if spec.get("limit") else None
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    sent = acked = late = undecided = 0
    connector = aiohttp.TCPConnector(limit=spec["clients"], force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        begin = time.perf_counter()
        timed_from = begin + spec["warmup"]
        end = timed_from + spec["seconds"]

        async def client() -> None:
            nonlocal sent, acked, late, undecided
            while (started := time.perf_counter()) < end:
                number = next(numbers)
                if stop_at is not None and number >= stop_at:
                    return
                body, headers = build(spec, number)
                said = b""
                try:
                    async with session.post(spec["url"], data=body, headers=headers) as answer:
                        said = await answer.read()
                        status = str(answer.status)
                except (aiohttp.ClientError, TimeoutError) as error:
                    status = type(error).__name__
                elapsed = time.perf_counter() - started
                sent += 1
                statuses[status] += 1
                if status.startswith("2"):
                    acked += 1
                    if started >= timed_from:
                        latencies.append(elapsed * 1000)
                        late += elapsed > SLACK_LATE
                        undecided += WORKING_ON_IT in said

        await asyncio.gather(*(client() for _ in range(spec["clients"])))
        # With a limit the run ends when the clicks run out, not when the time does.
        window = min(spec["seconds"], time.perf_counter() - timed_from)
    return {
        "sent": sent,
        "acked": acked,
        "statuses": dict(statuses),
        "latencies": latencies,
        "seconds": window if stop_at is not None else spec["seconds"],
        "late": late,
        "undecided": undecided,
    }


def worker() -> None:
    """``--worker``: the spec on stdin, the result as JSON on stdout."""
    spec = json.load(sys.stdin)
    json.dump(asyncio.run(_drive(spec)), sys.stdout)


# ----- the floors: what the frameworks cost when the bot does nothing -------------------------


def slack_floor_app() -> Any:
    """slack-bolt's ``AsyncApp`` as its documentation starts one: signature checked, every
    action acknowledged, nothing else."""
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    # Like ours, its token is checked once (auth.test, against the fake Web API), then cached.
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
    )
    bolt = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client)

    @bolt.action(re.compile(".*"))
    async def only_ack(ack: Any) -> None:
        await ack()

    return bolt.web_app(path="/slack/events")


def teams_floor_app() -> Any:
    """botbuilder's ``CloudAdapter`` with an ``ActivityHandler`` that answers invokes 200 and
    ignores messages, authenticated exactly as ours is (same app id, same identity server)."""
    from aiohttp import web
    from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
    from botbuilder.integration.aiohttp import (
        CloudAdapter,
        ConfigurationBotFrameworkAuthentication,
    )

    class Configuration:
        APP_ID = os.environ.get("MICROSOFT_APP_ID", "")
        APP_PASSWORD = os.environ.get("MICROSOFT_APP_PASSWORD", "")
        APP_TYPE = os.environ.get("MICROSOFT_APP_TYPE") or "SingleTenant"  # ours by default
        APP_TENANTID = os.environ.get("MICROSOFT_APP_TENANT_ID", "")

    settings = Configuration()
    if metadata := os.environ.get("BOT_OPENID_METADATA_URL"):
        settings.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = metadata  # type: ignore[attr-defined]
        settings.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = "https://api.botframework.com"  # type: ignore[attr-defined]
    if login := os.environ.get("BOT_LOGIN_URL"):
        settings.TO_CHANNEL_FROM_BOT_LOGIN_URL = login  # type: ignore[attr-defined]
        settings.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = "https://api.botframework.com"  # type: ignore[attr-defined]

    class Floor(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            return None

        async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
            return InvokeResponse(status=200)

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(settings))
    bot = Floor()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def floor(kind: str) -> None:
    """``--floor slack|teams``: serve the bare app on a free loopback port until SIGTERM,
    announcing the port the way `advocacy serve` does."""
    from aiohttp import web

    app = slack_floor_app() if kind == "slack" else teams_floor_app()

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        print(f"listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# ----- the parent: fakes, servers, seeding, runs ----------------------------------------------


class Child:
    """A server in a child process that says "listening on http://127.0.0.1:PORT" on stderr.
    Its stderr is read on a thread (a full pipe would stall it); warnings are counted."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.lines: deque[str] = deque(maxlen=200)
        self.warnings: Counter[str] = Counter()
        self._port: queue.Queue[int | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"{name}-stderr", daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if match := LISTENING.search(line):
                self._port.put(int(match.group(1)))
            elif " WARNING " in line or " ERROR " in line or "Traceback" in line:
                # The message without the timestamp, numbers folded, as the key.
                text = line.split(" ", 2)[-1]
                self.warnings[re.sub(r"\d+", "N", text)[:160]] += 1
        self._port.put(None)

    def wait_listening(self, timeout: float = 90) -> str:
        try:
            port = self._port.get(timeout=timeout)
        except queue.Empty:
            port = None
        if port is None:
            self.stop()
            raise RuntimeError(f"{self.name} did not start:\n" + "\n".join(self.lines))
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def take_warnings(self) -> Counter[str]:
        found, self.warnings = self.warnings, Counter()
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)


class IssuedTokens:
    """The fake Connector's token check: only tokens the identity server issued. A set, kept
    up to date from the server's list, so a check stays cheap as thousands are issued."""

    def __init__(self, issued: list[str]) -> None:
        self.issued = issued
        self.known: set[str] = set()
        self.seen = 0

    def __call__(self, token: str) -> bool:
        if token not in self.known and len(self.issued) > self.seen:
            fresh = self.issued[self.seen :]
            self.seen += len(fresh)
            self.known.update(fresh)
        return token in self.known


@dataclass
class Run:
    """One run of the load against one server."""

    sent: int
    acked: int
    statuses: dict[str, int]
    latencies: list[float]
    seconds: float
    late: int
    recorded: int | None = None  # votes written (ours only)
    drain: float | None = None  # seconds from the end of the load until the last vote
    token_requests: int | None = None  # Teams: tokens the bot asked the identity provider for
    undecided: int = 0  # Teams: timed answers that did not say how the press came out
    warnings: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    @property
    def recorded_per_second(self) -> float:
        """Votes written a second over the whole run, the time to write the backlog included."""
        assert self.recorded is not None and self.drain is not None
        return self.recorded / (self.seconds + self.drain)


def drive(spec: dict[str, Any]) -> Run:
    """Run the load process with ``spec``; its answer as a Run."""
    answer = subprocess.run(
        [sys.executable, str(THIS), "--worker"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        check=False,
        timeout=spec["warmup"] + spec["seconds"] + 300,
    )
    if answer.returncode != 0:
        raise RuntimeError("the load process failed:\n" + answer.stderr.decode()[-3000:])
    result = json.loads(answer.stdout)
    return Run(
        sent=result["sent"],
        acked=result["acked"],
        statuses=result["statuses"],
        latencies=result["latencies"],
        seconds=result["seconds"],
        late=result["late"],
        undecided=result["undecided"],
    )


def votes(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM suggestion_votes").fetchone()[0])


def settle(db: Path, activity: Callable[[], int]) -> tuple[int, float]:
    """Wait until the vote count and ``activity`` (calls the fakes received) stop growing;
    returns the vote count and the seconds from now until the last new vote."""
    started = time.monotonic()
    last = (votes(db), activity())
    last_vote = last_change = started
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        current = (votes(db), activity())
        if current[0] != last[0]:
            last_vote = now
        if current != last:
            last, last_change = current, now
        elif now - last_change >= QUIET or now - started > SETTLE_LIMIT:
            return last[0], last_vote - started


def cli(env: dict[str, str], cwd: Path, *args: str, stdin: str | None = None) -> str:
    """The real `advocacy` command, to completion."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        input=stdin.encode() if stdin is not None else None,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"advocacy {' '.join(args)} failed:\n{done.stderr.decode()}")
    return done.stdout.decode()


IDEA_WORDS = [
    "rota",
    "canteen",
    "parking",
    "badge",
    "laptop",
    "onboarding",
    "invoice",
    "refund",
    "chat",
    "hotline",
    "survey",
    "kiosk",
    "newsletter",
    "mentor",
    "shuttle",
    "locker",
    "wiki",
    "glossary",
    "dashboard",
    "escalation",
    "checklist",
    "template",
    "webinar",
    "roadmap",
    "changelog",
    "backlog",
    "triage",
    "macro",
    "playbook",
    "handover",
]


def seed(work: Path, env: dict[str, str], ideas: int) -> None:
    """MEMBERS Slack and Teams employees, and ``ideas`` ideas filed in the shell (each posted to
    the ideas channel by the outbox, where colleagues vote on it)."""
    people = work / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["platform", "user_id", "name", "workspace", "team"])
        for n in range(MEMBERS["slack"]):
            writer.writerow(["slack", slack_user(n), f"Slack employee {n}", "", f"Team {n % 20}"])
        for n in range(MEMBERS["teams"]):
            writer.writerow(
                ["teams", teams_aad(n), f"Teams employee {n}", TENANT, f"Team {n % 20}"]
            )
    cli(env, work, "members", "import", str(people))
    lines = []
    for n in range(ideas):
        a, b = IDEA_WORDS[n % len(IDEA_WORDS)], IDEA_WORDS[(n * 7 + 3) % len(IDEA_WORDS)]
        lines.append(f"/suggest Idea {n}: a shared {a} for every {b} request, number {n}")
    cli(env, work, "shell", "--user", "author", "--new", stdin="\n".join(lines) + "\n")


UNSENT = "SELECT count(*) FROM deliveries WHERE status != 'sent' OR platform_ref IS NULL"


def unsent_in(db: Path) -> Callable[[], int]:
    """Deliveries of a SQLite file not yet sent with their reference kept."""

    def count() -> int:
        with sqlite3.connect(db, timeout=30) as connection:
            return int(connection.execute(UNSENT).fetchone()[0])

    return count


def slack_targets(
    slack: Any, unsent: Callable[[], int], ideas: int, timeout: float = 120
) -> list[dict[str, Any]]:
    """The ideas' cards as the bot posted them in the ideas channel (once the outbox has sent
    them all and kept their references, ``unsent`` counting what is left): each card's message
    and its Vote button."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = unsent()
        posted = slack.call(lambda: list(slack.fake.messages.get(IDEAS_CHANNEL, [])))
        if not waiting and len(posted) >= ideas:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(posted)} of {ideas} ideas reached the ideas channel")
        time.sleep(0.2)
    targets = []
    for stored in posted:
        buttons = [
            {**element, "block_id": block.get("block_id", "")}
            for block in stored["blocks"]
            if block.get("type") == "actions"
            for element in block.get("elements", [])
            if str(element.get("action_id", "")).startswith(VOTE)
        ]
        message = {
            "type": "message",
            "subtype": "bot_message",
            "text": stored["text"],
            "ts": stored["ts"],
            "bot_id": slack.fake.bot_id,
            "blocks": stored["blocks"],
        }
        targets.append({"ts": stored["ts"], "message": message, "action": buttons[0]})
    return targets


def teams_targets(
    url: str, connector: Any, authorization: str, ideas: list[int]
) -> tuple[list[dict[str, Any]], str]:
    """Vote buttons as the bot renders them for Teams: a member types "suggestions" and the
    Action.Execute of the list card's first Vote button is the template for every idea."""
    from tests.teams_support import actions_in, cards_in

    aad = teams_aad(0)
    activity = {
        "type": "message",
        "id": "ingest-list",
        "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": connector.fake.service_url,
        "channelId": "msteams",
        "from": {"id": f"29:{aad}", "name": "Teams employee 0", "aadObjectId": aad},
        "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": f"a:{aad}"},
        "recipient": BOT,
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-US",
        "text": "suggestions",
    }
    request = urllib.request.Request(
        f"{url}/api/messages",
        data=json.dumps(activity).encode(),
        headers={"Content-Type": "application/json", "Authorization": authorization},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status in (200, 201), answer.status
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for sent in connector.call(lambda: list(connector.fake.activities.get(f"a:{aad}", []))):
            for card in cards_in(sent):
                for action in actions_in(card):
                    if action.get("verb") == VOTE:
                        template = {k: v for k, v in action.items() if k != "fallback"}
                        return [
                            {**template, "data": {**template["data"], "suggestion": idea}}
                            for idea in ideas
                        ], str(sent["id"])
        time.sleep(0.1)
    raise RuntimeError("the bot did not answer 'suggestions' with a Vote button in Teams")


def idea_ids(db: Path) -> list[int]:
    with sqlite3.connect(db, timeout=30) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM suggestions ORDER BY id")]


@dataclass
class Outcome:
    """Every run of one platform: ours and the floor, in repeat order."""

    ours: list[Run] = field(default_factory=list)
    floor: list[Run] = field(default_factory=list)
    first: Run | None = None  # every member's first click (ours)
    clicks: int = 0  # distinct (member, idea) clicks the pool holds


@contextmanager
def environment(console: Any, ideas: int) -> Iterator[tuple[dict[str, Any], Callable[[], None]]]:
    """Fakes, a seeded scratch database, our server and the two floors, all running."""
    from tests.botframework_identity import FakeBotFrameworkIdentity
    from tests.fake_thread import FakeThread
    from tests.slack_fake import FakeSlack
    from tests.teams_fake import FakeConnector

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        slack = stack.enter_context(FakeThread(FakeSlack(team_id=TEAM)))
        identity = stack.enter_context(FakeThread(FakeBotFrameworkIdentity()))
        connector_fake = FakeConnector(require_token=IssuedTokens(identity.fake.issued_tokens))
        # Its Adaptive Card schema check costs ~40 ms a card, on the benchmark's own process.
        connector_fake.validate_cards = False
        connector = stack.enter_context(FakeThread(connector_fake))
        db = work / "advocacy.db"
        auth = {
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_PASSWORD": "ingest-password",
            # A single-tenant registration, as Azure creates them now (the default type).
            "MICROSOFT_APP_TENANT_ID": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
            "BOT_OPENID_METADATA_URL": identity.fake.openid_metadata_url,
            "BOT_LOGIN_URL": identity.fake.login_url,
            "REQUESTS_CA_BUNDLE": identity.fake.ca_bundle,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": slack.fake.bot_token,
            "SLACK_API_URL": slack.fake.api_url,
        }
        env = {
            **os.environ,
            **auth,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "ADVOCACY_DATA_DIR": str(work / "data"),
            "ADVOCACY_SECRET_KEY": "ingest-key-38e5742387408a2f12abfc15",
            "LOG_LEVEL": "INFO",
            "PUBLIC_URL": "https://advocacy.example.com",
            "SUGGESTIONS_CHANNELS": f"slack:{IDEAS_CHANNEL}",
        }
        env.pop("DATABASE_SCHEMA", None)
        console.print(
            f"[dim]ingest: seeding {MEMBERS['slack']:,} Slack and {MEMBERS['teams']:,} Teams "
            f"members, {ideas} ideas[/]"
        )
        for n in range(MEMBERS["slack"]):
            slack.call(slack.fake.add_user, slack_user(n), real_name=f"Slack employee {n}")
        seed(work, env, ideas)
        ours = Child(
            "advocacy serve", [sys.executable, "-m", "bot", "serve", "--port", "0"], env, work
        )
        stack.callback(ours.stop)
        ours.wait_listening()
        floor_env = {**os.environ, **auth}
        floors = {}
        for kind in ("slack", "teams"):
            child = Child(
                f"{kind} floor", [sys.executable, str(THIS), "--floor", kind], floor_env, work
            )
            stack.callback(child.stop)
            child.wait_listening()
            floors[kind] = child
        authorization = "Bearer " + identity.fake.issue_channel_token(
            APP_ID, connector.fake.service_url, expires_in=6 * 3600
        )
        targets, reply_to = teams_targets(ours.url, connector, authorization, idea_ids(db))

        def forget() -> None:
            """The fakes keep every call; drop them between runs so memory stays flat."""

            def slack_forget() -> None:
                slack.fake.calls.clear()
                slack.fake.answered.clear()
                slack.fake.ephemeral.clear()

            slack.call(slack_forget)
            with connector.fake._lock:
                connector.fake.calls.clear()
                connector.fake.activities.clear()
                connector.fake._posted.clear()

        context = {
            "db": db,
            "ours": ours,
            "floors": floors,
            "slack": slack,
            "connector": connector,
            "identity": identity,
            "slack_spec": {
                "platform": "slack",
                "members": MEMBERS["slack"],
                "targets": slack_targets(slack, unsent_in(db), ideas),
                "hooks": slack.fake.response_url(""),
                "secret": SIGNING_SECRET,
            },
            "teams_spec": {
                "platform": "teams",
                "members": MEMBERS["teams"],
                "targets": targets,
                "reply_to": reply_to,
                "service_url": connector.fake.service_url,
                "authorization": authorization,
            },
        }
        forget()
        # What the servers logged while starting and being seeded, apart from the runs.
        context["startup"] = ours.take_warnings()
        for child in floors.values():
            child.take_warnings()
        yield context, forget


PATHS = {"slack": "/slack/events", "teams": "/api/messages"}


def one_run(
    context: dict[str, Any],
    forget: Callable[[], None],
    platform: str,
    side: str,
    load: dict[str, Any],
) -> Run:
    """One load run against ours or the floor; for ours, wait until its work is done and
    count the votes it wrote."""
    db: Path = context["db"]
    identity, slack, connector = context["identity"], context["slack"], context["connector"]
    server = context["ours"] if side == "ours" else context["floors"][platform]
    before = votes(db)
    tokens = len(identity.fake.token_requests)
    run = drive({**context[f"{platform}_spec"], "url": server.url + PATHS[platform], **load})
    if side == "ours":
        if platform == "slack":
            total, run.drain = settle(db, lambda: slack.call(lambda: len(slack.fake.calls)))
        else:
            total, run.drain = settle(db, lambda: len(connector.fake.calls))
            run.token_requests = len(identity.fake.token_requests) - tokens
        run.recorded = total - before
    run.warnings = server.take_warnings()
    forget()
    return run


def measure_runs(
    repeat: int,
    seconds: float,
    warmup: float,
    clients: int,
    console: Any,
    platforms: tuple[str, ...] = PLATFORMS,
) -> tuple[dict[str, Outcome], Counter[str]]:
    """First every member clicks once (their first contact with this server: Slack's users.info,
    Teams' conversation reference), so that the rounds measure a server that knows its people,
    as a long-running one does. Then ``repeat`` rounds; in each, for Slack then Teams, ours and
    the floor one after the other (which goes first alternates between rounds, so that drift on
    the machine evens out)."""
    outcomes = {platform: Outcome() for platform in platforms}
    with environment(console, IDEAS) as (context, forget):
        startup: Counter[str] = context["startup"]
        for platform in platforms:
            members = MEMBERS[platform]
            outcome = outcomes[platform]
            outcome.clicks = members * len(context[f"{platform}_spec"]["targets"])
            console.print(f"[dim]ingest: {platform} ours, first contact: {members:,} clicks[/]")
            load = {"seconds": 3600.0, "warmup": 0.0, "clients": clients, "start": 0}
            outcome.first = one_run(context, forget, platform, "ours", {**load, "limit": members})
            console.print(
                f"[dim]ingest: {platform} ours, first contact: {summary(outcome.first)}[/]"
            )
        offsets = dict(MEMBERS)  # clicks 0..members-1 were the first contacts
        for round_number in range(repeat):
            for platform in platforms:
                sides = ("ours", "floor") if round_number % 2 == 0 else ("floor", "ours")
                for side in sides:
                    label = f"{platform} {side} {round_number + 1}/{repeat}"
                    console.print(f"[dim]ingest: {label}: {clients} clients, {seconds:g} s[/]")
                    load = {
                        "seconds": seconds,
                        "warmup": warmup,
                        "clients": clients,
                        "start": offsets[platform],
                    }
                    run = one_run(context, forget, platform, side, load)
                    if side == "ours":
                        offsets[platform] += run.sent
                    getattr(outcomes[platform], side).append(run)
                    console.print(f"[dim]ingest: {label}: {summary(run)}[/]")
    return outcomes, startup


def summary(run: Run) -> str:
    text = f"{run.per_second:,.0f}/s, p50 {run.p50:.1f} ms, p99 {run.p99:.1f} ms"
    if run.recorded is not None:
        text += f", {run.recorded:,} of {run.sent:,} recorded, last {run.drain:.1f} s after"
    return text


NAMES = {"slack": ("Slack", "bare Bolt AsyncApp"), "teams": ("Teams", "bare ActivityHandler")}


def section(
    outcomes: dict[str, Outcome],
    startup: Counter[str],
    seconds: float,
    warmup: float,
    clients: int,
) -> Section:
    figures: list[Figure] = []
    comparisons: list[Comparison] = []
    notes = [f"`advocacy serve` logged at start-up: {w}" for w in startup]
    for platform, outcome in outcomes.items():
        name, bare = NAMES[platform]
        unit = "clicks/s" if platform == "slack" else "invokes/s"
        ours, floor_runs = outcome.ours, outcome.floor
        figures += [
            Figure(f"{name}: acked a second (ours)", unit, [r.per_second for r in ours]),
            Figure(f"{name}: p50 ack (ours)", "ms", [r.p50 for r in ours]),
            Figure(f"{name}: p99 ack (ours)", "ms", [r.p99 for r in ours]),
            Figure(f"{name}: acked a second ({bare})", unit, [r.per_second for r in floor_runs]),
            Figure(f"{name}: p50 ack ({bare})", "ms", [r.p50 for r in floor_runs]),
            Figure(f"{name}: p99 ack ({bare})", "ms", [r.p99 for r in floor_runs]),
            Figure(
                f"{name}: votes recorded / clicks sent (ours)",
                "%",
                [100 * (r.recorded or 0) / r.sent for r in ours],
                note="each click a distinct vote: 100 = none lost, none doubled",
            ),
            Figure(
                f"{name}: votes written a second (ours)",
                "votes/s",
                [r.recorded_per_second for r in ours],
                note="recorded / (timed load + time until the last vote)",
            ),
            Figure(
                f"{name}: last vote written after the load ended (ours)",
                "s",
                [r.drain or 0.0 for r in ours],
                note="work acknowledged and waiting in the durable inbox",
            ),
        ]
        if outcome.first is not None:
            first = outcome.first
            figures += [
                Figure(
                    f"{name}: acked a second, each member's first click (ours)",
                    unit,
                    [first.per_second],
                    note=f"{first.sent:,} clicks, once, before the rounds",
                ),
                Figure(f"{name}: p50 ack, first click (ours)", "ms", [first.p50]),
                Figure(
                    f"{name}: votes written a second, first click (ours)",
                    "votes/s",
                    [first.recorded_per_second],
                ),
            ]
        if platform == "teams":
            figures += [
                Figure(
                    "Teams: Azure AD token requests a reply (ours)",
                    "requests",
                    [(r.token_requests or 0) / max(1, r.acked) for r in ours],
                    note="to the identity provider, synchronous, in the event loop",
                ),
                Figure(
                    "Teams: answers that did not say how the press came out (ours)",
                    "%",
                    [100 * r.undecided / max(1, len(r.latencies)) for r in ours],
                    note="'Working on it: the card will update.', given after 10 s without a "
                    "write or an early answer; 0 = every answer said 'Done.' or showed the card",
                ),
            ]
        pairs = list(zip(ours, floor_runs, strict=True))
        comparisons += [
            Comparison(
                f"{name}: ours / {bare} (acked a second)",
                [o.per_second / f.per_second for o, f in pairs],
                f"1.00 = as many acks a second as {bare}; 0.50 = half as many",
            ),
            Comparison(
                f"{name}: {bare} / ours (p50 ack)",
                [f.p50 / o.p50 for o, f in pairs],
                f"1.00 = acks as fast as {bare}; 0.50 = takes twice as long",
            ),
            Comparison(
                f"{name}: {bare} / ours (p99 ack)",
                [f.p99 / o.p99 for o, f in pairs],
                f"1.00 = a tail as short as {bare}'s; 0.50 = twice as long",
            ),
        ]
        labelled = [("ours, first click", outcome.first)] if outcome.first else []
        labelled += [(f"ours, round {n}", r) for n, r in enumerate(ours, 1)]
        labelled += [(f"{bare}, round {n}", r) for n, r in enumerate(floor_runs, 1)]
        for label, run in labelled:
            failed = {s: c for s, c in run.statuses.items() if not s.startswith("2")}
            if failed:
                notes.append(f"{name}, {label}: not acknowledged: {failed}.")
            if platform == "slack" and run.late:
                notes.append(
                    f"{name}, {label}: {run.late:,} acks took over {SLACK_LATE:g} s "
                    "(Slack would have retried them)."
                )
            if run.recorded is not None and run.recorded != run.acked:
                notes.append(
                    f"{name}, {label}: {run.acked:,} clicks acknowledged but {run.recorded:,} "
                    f"votes recorded (sent {run.sent:,}): a loss to investigate."
                )
            for warning, count in run.warnings.most_common(3):
                notes.append(f"{name}, {label}: the server logged {count:,}x: {warning}")
        used = MEMBERS[platform] + sum(r.sent for r in ours)
        if used > outcome.clicks:
            notes.append(
                f"{name}: ours was sent {used:,} clicks but the pool holds {outcome.clicks:,} "
                "distinct ones; the rest repeated earlier votes (counted once by design)."
            )
    notes[:0] = method_notes(seconds, warmup, clients) + FINDINGS
    return Section(
        title="Interaction ingest: Slack clicks and Teams invokes against the framework floor",
        figures=figures,
        comparisons=comparisons,
        notes=notes,
    )


def method_notes(seconds: float, warmup: float, clients: int) -> list[str]:
    return [
        f"Each run: {clients} clients in a closed loop (each sends its next request as soon as "
        f"its last is answered) over keep-alive HTTP/1.1 on loopback, from a process of their "
        f"own, for {warmup:g} s of warm-up and then {seconds:g} s that are timed. Acked a "
        f"second = 2xx answers to requests sent in the timed window / its length; ack time = "
        f"send to the end of the answer's body. Ours is the real `advocacy serve` (Slack and "
        f"Teams both enabled, LOG_LEVEL=INFO, a scratch SQLite file, {MEMBERS['slack']:,} Slack "
        f"and {MEMBERS['teams']:,} Teams members, {IDEAS} ideas); each member clicks once "
        f"before the rounds (reported as 'first click'), so the rounds see a server that knows "
        f"its people. The floors are child processes running only the framework. Ours and the "
        f"floor alternate within each round (which goes first alternates), so each ratio "
        f"compares the same moment of a shared machine ({os.cpu_count()} CPUs, shared by the "
        f"server, the load process and the fakes, and by whatever else runs there).",
        "Slack: each click is a block_actions interaction, v0-signed as Slack signs, pressing "
        "the Vote button of one of the ideas' cards the bot itself posted in the ideas channel "
        "(message, blocks, action_id, block_id and value as posted), by a distinct (member, "
        "idea) pair. Bolt checks the signature; ours writes the click to the durable inbox (many "
        "clicks share one commit) and then acknowledges it (Slack's 3-second rule); the inbox's "
        "worker then writes the vote and updates the card (chat.update, and an ephemeral reply "
        "through response_url) against the fake Slack Web API "
        "(tests/slack_fake.py). The floor is slack-bolt's AsyncApp.web_app() with one "
        "@app.action(re.compile('.*')) listener that only awaits ack().",
        "Teams: each click is an adaptiveCard/action invoke (Action.Execute, verb and data as "
        "the bot renders its Vote button) from a member's personal chat, with a Bot Framework "
        "JWT that botbuilder verifies for real against a loopback identity provider "
        "(tests/botframework_identity.py), in ours and in the floor. Teams waits for an "
        "invoke's answer (it carries the updated card, or a short text): ours writes the press "
        "to the durable inbox, reads what the vote will show (EventRouter.preview_vote: the "
        "member, the idea, whether their vote is there; here 'Done.', as the pressed board is "
        "not one of the bot's deliveries) and answers; the inbox's worker then writes the vote "
        "and sends its reply through the fake Connector (tests/teams_fake.py, Adaptive Card "
        "schema check off: it costs ~40 ms a card in the benchmark's own process). A press "
        "whose outcome needs the write (a first contact, a closed idea, a form) still waits "
        "for it. The floor is botbuilder's CloudAdapter with an ActivityHandler whose "
        "on_invoke_activity returns InvokeResponse(200).",
    ]


FINDINGS = [
    "Since issue 13, a click is acknowledged only once it is written to the durable inbox "
    "(bot/inbox/): Bolt runs the listener before it answers (process_before_response), the "
    "listener writes the click, and acknowledgements that arrive together share one commit. On "
    "SQLite the inbox is a file of its own (advocacy.db-inbox, bot/inbox/store.py) written "
    "right on the event loop: a first version kept it in the main file, where each inbox batch "
    "waited for the handler transaction holding SQLite's one write lock (tens of ms on a busy "
    "loop), and acknowledged at 0.22-0.27 of bare Bolt. Profiled after the split (py-spy), the "
    "ack path is mostly Bolt's own (parsing the form body, urllib's unquote; building the "
    "listener's arguments); ours adds sealing the click (AES-GCM; the clicked card's blocks, "
    "which Slack sends with every click, are left out) and its share of the batch's INSERT. "
    "The work (the vote's transaction, users.info on a first contact, chat.update and the "
    "ephemeral reply) is done by the inbox's worker on the same event loop, so it still slows "
    "the acks down; 'last vote written after the load' is now work waiting in the inbox, which "
    "a kill -9 or a deploy no longer loses (benchmarks/durability.py).",
    "slack_sdk's AsyncWebClient and Bolt's respond() opened a new HTTP connection for every "
    "Web API call, ~15-20 % of the loop's time under load (and a TLS handshake each against "
    "slack.com). Since issue 18 the adapter passes one aiohttp.ClientSession, opened at start, "
    "to every AsyncWebClient and to the response_url posts.",
    "Why votes are written slower than they are acknowledged: with SQLite every transaction "
    "in the process waits its turn on one writer queue (bot/storage/database.py), and a vote "
    "was about ten statements, each a round trip from the event loop to aiosqlite's thread. "
    "Since issue 18 Vote clicks are written up to 200 to a transaction in one trip "
    "(bot/chat/vote_batch.py: one statement for the batch's markers, one for its votes, one "
    "an idea for its count), and while clicks arrive the inbox keeps up to 8 events of a kind "
    "in hand. What is left per click runs on the same loop as the acks: resolving the member "
    "(users.info on a first contact), the router, the ephemeral reply and chat.update "
    "(benchmarks/handling.py measures how fast a burst is worked off).",
    "Teams: botbuilder's CloudAdapter builds a Connector client and a user-token client for "
    "every activity (msrest configuration, retry policy: most of the floor's own cost, and "
    "about a sixth of ours in a py-spy profile under this load). The adapter keeps the bot's "
    "outbound credentials per app, scope and authority, and since issue 18 one Connector "
    "client per app and service URL and one user-token client per app (adapters/teams/auth.py); "
    "the 'token requests a reply' figure shows the credentials kept. Until issue 18 an invoke "
    "was answered only once the inbox's worker had written the vote and sent its reply (p50 "
    "~2.2 s at 0.26-0.33 of the floor): each press waited for the writes queued before it on "
    "SQLite's one writer. Now a Vote press is answered from a read (a deferred BEGIN outside "
    "the writer queue, Database.reading) as soon as it is in the inbox; the write follows, so "
    "'last vote written after the load' is work waiting in the inbox, as for Slack. A press "
    "the write finds a repeat or refuses (another instance counted it, the idea was closed "
    "meanwhile) is told so in the chat, and a pressed idea card is replaced through the "
    "Connector with the card the write left.",
]


def run(
    repeat: int,
    seconds: float,
    warmup: float,
    clients: int,
    platforms: tuple[str, ...] = PLATFORMS,
) -> Section:
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    outcomes, startup = measure_runs(repeat, seconds, warmup, clients, console, platforms)
    return section(outcomes, startup, seconds, warmup, clients)


def measure(repeat: int, quick: bool) -> Section:
    """The section for docs/PERFORMANCE.md: ``repeat`` rounds of 20 s a side (5 s if quick)."""
    return run(max(1, repeat), SECONDS[quick], WARMUP[quick], CLIENTS)


def print_section(result: Section) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(120, Console().width))
    table = Table(title=result.title, title_justify="left")
    for column in ("Figure", "Median", "Unit", "Runs"):
        table.add_column(column, justify="left" if column in ("Figure", "Unit") else "right")
    for figure in result.figures:
        runs = ", ".join(f"{value:,.1f}" for value in figure.runs)
        table.add_row(figure.name, f"{figure.median:,.1f}", figure.unit, runs)
    console.print(table)
    ratios = Table(title="Comparisons (median of each round's ratio)", title_justify="left")
    for column in ("Comparison", "Median", "Rounds", "Meaning"):
        ratios.add_column(column, justify="right" if column in ("Median",) else "left")
    for comparison in result.comparisons:
        rounds = ", ".join(f"{value:.2f}" for value in comparison.ratios)
        ratios.add_row(comparison.name, f"{comparison.median:.2f}", rounds, comparison.meaning)
    console.print(ratios)
    for note in result.notes:
        console.print(f"- {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="5 s a side instead of 20 s")
    parser.add_argument("--seconds", type=float, help="timed seconds a side (overrides --quick)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent clients")
    parser.add_argument(
        "--platform",
        choices=PLATFORMS,
        help="measure one platform only (default: both)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", choices=("slack", "teams"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    if args.floor:
        floor(args.floor)
        return
    seconds = args.seconds if args.seconds is not None else SECONDS[args.quick]
    platforms = (args.platform,) if args.platform else PLATFORMS
    print_section(run(max(1, args.repeat), seconds, WARMUP[args.quick], args.clients, platforms))


if __name__ == "__main__":
    main()
