"""Two `advocacy serve` instances sharing one PostgreSQL database send one digest to one Slack
workspace: does the workspace's cap hold for both together?

Slack's cap is the workspace's, not each process's. The fake Slack Web API enforces it (a token
bucket of ``--rate`` a second, burst 5, plus one message a second per channel) and answers 429
beyond it. A digest is queued with `advocacy digest run --enqueue-only`; both instances drain the
outbox (``FOR UPDATE SKIP LOCKED``) and pace through the shared ``pacing_slots`` row. Printed:
the combined rate against the cap, the busiest second, 429s as a share of sends, how the work
split between the instances, and wall time against the floor (recipients / rate). Each instance
pacing alone (the code before) sends at about twice the cap and meets 429s.

    python benchmarks/shared_cap.py                       # 1,000 recipients at 50 a second
    python benchmarks/shared_cap.py --recipients 400 --rate 50
    python benchmarks/shared_cap.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test

Needs PostgreSQL (--database-url, else TEST_DATABASE_URL, else the local server); each run uses
a scratch schema, dropped after. Figures vary with the machine and its load: printed, never
asserted."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fanout import TEAM, WORKSPACE_BURST, prepare  # noqa: E402
from benchmarks.results import Comparison, Figure, Section  # noqa: E402
from tests.fake_thread import FakeThread  # noqa: E402
from tests.slack_fake import FakeSlack  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
INSTANCES = 2
FULL_RECIPIENTS = 1_000
QUICK_RECIPIENTS = 400
RATE = 50.0
START_TIMEOUT = 60.0
SENT = re.compile(r'advocacy_deliveries_total\{platform="slack",status="sent"\} (\d+)')


class TimedFakeSlack(FakeSlack):
    """The fake Slack, noting when each chat.postMessage arrived and whether the caps let it."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.arrivals: list[tuple[float, bool]] = []

    def _post_rate_limited(self, channel: str):  # type: ignore[no-untyped-def]
        answer = super()._post_rate_limited(channel)
        self.arrivals.append((time.monotonic(), answer is None))
        return answer


@dataclass
class Outcome:
    recipients: int
    rate: float
    wall: float  # from the digest being queued to the last message in
    attempts: list[float]  # arrival times of every chat.postMessage, taken or refused
    refused: int  # 429s
    per_instance: list[int]  # messages each instance reports sent

    @property
    def floor(self) -> float:
        return self.recipients / self.rate

    @property
    def sending_rate(self) -> float:
        """Sends a second (429s included: the fake refuses what exceeds the cap, so only the
        attempts show what the instances asked of Slack), from the first to the last."""
        span = self.attempts[-1] - self.attempts[0]
        return (len(self.attempts) - 1) / span if span > 0 else float("inf")

    @property
    def busiest_second(self) -> int:
        """The most sends in any one second (a sliding window), 429s included."""
        best, start = 0, 0
        for end, at in enumerate(self.attempts):
            while at - self.attempts[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    @property
    def refused_share(self) -> float:
        return self.refused / len(self.attempts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sent_by(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            match = SENT.search(answer.read().decode())
    except OSError:
        return -1
    return int(match.group(1)) if match else 0


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2):
            return True
    except OSError:
        return False


async def _postgres(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    schema = f"shared_cap_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres(url, f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        asyncio.run(_postgres(url, f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def servers(env: dict[str, str], work: Path, count: int) -> Iterator[list[int]]:
    """``count`` `advocacy serve` instances on free ports, stopped with SIGTERM after."""
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not all(healthy(port) for port in ports):
            if time.monotonic() > deadline:
                raise RuntimeError("advocacy serve did not start")
            time.sleep(0.2)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def run(recipients: int, rate: float, url: str) -> Outcome:
    fake = TimedFakeSlack(team_id=TEAM)
    fake.channel_rate_limit = 1
    fake.workspace_rate_limit = rate
    fake.workspace_burst = WORKSPACE_BURST
    with (
        tempfile.TemporaryDirectory() as scratch,
        scratch_schema(url) as schema,
        FakeThread(fake) as thread,
    ):
        work = Path(scratch)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATABASE_SCHEMA": schema,
            "ADVOCACY_DATA_DIR": str(work / "data"),
            "ADVOCACY_SECRET_KEY": "shared-cap-key-5d2f61e0b7a94c1e8f3a",
            "LOG_LEVEL": "WARNING",
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": "benchmark-signing-secret",
            "SLACK_API_URL": fake.api_url,
            "SLACK_WORKSPACE_RATE": str(rate),
        }
        prepare(work, env, recipients)
        with servers(env, work, INSTANCES) as ports:
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "bot", "digest", "run", "daily", "--enqueue-only"],
                env=env,
                cwd=work,
                check=True,
                capture_output=True,
            )
            while len(thread.call(fake.posted_counts)) < recipients:
                time.sleep(0.1)
            wall = time.monotonic() - started
            time.sleep(1.5)  # let each instance write its outcomes before its metrics are read
            per_instance = [sent_by(port) for port in ports]
        arrivals = thread.call(lambda: list(fake.arrivals))
    return Outcome(
        recipients=recipients,
        rate=rate,
        wall=wall,
        attempts=sorted(at for at, _ in arrivals),
        refused=sum(1 for _, taken in arrivals if not taken),
        per_instance=per_instance,
    )


