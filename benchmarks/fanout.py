"""One digest to many Slack recipients through the fake Slack Web API with Slack's rate limits:
wall time against the floor the limit allows, messages lost, duplicates and peak memory; then the
same run killed (kill -9) half-way and finished by `advocacy serve`.

The fake enforces one message a second per channel and a workspace-wide cap (--rate); the bot is
told the same cap (SLACK_WORKSPACE_RATE). The floor is recipients / rate: no sender that respects
the cap can be faster. The real `advocacy` command runs in child processes against a scratch
SQLite file (or --database-url), exactly as an admin would run it.

    python benchmarks/fanout.py                        # 10,000 recipients at 50 a second
    python benchmarks/fanout.py --recipients 2000 --rate 100 --scenario clean

Figures vary with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_thread import FakeThread  # noqa: E402
from tests.slack_fake import FakeSlack  # noqa: E402

TEAM = "T0BENCH"
LEASE_SECONDS = 5
BATCH = 50  # the outbox worker's batch: the most a crash can resend


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

    @property
    def over_floor(self) -> str:
        return f"{(self.wall / self.floor - 1) * 100:+.1f} %"


def advocacy(env: dict[str, str], cwd: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=cwd, check=True, capture_output=True
    )


def prepare(work: Path, env: dict[str, str], recipients: int) -> None:
    people = work / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["platform", "user_id", "name", "workspace", "team"])
        for n in range(recipients):
            writer.writerow(["slack", f"UB{n:06d}", f"Employee {n}", TEAM, f"Team {n % 40}"])
    advocacy(env, work, "members", "import", str(people))
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


def peak_of(pid: int) -> float:
    """VmHWM of a live process, in MiB (its peak resident memory so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def watch(fake: FakeThread[FakeSlack], total: int, until: float | None, label: str) -> None:
    """Show progress until ``total`` recipients are served (or a share ``until`` of them)."""
    goal = total if until is None else int(total * until)
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        while True:
            served = len(fake.call(fake.fake.posted_counts))
            progress.update(task, completed=served)
            if served >= goal:
                return
            time.sleep(0.05)


def env_for(work: Path, fake: FakeSlack, rate: float, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{work / 'advocacy.db'}",
        "ADVOCACY_DATA_DIR": str(work / "data"),
        "ADVOCACY_SECRET_KEY": "benchmark-secret",
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
    fake.workspace_burst = 5
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


def start_digest_run(work: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "digest", "run", "daily"],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def clean_run(recipients: int, rate: float, database_url: str | None) -> Outcome:
    with workspace(recipients, rate, database_url) as (fake, work, env):
        started = time.monotonic()
        child = start_digest_run(work, env)
        watch(fake, recipients, None, "clean run")
        _, _, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        return summarise(fake, "clean", recipients, rate, wall, usage.ru_maxrss / 1024)


def killed_run(recipients: int, rate: float, database_url: str | None) -> Outcome:
    with workspace(recipients, rate, database_url) as (fake, work, env):
        started = time.monotonic()
        child = start_digest_run(work, env)
        watch(fake, recipients, 0.5, "until half-way")
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
            watch(fake, recipients, None, "serve finishes")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="workspace cap, messages/s")
    parser.add_argument("--scenario", choices=("clean", "kill", "both"), default="both")
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    args = parser.parse_args()
    console = Console(width=max(120, Console().width))
    console.print(
        f"[bold]Fan-out[/]: {args.recipients:,} recipients, Slack cap {args.rate:g}/s, "
        f"floor {args.recipients / args.rate:.1f} s"
    )
    outcomes = []
    if args.scenario in ("clean", "both"):
        outcomes.append(clean_run(args.recipients, args.rate, args.database_url))
    if args.scenario in ("kill", "both"):
        outcomes.append(killed_run(args.recipients, args.rate, args.database_url))
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


if __name__ == "__main__":
    main()
