"""Handling: how fast acknowledged events are worked off. A burst of signed Slack Vote clicks
(50 concurrent clients, as fast as `advocacy serve` acknowledges them) is sent to the real
server with the fake Slack Web API behind it, on SQLite and on PostgreSQL; then the votes in
the database are counted until the count stops growing.

Two figures a database: events handled (votes written) a second over the whole burst, the
backlog included, and the seconds from the end of the burst until its last vote was written.
Every click is a distinct (member, idea) pair, so each must be counted once; the count written
is compared with the clicks acknowledged.

    python benchmarks/handling.py                     # 30,000 clicks, SQLite and PostgreSQL
    python benchmarks/handling.py --quick             # 3,000 clicks
    python benchmarks/handling.py --clicks 10000 --database sqlite

PostgreSQL uses TEST_DATABASE_URL (or postgresql+asyncpg://postgres@127.0.0.1:5432/test) in a
scratch schema dropped afterwards; it is skipped with a note when it does not answer.
``measure(repeat, quick)`` returns the section for the benchmarks' entry point. Figures vary
with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ingest import (  # noqa: E402
    IDEAS,
    IDEAS_CHANNEL,
    MEMBERS,
    SIGNING_SECRET,
    TEAM,
    UNSENT,
    Child,
    drive,
    seed,
    slack_targets,
    slack_user,
)
from benchmarks.results import Figure, Section  # noqa: E402

CLICKS = {False: 30_000, True: 3_000}  # a burst, by quick
CLIENTS = 50
DATABASES = ("sqlite", "postgresql")
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
QUIET = 5.0  # seconds without a new vote (or fake call) before a burst counts as handled
SETTLE_LIMIT = 1800.0


# ----- the database, counted from outside the server ---------------------------------------


class Counter:
    """Counts rows of the server's database with the plain driver (sqlite3, asyncpg)."""

    def __init__(self, kind: str, sqlite_path: Path | None, url: str, schema: str) -> None:
        self.kind = kind
        self.sqlite_path = sqlite_path
        self.url = url.replace("postgresql+asyncpg://", "postgresql://")
        self.schema = schema

    def scalar(self, sql: str) -> int:
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            with sqlite3.connect(self.sqlite_path, timeout=30) as connection:
                return int(connection.execute(sql).fetchone()[0])
        return asyncio.run(self._postgres(sql))

    async def _postgres(self, sql: str) -> int:
        import asyncpg

        connection = await asyncpg.connect(
            self.url, server_settings={"search_path": self.schema}, timeout=10
        )
        try:
            return int(await connection.fetchval(sql))
        finally:
            await connection.close()

    def votes(self) -> int:
        return self.scalar("SELECT count(*) FROM suggestion_votes")


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or POSTGRES_URL


def postgres_answers(url: str) -> bool:
    import asyncpg

    async def ask() -> None:
        connection = await asyncpg.connect(
            url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5
        )
        await connection.close()

    try:
        asyncio.run(ask())
    except Exception:
        return False
    return True


def postgres_schema(url: str, schema: str, *, create: bool) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(
            url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10
        )
        try:
            if create:
                await connection.execute(f'CREATE SCHEMA "{schema}"')
            else:
                await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(run())


# ----- the environment: fake Slack, seeded database, our server ------------------------------


