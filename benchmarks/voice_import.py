"""How fast, and in how much memory, `advocacy voice import` takes a large file.

Writes a CSV of realistic customer comments (1 % of rows malformed), then runs the real command
twice in a child process (a first import, then the same file again, which must add nothing) and
prints wall time, rows per second and the child's peak resident memory. A second table splits
the work: reading and checking the file, sentiment and themes, and storing.

    python benchmarks/voice_import.py                # 100,000 rows into a scratch SQLite file
    python benchmarks/voice_import.py --rows 20000 --database-url postgresql+asyncpg://...

Figures vary with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.child_peak import cli_command, read_peak  # noqa: E402
from benchmarks.results import Figure, Section  # noqa: E402
from content.voice.file_import import parse_file  # noqa: E402
from content.voice.reading import TextReader  # noqa: E402
from content.voice.sentiment import sentiment  # noqa: E402
from content.voice.themes import DEFAULT_TAXONOMY, Taxonomy  # noqa: E402

OPENINGS = [
    "I waited three hours for a reply to my ticket",
    "The invoice doubled this month without any warning",
    "Setup took two weeks because the SSO step is missing from the guide",
    "The CSV export is broken again since Monday",
    "Support answered in ten minutes and fixed it",
    "The pricing page is confusing and I was charged twice",
    "The dashboard loads slowly every afternoon",
    "I love the weekly report, it saves me an hour",
    "We are thinking about cancelling our contract",
    "Onboarding was smooth and the checklist helped a lot",
]
CLOSINGS = [
    "",
    " Please call me back at +44 20 7946 0958.",
    " My email is sam.jones@example.com if you need it.",
    " Otherwise a great product.",
    " This is not acceptable for a paying customer!",
    " Thanks to Priya on the support team.",
]
SEGMENTS = ["smb", "mid-market", "enterprise"]


def write_csv(path: Path, rows: int, seed: int = 11, *, distinct: bool = False) -> int:
    """A helpdesk-style export; returns how many rows are malformed on purpose. ``distinct``:
    every comment names its ticket, so no two rows share a text (the import reads each
    distinct text once; this measures it without that help)."""
    rng = random.Random(seed)
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("ticket_id,created_at,score,comment,customer,segment\n")
        for n in range(1, rows + 1):
            text = rng.choice(OPENINGS) + rng.choice(CLOSINGS)
            if distinct:
                text += f" (ticket {n})"
            day = 1 + n % 28
            score = 1 + rng.randrange(5)
            if n % 100 == 0:
                bad += 1
                out.write(f"T-{n},not-a-date,{score},{text},Acme {n % 300},smb\n")
                continue
            out.write(
                f'T-{n},2026-10-{day:02d} 10:{n % 60:02d},{score},"{text}",'
                f"Acme {n % 300},{rng.choice(SEGMENTS)}\n"
            )
    return bad


def run_import(csv: Path, env: dict[str, str]) -> tuple[dict[str, Any], float, int]:
    """The real command in a child process: its summary, wall seconds and peak RSS (KiB), the
    child's own (benchmarks/child_peak.py: wait4's ru_maxrss starts from this process's peak)."""
    started = time.perf_counter()
    # Output goes to files: a pipe left unread until the end would fill and stall the child.
    with (
        tempfile.TemporaryDirectory() as scratch,
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        peak_file = Path(scratch) / "peak"
        child = subprocess.Popen(
            cli_command("voice", "import", str(csv), "--json"),
            env={**env, "PEAK_FILE": str(peak_file)},
            stdout=out,
            stderr=err,
            text=True,
        )
        status = child.wait()
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
        peak_mib = read_peak(peak_file)
    if status not in (0, 2):
        raise SystemExit(f"advocacy voice import failed:\n{errors or output}")
    return json.loads(output), elapsed, int(peak_mib * 1024) if peak_mib == peak_mib else 0


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def measure(repeat: int, quick: bool) -> Section:
    """The entry point's hook: ``repeat`` first imports into fresh SQLite files, each followed
    by the same file again (everything already there), in a child process each."""
    rows = 10_000 if quick else 100_000
    first, again, peaks, analysed = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="voice-bench-") as scratch:
        folder = Path(scratch)
        csv = folder / "tickets.csv"
        bad = write_csv(csv, rows)
        for n in range(repeat):
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite+aiosqlite:///{folder / f'bench{n}.db'}",
                "ADVOCACY_DATA_DIR": str(folder / "data"),
                "ADVOCACY_SECRET_KEY": "voice-import-key-26caee67318a12931fd181ec",
                "PYTHONPATH": str(ROOT),
            }
            _, seconds, peak_kib = run_import(csv, env)
            first.append(rows / seconds)
            peaks.append(peak_kib / 1024)
            _, seconds, _ = run_import(csv, env)
            again.append(rows / seconds)
        records = parse_file(csv, source="bench").records
        taxonomy = Taxonomy.load(DEFAULT_TAXONOMY)
        for _ in range(repeat):
            _, seconds = timed(
                lambda: [
                    (sentiment(r.text, r.rating, r.rating_scale), taxonomy.match(r.text))
                    for r in records
                ]
            )
            analysed.append(len(records) / seconds)
    return Section(
        title=f"Customer-voice import ({rows:,} rows)",
        figures=[
            Figure("first import, with sentiment and themes", "rows/s", first),
            Figure("the same file again (all already there)", "rows/s", again),
            Figure("sentiment and themes alone, in process", "rows/s", analysed),
            Figure("peak resident memory of the import", "MiB", peaks),
        ],
        notes=[
            f"`advocacy voice import` in a child process on a helpdesk-style CSV with {bad:,} "
            "malformed rows (rejected with their line numbers, the rest kept).",
            "The file is read as a stream and stored 2,000 rows a transaction: peak memory "
            "stays flat whatever its size (benchmarks/import_memory.py measures 1 GiB files).",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the file [100000]")
    parser.add_argument(
        "--database-url", help="where to import [a scratch SQLite file, deleted afterwards]"
    )
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="no two comments alike (by default 60 texts repeat, as canned helpdesk texts do)",
    )
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory(prefix="voice-bench-") as scratch:
        folder = Path(scratch)
        csv = folder / "tickets.csv"
        bad = write_csv(csv, args.rows, distinct=args.distinct)
        size_mib = csv.stat().st_size / 2**20
        console.print(f"{args.rows:,} rows ({bad:,} malformed), {size_mib:.1f} MiB: {csv.name}")
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}",
            "ADVOCACY_DATA_DIR": str(folder / "data"),
            "ADVOCACY_SECRET_KEY": "voice-import-key-26caee67318a12931fd181ec",
            "PYTHONPATH": str(ROOT),
        }

        runs = Table(title="advocacy voice import (child process, end to end)")
        for column in ("run", "imported", "already there", "rejected", "seconds", "rows/s"):
            runs.add_column(column, justify="right" if column != "run" else "left")
        runs.add_column("peak RSS", justify="right")
        for label in ("first import", "again"):
            summary, seconds, peak_kib = run_import(csv, env)
            runs.add_row(
                label,
                f"{summary['imported']:,}",
                f"{summary['already_there']:,}",
                f"{summary['rejected']:,}",
                f"{seconds:.1f}",
                f"{args.rows / seconds:,.0f}",
                f"{peak_kib / 1024:.0f} MiB",
            )
        console.print(runs)

        parsed, read_seconds = timed(lambda: parse_file(csv, source="bench"))
        taxonomy = Taxonomy.load(DEFAULT_TAXONOMY)
        records = parsed.records

        def analyse() -> None:
            for record in records:
                sentiment(record.text, record.rating, record.rating_scale)
                taxonomy.match(record.text)

        _, analyse_seconds = timed(analyse)
        reader = TextReader(taxonomy)
        _, read_seconds_all = timed(lambda: [reader.read(record.text) for record in records])
        phases = Table(title="Where the time goes (in this process)")
        phases.add_column("phase")
        phases.add_column("seconds", justify="right")
        phases.add_column("rows/s", justify="right")
        for phase, seconds in (
            ("read, decode and check the file", read_seconds),
            ("sentiment and themes, every row", analyse_seconds),
            ("language, sentiment and themes, each distinct text once", read_seconds_all),
        ):
            phases.add_row(phase, f"{seconds:.1f}", f"{len(records) / seconds:,.0f}")
        console.print(phases)
        console.print(
            "Storing and alerting take the rest of the first import's time. Peak RSS is the "
            f"child's; this process peaked at "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB."
        )


if __name__ == "__main__":
    main()
