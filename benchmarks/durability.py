"""Acknowledged means durable: 50 clients send signed Slack Vote presses and /suggest commands to
the real ``advocacy serve`` as fast as it answers; the server is stopped in the middle of the
burst (``kill -9``, or SIGTERM as a deploy does) and started again. Printed: how many requests
were acknowledged, how many of them were recorded after the restart (all, or a loss to
investigate), how many waited in the inbox at the stop, and how long the restart took to handle
them. Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL (or the local server) answers.

    python benchmarks/durability.py              # 5 s bursts, as the issue measured
    python benchmarks/durability.py --seconds 2  # shorter
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results import Figure, Section  # noqa: E402
from tests.burst_support import BurstResult, Target, stop_mid_burst  # noqa: E402

CLIENTS = 50
SECONDS = {True: 2.0, False: 5.0}
WAYS = ("kill -9", "SIGTERM")
POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _postgres(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def postgres_answers() -> bool:
    try:
        await asyncio.wait_for(_postgres("SELECT 1"), 5)
    except Exception:
        return False
    return True


async def one_run(engine: str, how: str, seconds: float, clients: int) -> BurstResult:
    with tempfile.TemporaryDirectory(prefix="durability-") as scratch:
        folder = Path(scratch)
        schema = None
        url = f"sqlite+aiosqlite:///{folder / 'advocacy.db'}"
        if engine == "postgresql":
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            await _postgres(f'CREATE SCHEMA "{schema}"')
            url = POSTGRES_URL
        try:
            target = Target(
                url, schema, folder / "data", "durability-benchmark-key-3c91f0a7d52e8b46"
            )
            return await stop_mid_burst(target, folder, how, seconds=seconds, clients=clients)
        finally:
            if schema:
                await _postgres(f'DROP SCHEMA "{schema}" CASCADE')


async def measure_async(repeat: int, seconds: float, clients: int) -> Section:
    engines = ["sqlite"] + (["postgresql"] if await postgres_answers() else [])
    results: dict[tuple[str, str], list[BurstResult]] = {}
    for _ in range(repeat):
        for engine in engines:
            for how in WAYS:
                result = await one_run(engine, how, seconds, clients)
                results.setdefault((engine, how), []).append(result)
                print(f"durability: {engine}, {how}: {describe(result)}", file=sys.stderr)
    figures: list[Figure] = []
    notes = [
        f"Each run: {clients} clients in a closed loop over keep-alive HTTP on loopback, each "
        "alternating a /suggest command (a new idea) and a Vote press by a voter never seen "
        f"before (first contact: users.info, a new member), for {seconds:g} s; then the server "
        "is stopped while they still send, and started again on the same database. "
        "'Acknowledged' counts 200 answers; a request cut off by the stop was not acknowledged, "
        "so Slack would show the person an error and retry an event.",
        "Before the durable inbox (the issue's measure on the same kind of load): 4,354 clicks "
        "answered 200 and 29 votes in the database after kill -9; with SIGTERM 2,173 of 4,447 "
        "acknowledged clicks lost; /suggest for 3 s then kill -9: 5,080 acknowledged, 6 kept.",
    ]
    if "postgresql" not in engines:
        notes.append("PostgreSQL did not answer: its runs were skipped.")
    for (engine, how), runs in results.items():
        label = f"{engine}, {how}"
        figures += [
            Figure(f"{label}: acknowledged", "requests", [r.acknowledged.total for r in runs]),
            Figure(f"{label}: acknowledged a second", "req/s", [r.acks_per_second for r in runs]),
            Figure(
                f"{label}: acknowledged and recorded after the restart",
                "%",
                [recorded_share(r) for r in runs],
                note="100 = nothing lost",
            ),
            Figure(
                f"{label}: recorded twice",
                "ideas",
                [r.ideas_twice for r in runs],
            ),
            Figure(
                f"{label}: waiting in the inbox at the stop",
                "events",
                [r.waiting_at_stop for r in runs],
            ),
            Figure(
                f"{label}: restart until all handled",
                "s",
                [r.recovery_seconds for r in runs],
            ),
        ]
        for n, run in enumerate(runs, 1):
            if run.ideas_lost or run.votes_lost or run.pending_after:
                notes.append(
                    f"{label}, run {n}: {run.ideas_lost} ideas and {run.votes_lost} votes "
                    f"acknowledged but not recorded, {run.pending_after} still waiting: a loss "
                    "to investigate."
                )
    return Section(
        title="Acknowledged means durable: a stop in the middle of a burst",
        figures=figures,
        notes=notes,
    )


def recorded_share(result: BurstResult) -> float:
    lost = result.ideas_lost + result.votes_lost
    total = result.acknowledged.total
    return 100.0 * (total - lost) / total if total else 100.0


def describe(result: BurstResult) -> str:
    return (
        f"{result.acknowledged.total:,} acknowledged ({result.acks_per_second:,.0f}/s), "
        f"{result.handled_before_stop:,} handled before the stop, {result.waiting_at_stop:,} "
        f"waiting; after the restart {recorded_share(result):.1f} % recorded in "
        f"{result.recovery_seconds:.1f} s, {result.ideas_twice} twice"
    )


def measure(repeat: int, quick: bool) -> Section:
    """The section for docs/PERFORMANCE.md."""
    return asyncio.run(measure_async(max(1, repeat), SECONDS[quick], CLIENTS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (default 1)")
    parser.add_argument("--seconds", type=float, default=SECONDS[False], help="burst length")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent clients")
    args = parser.parse_args()
    from benchmarks.ingest import print_section

    print_section(asyncio.run(measure_async(max(1, args.repeat), args.seconds, args.clients)))


if __name__ == "__main__":
    main()