@contextmanager
def environment(console: Any, database: str) -> Iterator[dict[str, Any]]:
    """The fake Slack, a seeded scratch database (a SQLite file or a PostgreSQL schema) and
    `advocacy serve` on it, running."""
    from tests.fake_thread import FakeThread
    from tests.slack_fake import FakeSlack

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        slack = stack.enter_context(FakeThread(FakeSlack(team_id=TEAM)))
        env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": slack.fake.bot_token,
            "SLACK_API_URL": slack.fake.api_url,
            "ADVOCACY_DATA_DIR": str(work / "data"),
            "ADVOCACY_SECRET_KEY": "handling-key-5f0c2a9e77d14b3c9d0e",
            "LOG_LEVEL": "INFO",
            "PUBLIC_URL": "https://advocacy.example.com",
            "SUGGESTIONS_CHANNELS": f"slack:{IDEAS_CHANNEL}",
        }
        for name in ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "DATABASE_SCHEMA"):
            env.pop(name, None)
        if database == "sqlite":
            db = work / "advocacy.db"
            env["DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
            counter = Counter("sqlite", db, "", "")
        else:
            url = postgres_url()
            schema = f"bench_handling_{uuid.uuid4().hex[:8]}"
            postgres_schema(url, schema, create=True)
            stack.callback(postgres_schema, url, schema, create=False)
            env["DATABASE_URL"] = url
            env["DATABASE_SCHEMA"] = schema
            counter = Counter("postgresql", None, url, schema)
        console.print(
            f"[dim]handling ({database}): seeding {MEMBERS['slack']:,} members, {IDEAS} ideas[/]"
        )
        for n in range(MEMBERS["slack"]):
            slack.call(slack.fake.add_user, slack_user(n), real_name=f"Slack employee {n}")
        seed(work, env, IDEAS)
        ours = Child(
            "advocacy serve", [sys.executable, "-m", "bot", "serve", "--port", "0"], env, work
        )
        stack.callback(ours.stop)
        ours.wait_listening()
        spec = {
            "platform": "slack",
            "members": MEMBERS["slack"],
            "targets": slack_targets(slack, lambda: counter.scalar(UNSENT), IDEAS),
            "hooks": slack.fake.response_url(""),
            "secret": SIGNING_SECRET,
            "url": ours.url + "/slack/events",
        }

        def forget() -> None:
            def slack_forget() -> None:
                slack.fake.calls.clear()
                slack.fake.answered.clear()
                slack.fake.ephemeral.clear()

            slack.call(slack_forget)

        forget()
        ours.take_warnings()
        yield {"ours": ours, "slack": slack, "counter": counter, "spec": spec, "forget": forget}


# ----- a burst -----------------------------------------------------------------------------


@dataclass
class Burst:
    clicks: int
    acked: int
    seconds: float  # from the first click sent to the last one answered
    recorded: int
    drain: float  # from the end of the burst until the last vote was written
    warnings: int
    cpu: float  # CPU seconds `advocacy serve` spent on the burst (acks and handling)

    @property
    def handled_per_second(self) -> float:
        return self.recorded / (self.seconds + self.drain)


def settle(counter: Counter, activity: Callable[[], int]) -> tuple[int, float]:
    """Wait until the vote count and ``activity`` stop growing; the vote count and the seconds
    from now until the last new vote."""
    started = time.monotonic()
    last = (counter.votes(), activity())
    last_vote = last_change = started
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        current = (counter.votes(), activity())
        if current[0] != last[0]:
            last_vote = now
        if current != last:
            last, last_change = current, now
        elif now - last_change >= QUIET or now - started > SETTLE_LIMIT:
            return last[0], last_vote - started


def burst(context: dict[str, Any], clicks: int, start: int, clients: int = CLIENTS) -> Burst:
    counter: Counter = context["counter"]
    slack = context["slack"]
    before = counter.votes()
    load = {
        **context["spec"],
        "seconds": 3600.0,
        "warmup": 0.0,
        "clients": clients,
        "start": start,
        "limit": clicks,
    }
    pid = context["ours"].process.pid
    cpu_before = cpu_seconds(pid)
    run = drive(load)
    total, drain = settle(counter, lambda: slack.call(lambda: len(slack.fake.calls)))
    cpu = cpu_seconds(pid) - cpu_before
    found = context["ours"].take_warnings()
    for line, count in found.most_common(5):
        print(f"  {count} x {line}", file=sys.stderr)
    warnings = sum(found.values())
    context["forget"]()
    return Burst(clicks, run.acked, run.seconds, total - before, drain, warnings, cpu)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux), 0 where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(result: Burst) -> str:
    return (
        f"{result.acked:,} of {result.clicks:,} acknowledged in {result.seconds:.1f} s, "
        f"{result.recorded:,} recorded, last {result.drain:.1f} s after the burst, "
        f"{result.handled_per_second:,.0f} handled/s, server CPU "
        f"{result.cpu * 1000 / max(1, result.recorded):.2f} ms a click, "
        f"{result.warnings} warning line(s)"
    )


def run(
    repeat: int, clicks: int, databases: tuple[str, ...] = DATABASES, clients: int = CLIENTS
) -> Section:
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    result = Section(f"Handling: a burst of {clicks:,} Slack vote clicks, worked off")
    for database in databases:
        if database == "postgresql" and not postgres_answers(postgres_url()):
            result.notes.append("PostgreSQL did not answer: its figures are missing.")
            continue
        bursts: list[Burst] = []
        with environment(console, database) as context:
            start = 0
            for number in range(repeat):
                console.print(f"[dim]handling ({database}) {number + 1}/{repeat}: {clicks:,}[/]")
                outcome = burst(context, clicks, start, clients)
                start += clicks
                bursts.append(outcome)
                console.print(
                    f"[dim]handling ({database}) {number + 1}/{repeat}: {summary(outcome)}[/]"
                )
        name = "SQLite" if database == "sqlite" else "PostgreSQL"
        result.figures += [
            Figure(
                f"{name}: events handled (votes written) a second",
                "events/s",
                [b.handled_per_second for b in bursts],
                note="over the burst and its backlog",
            ),
            Figure(
                f"{name}: server CPU a click (ack and handling)",
                "ms",
                [b.cpu * 1000 / max(1, b.recorded) for b in bursts],
                note="on a loaded machine the steadier figure",
            ),
            Figure(
                f"{name}: last vote written after the burst ended",
                "s",
                [b.drain for b in bursts],
            ),
            Figure(
                f"{name}: votes written / clicks acknowledged",
                "ratio",
                [b.recorded / max(1, b.acked) for b in bursts],
            ),
        ]
    result.notes += [
        f"{clients} concurrent clients send {clicks:,} signed block_actions Vote clicks as fast as "
        "the server acknowledges them; each is a distinct (member, idea) pair of "
        f"{MEMBERS['slack']:,} members and {IDEAS} idea cards, so the first "
        f"{MEMBERS['slack']:,} clicks of the first burst are first contacts (users.info).",
        "Handled a second: votes written / (burst seconds + seconds until the last vote); the "
        f"burst counts as handled after {QUIET:g} s without a new vote or Slack call.",
    ]
    return result


def measure(repeat: int, quick: bool) -> Section:
    """The section for docs/PERFORMANCE.md: ``repeat`` bursts a database."""
    return run(max(1, repeat), CLICKS[quick])


def main() -> None:
    from benchmarks.ingest import print_section

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="bursts a database (default 1)")
    parser.add_argument("--quick", action="store_true", help="3,000 clicks instead of 30,000")
    parser.add_argument("--clicks", type=int, help="clicks a burst (overrides --quick)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent clients")
    parser.add_argument("--database", choices=DATABASES, help="one database only")
    args = parser.parse_args()
    clicks = args.clicks if args.clicks is not None else CLICKS[args.quick]
    databases = (args.database,) if args.database else DATABASES
    print_section(run(max(1, args.repeat), clicks, databases, args.clients))


if __name__ == "__main__":
    main()