def measure(repeat: int, quick: bool, *, rate: float = RATE, url: str | None = None) -> Section:
    """Two instances on one PostgreSQL database against one workspace cap."""
    console = Console(stderr=True, highlight=False)
    url = url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL
    recipients = QUICK_RECIPIENTS if quick else FULL_RECIPIENTS
    title = f"Two instances, one Slack workspace cap ({rate:g}/s), PostgreSQL"
    outcomes: list[Outcome] = []
    try:
        for number in range(1, max(1, repeat) + 1):
            console.print(f"[dim]shared cap {number}/{repeat}: {recipients:,} recipients[/]")
            outcomes.append(run(recipients, rate, url))
    except OSError as error:
        return Section(title, notes=[f"not measured: PostgreSQL did not answer ({error})"])
    return Section(
        title,
        figures=[
            Figure(
                "combined sends a second (429s included)",
                "msg/s",
                [o.sending_rate for o in outcomes],
            ),
            Figure(
                "busiest second (sends, 429s included)",
                "msg",
                [float(o.busiest_second) for o in outcomes],
            ),
            Figure("429s met", "", [float(o.refused) for o in outcomes]),
            Figure("429s, share of sends", "%", [o.refused_share * 100 for o in outcomes]),
            Figure(
                "smaller instance's share of the work",
                "%",
                [100 * min(o.per_instance) / max(1, sum(o.per_instance)) for o in outcomes],
            ),
        ],
        comparisons=[
            Comparison(
                "combined rate / cap",
                [o.sending_rate / rate for o in outcomes],
                "1.00 = exactly the cap; above 1 the instances together exceed it",
            ),
            Comparison(
                "floor / ours (wall)",
                [o.floor / o.wall for o in outcomes],
                "1.00 = as fast as the cap allows",
            ),
        ],
        notes=[
            f"{recipients:,} recipients; {INSTANCES} `advocacy serve` instances on one database "
            f"drain a digest queued with `digest run --enqueue-only`; the fake Slack enforces "
            f"{rate:g} messages a second for the workspace (token bucket, burst "
            f"{WORKSPACE_BURST}) and one a second per channel, answering 429 beyond. Wall time "
            "runs from the queueing command's start to the last message in.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=FULL_RECIPIENTS)
    parser.add_argument("--rate", type=float, default=RATE, help="the workspace cap, msg/s")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--database-url", help="PostgreSQL (default: TEST_DATABASE_URL or the local server)"
    )
    args = parser.parse_args()
    url = args.database_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL
    table = Table(title=f"{INSTANCES} instances, one workspace cap of {args.rate:g}/s")
    for column in ("run", "wall s", "floor s", "rate/cap", "busiest s", "429s", "share", "split"):
        table.add_column(column, justify="right")
    for number in range(1, args.repeat + 1):
        o = run(args.recipients, args.rate, url)
        table.add_row(
            str(number),
            f"{o.wall:.1f}",
            f"{o.floor:.1f}",
            f"{o.sending_rate / args.rate:.2f}",
            str(o.busiest_second),
            str(o.refused),
            f"{o.refused_share:.1%}",
            " / ".join(str(n) for n in o.per_instance),
        )
    Console().print(table)


if __name__ == "__main__":
    main()
