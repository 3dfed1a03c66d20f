"""One digest to many Slack recipients through the fake Slack Web API with Slack's rate limits:
wall time against the floor the limit allows, messages lost, duplicates and peak memory; the same
recipients through a plain ``slack_sdk`` loop (what someone would write instead of this bot); the
same run killed (kill -9) half-way and finished by `advocacy serve`. The resident memory of an
idle `advocacy serve` is benchmarks/idle_memory.py's.

The fake enforces one message a second per channel and a workspace-wide cap (--rate); the bot is
told the same cap (SLACK_WORKSPACE_RATE). The floor is recipients / rate: no sender that respects
the cap can be faster. The real `advocacy` command runs in child processes against a scratch
SQLite file (or --database-url), exactly as an admin would run it.

    python benchmarks/fanout.py                        # 10,000 recipients at 50 a second
    python benchmarks/fanout.py --recipients 2000 --rate 100 --scenario clean
    python benchmarks/fanout.py --scenario plain --recipients 500
    python benchmarks/fanout.py --measure --quick      # the figures docs/PERFORMANCE.md shows
    python benchmarks/fanout.py --measure              # full: 10,000 recipients, Slack and Teams

``measure(repeat, quick)`` returns the Slack section for the benchmarks' entry point; the Teams
one is in benchmarks/fanout_teams.py. Figures vary with the machine and its load; they are
printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.child_peak import cli_command, read_peak  # noqa: E402
from benchmarks.fanout_seed import bulk_members  # noqa: E402
from benchmarks.results import Comparison, Figure, Section  # noqa: E402
from tests.fake_thread import FakeThread  # noqa: E402
from tests.slack_fake import FakeSlack  # noqa: E402

TEAM = "T0BENCH"
LEASE_SECONDS = 5
BATCH = 50  # the outbox worker's batch: the most a crash can resend
WORKSPACE_BURST = 5  # the fake's workspace bucket: Slack allows "short bursts >1"
FULL_RECIPIENTS = 10_000
QUICK_RECIPIENTS = 1_000
FULL_KILL_RECIPIENTS = 2_000  # durability does not need the full size; it needs a kill
PLAIN_BUDGET = {True: 30.0, False: 120.0}  # seconds the plain loop may run (quick, full)
START_TIMEOUT = 60.0
PROGRESS = Console(stderr=True)  # progress bars stay off stdout, where the tables go


@dataclass
class Outcome:
    scenario: str
    recipients: int
    floor: float
    wall: float
    lost: int
    duplicates: int
    peak_mib: float
    rate_limited: int
    note: str = ""
    # Seconds from the command's start to the first and to the last message the fake accepted.
    first_send: float = 0.0
    last_send: float = 0.0
    # One message as the fake received it (text and blocks), for the plain loop to send.
    sample: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def over_floor(self) -> str:
        return f"{(self.wall / self.floor - 1) * 100:+.1f} %"

    @property
    def per_second(self) -> float:
        return (self.recipients - self.lost) / self.wall

    @property
    def sending_span(self) -> float:
        """First to last message: the pacing alone, without start-up, composing and queueing."""
        return max(self.last_send - self.first_send, 1e-9)


@dataclass
class PlainOutcome:
    """A plain slack_sdk loop, stopped after its time budget: its steady rate is what counts."""

    recipients: int  # how many it was asked to reach
    attempted: int  # how many it reached before the budget ran out
    wall: float
    lost: int  # attempted but not posted (the retry handler gave up)
    duplicates: int
    rate_limited: int

    @property
    def per_second(self) -> float:
        return (self.attempted - self.lost) / self.wall

    @property
    def projected(self) -> float:
        """Seconds it would take for every recipient at the rate it kept."""
        return self.recipients / self.per_second if self.per_second else float("inf")


def advocacy(env: dict[str, str], cwd: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=cwd, check=True, capture_output=True
    )


def add_digest(work: Path, env: dict[str, str]) -> None:
    """One article and a daily content digest named "daily" for everyone."""
    advocacy(env, work, "content", "add", "https://example.com/q4", "--title", "Our Q4 promise")
    advocacy(
        env,
        work,
        "digest",
        "add",
        "daily",
        "--kind",
        "content",
        "--cron",
        "0 9 * * *",
        "--tz",
        "UTC",
    )


def import_members(
    work: Path, env: dict[str, str], platform: str, workspace: str, users: list[str]
) -> None:
    """``advocacy members import`` of an HR-style CSV: what an admin does before a first digest."""
    people = work / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["platform", "user_id", "name", "workspace", "team"])
        for n, user in enumerate(users):
            writer.writerow([platform, user, f"Employee {n}", workspace, f"Team {n % 40}"])
    advocacy(env, work, "members", "import", str(people))


def slack_users(recipients: int) -> list[str]:
    return [f"UB{n:06d}" for n in range(recipients)]


def prepare(work: Path, env: dict[str, str], recipients: int) -> None:
    import_members(work, env, "slack", TEAM, slack_users(recipients))
    add_digest(work, env)


def memory_of(pid: int, key: str = "VmHWM") -> float:
    """A /proc/PID/status memory line in MiB: VmHWM is the peak resident memory so far, VmRSS
    the resident memory now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_of(pid: int) -> float:
    return memory_of(pid, "VmHWM")


def watch(served: Callable[[], int], total: int, until: float | None, label: str) -> None:
    """Show progress until ``total`` recipients are served (or a share ``until`` of them)."""
    goal = total if until is None else int(total * until)
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=PROGRESS,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        while True:
            count = served()
            progress.update(task, completed=count)
            if count >= goal:
                return
            time.sleep(0.05)


def slack_served(fake: FakeThread[FakeSlack]) -> Callable[[], int]:
    return lambda: len(fake.call(fake.fake.posted_counts))


def env_for(work: Path, fake: FakeSlack, rate: float, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{work / 'advocacy.db'}",
        "ADVOCACY_DATA_DIR": str(work / "data"),
        "ADVOCACY_SECRET_KEY": "fanout-key-7b698fc8e301220a05c2bf4f",
        "LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": "benchmark-signing-secret",
        "SLACK_API_URL": fake.api_url,
        "SLACK_WORKSPACE_RATE": str(rate),
        "DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    if database_url is None:
        env.pop("DATABASE_SCHEMA", None)
    return env


def new_fake(rate: float) -> FakeThread[FakeSlack]:
    fake = FakeSlack(team_id=TEAM)
    # Slack's limits as the fake enforces them: 1 a second per channel, a workspace-wide cap
    # with a short burst (Slack: "short bursts >1 allowed").
    fake.channel_rate_limit = 1
    fake.workspace_rate_limit = rate
    fake.workspace_burst = WORKSPACE_BURST
    return FakeThread(fake)


@contextmanager
def workspace(
    recipients: int, rate: float, database_url: str | None
) -> Iterator[tuple[FakeThread[FakeSlack], Path, dict[str, str]]]:
    """A scratch directory, the fake Slack on its thread, and ``recipients`` members with a
    digest to send them."""
    with tempfile.TemporaryDirectory() as scratch, new_fake(rate) as fake:
        work = Path(scratch)
        env = env_for(work, fake.fake, rate, database_url)
        prepare(work, env, recipients)
        yield fake, work, env


PEAK_FILE = "peak.txt"  # in the run's scratch directory: the child's own VmHWM, in kB


def run_peak(work: Path) -> float:
    """The peak resident memory (MiB) of the digest run started in ``work``, by itself."""
    return read_peak(work / PEAK_FILE)


def start_digest_run(work: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`advocacy digest run daily`, writing its own peak memory (``run_peak``) as it exits."""
    return subprocess.Popen(
        cli_command("digest", "run", "daily"),
        env={**env, "PEAK_FILE": str(work / PEAK_FILE)},
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def clean_run(recipients: int, rate: float, database_url: str | None) -> Outcome:
    with workspace(recipients, rate, database_url) as (fake, work, env):
        started = time.monotonic()
        child = start_digest_run(work, env)
        watch(slack_served(fake), recipients, None, "clean run")
        child.wait()
        wall = time.monotonic() - started
        outcome = summarise(fake, "clean", recipients, rate, wall, run_peak(work))
        posted_at = fake.call(lambda: list(fake.fake.posted_at))
        if posted_at:
            outcome.first_send = posted_at[0] - started
            outcome.last_send = posted_at[-1] - started
        outcome.sample = fake.call(first_message, fake.fake)
        return outcome


def first_message(fake: FakeSlack) -> dict[str, Any]:
    """The text and blocks of one digest as Slack received it."""
    for messages in fake.messages.values():
        if messages:
            return {"text": messages[0]["text"], "blocks": messages[0]["blocks"]}
    return {}


def killed_run(recipients: int, rate: float, database_url: str | None) -> Outcome:
    with workspace(recipients, rate, database_url) as (fake, work, env):
        started = time.monotonic()
        child = start_digest_run(work, env)
        watch(slack_served(fake), recipients, 0.5, "until half-way")
        peak_before = peak_of(child.pid)
        child.send_signal(signal.SIGKILL)
        child.wait()
        at_kill = len(fake.call(fake.fake.posted_counts))
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", "0"],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            watch(slack_served(fake), recipients, None, "serve finishes")
            time.sleep(1)  # anything else the restart would send goes out now
            peak_after = peak_of(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        wall = time.monotonic() - started
        return summarise(
            fake,
            "kill -9 at half",
            recipients,
            rate,
            wall,
            max(peak_before, peak_after),
            note=f"killed with {at_kill:,} served; lease {LEASE_SECONDS} s",
        )


def summarise(
    fake: FakeThread[FakeSlack],
    scenario: str,
    recipients: int,
    rate: float,
    wall: float,
    peak_mib: float,
    note: str = "",
) -> Outcome:
    posted = fake.call(fake.fake.posted_counts)
    duplicates = sum(fake.call(fake.fake.duplicates).values())
    limited = fake.call(lambda: fake.fake.rate_limited_count)
    return Outcome(
        scenario=scenario,
        recipients=recipients,
        floor=recipients / rate,
        wall=wall,
        lost=recipients - len(posted),
        duplicates=duplicates,
        peak_mib=peak_mib,
        rate_limited=limited,
        note=note,
    )


# ----- at scale: 100,000 recipients ----------------------------------------------------------

SCALE_RECIPIENTS = {True: 3_000, False: 100_000}  # quick, full
SCALE_RATE = 500.0  # the fake's workspace cap and the bot's, raised so the run takes minutes
QUEUED_LINE = re.compile(r"queued (\d+) deliveries in ([\d.]+) s")


@dataclass
class ScaleOutcome:
    """A run to many people: how it did against the floor, its memory and its queueing time."""

    platform: str
    recipients: int
    rate: float
    wall: float
    lost: int
    duplicates: int
    rate_limited: int
    peak_mib: float
    # From the command's start until every delivery was committed to the outbox, as the run
    # says it ("queued N deliveries in X s"); and when that line came, from the child's start.
    queue_seconds: float
    queued_after: float

    @property
    def floor(self) -> float:
        return self.recipients / self.rate

    @property
    def per_second(self) -> float:
        return (self.recipients - self.lost) / self.wall


class QueuedLine:
    """Reads a child's standard error on a thread, watching for the run's "queued" line."""

    def __init__(self, child: subprocess.Popen[str], started: float) -> None:
        self.seconds = float("nan")
        self.after = float("nan")
        self.tail: list[str] = []
        stream = child.stderr
        assert stream is not None

        def read() -> None:
            for line in stream:
                self.tail = [*self.tail[-20:], line]
                if (found := QUEUED_LINE.search(line)) and self.seconds != self.seconds:
                    self.seconds = float(found.group(2))
                    self.after = time.monotonic() - started

        self.thread = threading.Thread(target=read, name="digest-run-log", daemon=True)
        self.thread.start()


def start_logged_run(
    work: Path, env: dict[str, str], *, enqueue_only: bool = False
) -> tuple[subprocess.Popen[str], QueuedLine, float]:
    """`advocacy digest run daily` with its standard error read for the "queued" line;
    ``enqueue_only``: the run queues and leaves the sending to a server (none here). It writes
    its own peak memory (``run_peak``) as it exits."""
    arguments = ["digest", "run", "daily", *(["--enqueue-only"] if enqueue_only else [])]
    started = time.monotonic()
    child = subprocess.Popen(
        cli_command(*arguments),
        env={**env, "PEAK_FILE": str(work / PEAK_FILE)},
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, QueuedLine(child, started), started


def scale_run(recipients: int, rate: float = SCALE_RATE) -> ScaleOutcome:
    """One digest to ``recipients`` Slack members (written in bulk) at a workspace cap of
    ``rate``, in 8 languages (issue 17: one message per language)."""
    with tempfile.TemporaryDirectory() as scratch, new_fake(rate) as fake:
        work = Path(scratch)
        env = env_for(work, fake.fake, rate, None)
        bulk_members(env, work, "slack", TEAM, slack_users(recipients))
        add_digest(work, env)
        child, log, started = start_logged_run(work, env)
        watch(slack_served(fake), recipients, None, f"Slack, {recipients:,} recipients")
        status = child.wait()
        wall = time.monotonic() - started
        log.thread.join(5)
        if status != 0:
            raise RuntimeError("advocacy digest run failed:\n" + "".join(log.tail))
        posted = fake.call(fake.fake.posted_counts)
        return ScaleOutcome(
            platform="Slack",
            recipients=recipients,
            rate=rate,
            wall=wall,
            lost=recipients - len(posted),
            duplicates=sum(fake.call(fake.fake.duplicates).values()),
            rate_limited=fake.call(lambda: fake.fake.rate_limited_count),
            peak_mib=run_peak(work),
            queue_seconds=log.seconds,
            queued_after=log.after,
        )


def scale_figures(label: str, outcomes: list[ScaleOutcome]) -> tuple[list[Figure], Comparison]:
    """The figures of runs to many people (``label`` says how many), and floor / ours."""
    size = f"{outcomes[0].recipients:,}"
    rate = outcomes[0].rate
    figures = [
        Figure(f"{label}: wall (ours)", "s", [o.wall for o in outcomes]),
        Figure(f"{label}: floor ({size} / {rate:g} per second)", "s", [outcomes[0].floor]),
        Figure(f"{label}: messages a second (ours)", "msg/s", [o.per_second for o in outcomes]),
        Figure(f"{label}: lost", "messages", [float(o.lost) for o in outcomes]),
        Figure(f"{label}: duplicates", "messages", [float(o.duplicates) for o in outcomes]),
        Figure(f"{label}: 429s answered", "responses", [float(o.rate_limited) for o in outcomes]),
        Figure(
            f"{label}: peak memory of `advocacy digest run` (its own VmHWM)",
            "MiB",
            [o.peak_mib for o in outcomes],
        ),
        Figure(
            f"{label}: queueing time",
            "s",
            [o.queue_seconds for o in outcomes],
            note="composing and queueing, until committed; as the run logs it",
        ),
        Figure(
            f"{label}: every delivery in the outbox, from the command's start",
            "s",
            [o.queued_after for o in outcomes],
            note="queueing time plus interpreter start-up",
        ),
    ]
    comparison = Comparison(
        f"{label}: floor / ours",
        [o.floor / o.wall for o in outcomes],
        "1.00 = at the floor (recipients / the raised cap)",
    )
    return figures, comparison


def measure_at_scale(repeat: int, quick: bool) -> Section:
    """One digest to 100,000 Slack recipients (quick: 3,000) at a cap of 500 a second."""
    console = Console(stderr=True, highlight=False)
    load = os.getloadavg()[0]
    recipients = SCALE_RECIPIENTS[quick]
    runs = max(1, repeat if quick else 1)
    outcomes = []
    for number in range(1, runs + 1):
        console.print(f"[dim]fan-out at scale, Slack {number}/{runs}: {recipients:,}[/]")
        outcomes.append(scale_run(recipients))
    figures, comparison = scale_figures(f"Slack, {recipients:,}", outcomes)
    return Section(
        title=f"Fan-out at scale: one digest to {recipients:,} Slack recipients",
        figures=figures,
        comparisons=[comparison],
        notes=[
            f"The real `advocacy digest run` in a child process on a scratch SQLite file, to "
            f"{recipients:,} members through the fake Slack Web API with its workspace cap "
            f"raised to {SCALE_RATE:g} messages a second (and the bot told the same, "
            f"SLACK_WORKSPACE_RATE), so the run takes minutes rather than half an hour. Members "
            f"are inserted in bulk (benchmarks/fanout_seed.py), spread over 8 languages and 40 "
            f"teams: the run composes one message per language.",
            "Queueing time is what the run reports once every delivery is committed to the "
            "outbox (the readers are read in pages and the deliveries inserted in batches, in "
            "one transaction). Peak memory is the child's own VmHWM, sending included.",
            f"Repeats: {runs}.",
            machine_load(load),
        ],
    )


# ----- at a raised cap: 2,000 and 10,000 at 100 a second ------------------------------------

CAP_RATE = 100.0  # Slack's cap raised, as a workspace on a higher tier would have it
CAP_SIZES = {True: (500, 1_000), False: (2_000, 10_000)}  # quick, full


def measure_at_cap(quick: bool, rate: float = CAP_RATE) -> Section:
    """One digest to 2,000 and to 10,000 Slack recipients (quick: 500 and 1,000) at a cap of
    100 a second: how close to the floor, and how often the pacer overshoots (429s)."""
    console = Console(stderr=True, highlight=False)
    load = os.getloadavg()[0]
    figures: list[Figure] = []
    comparisons: list[Comparison] = []
    for recipients in CAP_SIZES[quick]:
        console.print(f"[dim]fan-out, Slack at {rate:g}/s: {recipients:,} recipients[/]")
        outcome = clean_run(recipients, rate, None)
        size = f"Slack at {rate:g}/s, {recipients:,}"
        sends = recipients - outcome.lost + outcome.rate_limited
        figures += [
            Figure(f"{size}: wall (ours)", "s", [outcome.wall]),
            Figure(f"{size}: floor", "s", [outcome.floor]),
            Figure(f"{size}: start to first message", "s", [outcome.first_send]),
            Figure(f"{size}: first to last message", "s", [outcome.sending_span]),
            Figure(f"{size}: lost", "messages", [float(outcome.lost)]),
            Figure(f"{size}: duplicates", "messages", [float(outcome.duplicates)]),
            Figure(
                f"{size}: 429s, share of requests",
                "%",
                [100 * outcome.rate_limited / max(sends, 1)],
                note=f"{outcome.rate_limited} of {sends:,}",
            ),
        ]
        comparisons += [
            Comparison(
                f"{size}: floor / ours",
                [outcome.floor / outcome.wall],
                "from the command's start to its exit; 1.00 = at the floor",
            ),
            Comparison(
                f"{size}: floor / ours, sending only",
                [outcome.floor / outcome.sending_span],
                "first to last message: the pacer's own share",
            ),
        ]
    return Section(
        title=f"Fan-out at a raised cap: Slack at {rate:g} messages a second",
        figures=figures,
        comparisons=comparisons,
        notes=[
            f"As the 10,000-recipient run above, with the fake's workspace cap and the bot's "
            f"(SLACK_WORKSPACE_RATE) at {rate:g} a second (token bucket, burst "
            f"{WORKSPACE_BURST}). A 429 is a request the fake refused; the outbox sends it again "
            "after its Retry-After, so none is lost. Start to first message is the interpreter "
            "starting, the digest composed and its deliveries queued; a digest scheduled inside "
            "`advocacy serve` pays no interpreter start.",
            machine_load(load),
        ],
    )


# ----- the plain slack_sdk loop ---------------------------------------------------------------


def default_sample() -> dict[str, Any]:
    """A message of a digest's size, for a plain loop run on its own (no run of ours before)."""
    text = "Our Q4 promise: https://example.com/q4 " * 8
    section = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    return {"text": text, "blocks": [section]}


async def _plain_loop(
    client: AsyncWebClient,
    users: list[str],
    sample: dict[str, Any],
    budget: float,
    progress: Callable[[int], None],
) -> tuple[int, int]:
    """What a user would write: one chat.postMessage after another; slack_sdk's rate-limit
    handler sleeps Retry-After (plus up to a second of jitter) on a 429 and tries once more.
    Returns (attempted, failed) once everyone is reached or ``budget`` seconds have passed."""
    deadline = time.monotonic() + budget
    failed = 0
    for attempted, user in enumerate(users):
        if time.monotonic() >= deadline:
            return attempted, failed
        try:
            await client.chat_postMessage(
                channel=user, text=sample["text"], blocks=sample["blocks"]
            )
        except SlackApiError:
            failed += 1  # a second 429 in a row: the handler gave up on this one
        progress(attempted + 1)
    return len(users), failed


def plain_run(
    recipients: int, rate: float, sample: dict[str, Any] | None, budget: float
) -> PlainOutcome:
    """The same recipients and message through a plain slack_sdk loop (a fresh fake), for at
    most ``budget`` seconds."""
    users = slack_users(recipients)
    with new_fake(rate) as fake:
        client = AsyncWebClient(token=fake.fake.bot_token, base_url=fake.fake.api_url)
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler())
        with Progress(
            TextColumn("plain slack_sdk loop"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=PROGRESS,
            transient=True,
        ) as bar:
            task = bar.add_task("plain", total=recipients)
            started = time.monotonic()
            attempted, _ = asyncio.run(
                _plain_loop(
                    client,
                    users,
                    sample or default_sample(),
                    budget,
                    lambda done: bar.update(task, completed=done),
                )
            )
            wall = time.monotonic() - started
        posted = fake.call(fake.fake.posted_counts)
        return PlainOutcome(
            recipients=recipients,
            attempted=attempted,
            wall=wall,
            lost=attempted - len(posted),
            duplicates=sum(fake.call(fake.fake.duplicates).values()),
            rate_limited=fake.call(lambda: fake.fake.rate_limited_count),
        )


# ----- figures for docs/PERFORMANCE.md --------------------------------------------------------


def machine_load(before: float) -> str:
    """How busy the machine was (other processes share its cores and skew wall times)."""
    return (
        f"Machine: {os.cpu_count()} cores; 1-minute load average {before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end."
    )


def measure(
    repeat: int,
    quick: bool,
    *,
    long_repeat: int = 1,
    rate: float = 50.0,
    plain_budget: float | None = None,
    kill: bool = True,
) -> Section:
    """Slack fan-out, ours against the floor and a plain slack_sdk loop, and peak memory.

    Full runs send 10,000 messages at 50/s (200 s each), so they repeat ``long_repeat`` times
    (at most ``repeat``); quick runs (1,000 recipients) repeat ``repeat`` times. Within a
    repeat, ours runs first and the plain loop right after it."""
    console = Console(stderr=True, highlight=False)
    load = os.getloadavg()[0]
    recipients = QUICK_RECIPIENTS if quick else FULL_RECIPIENTS
    runs = max(1, repeat if quick else min(repeat, long_repeat))
    budget = plain_budget if plain_budget is not None else PLAIN_BUDGET[quick]
    floor = recipients / rate
    ours: list[Outcome] = []
    plain: list[PlainOutcome] = []
    for number in range(1, runs + 1):
        console.print(f"[dim]fan-out, Slack {number}/{runs}: ours, {recipients:,} recipients[/]")
        ours.append(clean_run(recipients, rate, None))
        console.print(f"[dim]fan-out, Slack {number}/{runs}: plain loop, up to {budget:.0f} s[/]")
        plain.append(plain_run(recipients, rate, ours[-1].sample, budget))
    killed: list[Outcome] = []
    kill_recipients = recipients if quick else FULL_KILL_RECIPIENTS
    if kill:
        console.print(f"[dim]fan-out, Slack: kill -9 half-way, {kill_recipients:,} recipients[/]")
        killed.append(killed_run(kill_recipients, rate, None))

    size = f"{recipients:,}"
    figures = [
        Figure(f"Slack, {size} recipients: wall (ours)", "s", [o.wall for o in ours]),
        Figure("Slack: messages a second (ours)", "msg/s", [o.per_second for o in ours]),
        Figure(
            "Slack: start to first message (ours)",
            "s",
            [o.first_send for o in ours],
            note="interpreter start-up, composing, queueing",
        ),
        Figure(
            "Slack: first to last message (ours)",
            "s",
            [o.sending_span for o in ours],
            note="the pacing alone",
        ),
        Figure(f"Slack: floor ({size} / {rate:g} per second)", "s", [floor]),
        Figure("Slack: lost (ours)", "messages", [float(o.lost) for o in ours]),
        Figure("Slack: duplicates (ours)", "messages", [float(o.duplicates) for o in ours]),
        Figure(
            "Slack: 429s answered to ours",
            "responses",
            [float(o.rate_limited) for o in ours],
            note="each retried by the outbox after its Retry-After",
        ),
        Figure(
            "Slack: messages a second (plain slack_sdk loop)",
            "msg/s",
            [p.per_second for p in plain],
            note=f"run for {budget:.0f} s, then stopped",
        ),
        Figure(
            f"Slack: plain loop, projected wall for {size}",
            "s",
            [p.projected for p in plain],
            note="recipients / the rate it kept",
        ),
        Figure(
            "Slack: lost (plain loop, of those it tried)",
            "messages",
            [float(p.lost) for p in plain],
        ),
        Figure("Slack: duplicates (plain loop)", "messages", [float(p.duplicates) for p in plain]),
        Figure(
            f"Memory: peak of `advocacy digest run` to {size} (its own VmHWM)",
            "MiB",
            [o.peak_mib for o in ours],
        ),
    ]
    for outcome in killed:
        where = f"Slack, kill -9 half-way ({outcome.recipients:,})"
        figures.append(Figure(f"{where}: lost", "messages", [float(outcome.lost)]))
        figures.append(Figure(f"{where}: duplicates", "messages", [float(outcome.duplicates)]))
    comparisons = [
        Comparison(
            "Slack: floor / ours",
            [o.floor / o.wall for o in ours],
            "1.00 = at the floor (recipients / allowed rate); 0.90 = 11 % slower than the floor",
        ),
        Comparison(
            "Slack: floor / ours, sending only (first to last message)",
            [o.floor / o.sending_span for o in ours],
            "the pacer's share of the gap: 1.00 = sends spaced at the cap from the first on",
        ),
        Comparison(
            "Slack: ours / plain slack_sdk loop (messages a second)",
            [o.per_second / p.per_second for o, p in zip(ours, plain, strict=True)],
            "2.0 = ours sends twice as many messages a second as the plain loop",
        ),
    ]
    plain_note = (
        "The plain loop is what a user would write instead: slack_sdk's AsyncWebClient with "
        "AsyncRateLimitErrorRetryHandler (slack_sdk.http_retry.builtin_async_handlers) added to "
        "client.retry_handlers, awaiting chat_postMessage(channel=user, text=..., blocks=...) "
        "for one user after another, with the very text and blocks ours sent. It does not know "
        "the cap, so it bursts into a 429 and sleeps Retry-After (whole seconds: 1) plus up to "
        "1 s of jitter; a second 429 in a row raises, and that recipient is counted lost. "
        f"It runs for {budget:.0f} s and is stopped; its rate is what it sent in that time."
    )
    notes = [
        f"Ours is the real `advocacy digest run` in a child process on a scratch SQLite file, "
        f"sending to {size} members through the fake Slack Web API (tests/slack_fake.py) on "
        f"loopback, which enforces 1 message a second per channel and a workspace cap of "
        f"{rate:g} messages a second (token bucket, burst {WORKSPACE_BURST}); the bot is told "
        f"the same cap (SLACK_WORKSPACE_RATE). Its wall time counts from the command's start "
        f"(interpreter start-up, composing the digest and queueing {size} deliveries included) "
        f"to its exit. The floor is {size} / {rate:g} = {floor:.0f} s.",
        plain_note,
        "Durability: the plain loop keeps its place in memory only, so a crash or a restart "
        "loses track of who got the digest (rerun it and everyone before the crash gets it "
        "twice; skip it and everyone after gets nothing). Ours keeps a durable outbox: "
        + (
            f"killed with kill -9 half-way through {killed[0].recipients:,} recipients and "
            f"finished by `advocacy serve`, it lost {killed[0].lost} and sent "
            f"{killed[0].duplicates} twice (bounded by one in-flight batch of {BATCH})."
            if killed
            else "see the kill -9 scenario of benchmarks/fanout.py."
        ),
        f"Repeats: {runs} for the {size}-recipient runs"
        + ("" if quick else f" (long runs repeat at most long_repeat={long_repeat} times)")
        + ", 1 for the kill -9 run. Figures are medians (idle memory: benchmarks/idle_memory.py).",
        machine_load(load),
    ]
    return Section(
        title=f"Fan-out: one digest to {size} Slack recipients",
        figures=figures,
        comparisons=comparisons,
        notes=notes,
    )


def print_section(console: Console, section: Section) -> None:
    """The section as docs/PERFORMANCE.md would show it, for running this module alone."""
    figures = Table(title=section.title, title_justify="left")
    for column in ("Figure", "Median", "Unit", "Runs", "Note"):
        figures.add_column(column, justify="right" if column in ("Median", "Runs") else "left")
    for figure in section.figures:
        runs = ", ".join(f"{value:,.1f}" for value in figure.runs)
        figures.add_row(figure.name, f"{figure.median:,.1f}", figure.unit, runs, figure.note)
    console.print(figures)
    comparisons = Table(title_justify="left")
    for column in ("Comparison", "Median", "Runs", "Meaning"):
        comparisons.add_column(column, justify="right" if column in ("Median", "Runs") else "left")
    for comparison in section.comparisons:
        runs = ", ".join(f"{value:.2f}" for value in comparison.ratios)
        comparisons.add_row(comparison.name, f"{comparison.median:.2f}", runs, comparison.meaning)
    console.print(comparisons)
    for note in section.notes:
        console.print(f"• {note}", highlight=False)


def print_outcomes(console: Console, outcomes: list[Outcome]) -> None:
    table = Table(title="One digest through the fake Slack API", title_justify="left")
    for column in (
        "Scenario",
        "Recipients",
        "Floor",
        "Wall",
        "Over floor",
        "Lost",
        "Duplicates",
        "429s",
        "Peak RSS",
    ):
        table.add_column(column, justify="left" if column == "Scenario" else "right")
    for o in outcomes:
        table.add_row(
            o.scenario,
            f"{o.recipients:,}",
            f"{o.floor:.1f} s",
            f"{o.wall:.1f} s",
            o.over_floor,
            str(o.lost),
            str(o.duplicates),
            str(o.rate_limited),
            f"{o.peak_mib:.0f} MiB",
        )
    console.print(table)
    for o in outcomes:
        if o.note:
            console.print(f"{o.scenario}: {o.note}; in-flight window {BATCH} deliveries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=FULL_RECIPIENTS)
    parser.add_argument("--rate", type=float, default=50.0, help="workspace cap, messages/s")
    parser.add_argument(
        "--scenario",
        choices=("clean", "kill", "both", "plain", "scale"),
        default="both",
        help="scale: members written in bulk, in 8 languages; reports queueing time",
    )
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    parser.add_argument(
        "--plain-budget", type=float, help="seconds the plain slack_sdk loop may run"
    )
    measuring = parser.add_argument_group("the figures for docs/PERFORMANCE.md")
    measuring.add_argument(
        "--measure", action="store_true", help="run measure() (Slack and Teams) and print it"
    )
    measuring.add_argument("--quick", action="store_true", help="1,000 recipients, not 10,000")
    measuring.add_argument("--repeat", type=int, default=1)
    measuring.add_argument(
        "--long-repeat", type=int, default=1, help="repeats of the 10,000-recipient runs"
    )
    measuring.add_argument("--platform", choices=("slack", "teams", "both"), default="both")
    measuring.add_argument(
        "--at-scale",
        action="store_true",
        help="the 100,000-recipient Slack run (quick: 3,000) instead of the 10,000 ones",
    )
    args = parser.parse_args()
    console = Console(width=max(120, Console().width))
    if args.measure and args.at_scale:
        print_section(console, measure_at_scale(args.repeat, args.quick))
        return
    if args.measure:
        if args.platform in ("slack", "both"):
            section = measure(
                args.repeat,
                args.quick,
                long_repeat=args.long_repeat,
                rate=args.rate,
                plain_budget=args.plain_budget,
            )
            print_section(console, section)
        if args.platform in ("teams", "both"):
            from benchmarks import fanout_teams

            section = fanout_teams.measure(args.repeat, args.quick, long_repeat=args.long_repeat)
            print_section(console, section)
        return
    console.print(
        f"[bold]Fan-out[/]: {args.recipients:,} recipients, Slack cap {args.rate:g}/s, "
        f"floor {args.recipients / args.rate:.1f} s"
    )
    if args.scenario == "scale":
        o = scale_run(args.recipients, args.rate)
        console.print(
            f"Slack: {o.recipients:,} in {o.wall:.1f} s (floor {o.floor:.1f} s, floor / ours "
            f"{o.floor / o.wall:.2f}), lost {o.lost}, duplicates {o.duplicates}, 429s "
            f"{o.rate_limited}, peak {o.peak_mib:.0f} MiB, queued in {o.queue_seconds:.1f} s "
            f"({o.queued_after:.1f} s after the start)"
        )
        return
    if args.scenario == "plain":
        budget = args.plain_budget or 3600.0
        p = plain_run(args.recipients, args.rate, None, budget)
        console.print(
            f"plain slack_sdk loop: {p.attempted:,} tried in {p.wall:.1f} s, "
            f"{p.per_second:.1f} msg/s (projected {p.projected:.0f} s for {p.recipients:,}), "
            f"lost {p.lost}, duplicates {p.duplicates}, 429s {p.rate_limited}"
        )
        return
    outcomes = []
    if args.scenario in ("clean", "both"):
        outcomes.append(clean_run(args.recipients, args.rate, args.database_url))
    if args.scenario in ("kill", "both"):
        outcomes.append(killed_run(args.recipients, args.rate, args.database_url))
    print_outcomes(console, outcomes)


if __name__ == "__main__":
    main()
