"""Peak memory and speed of `advocacy members import` and `advocacy voice import` on big files.

Writes an HR CSV and customer-voice files (CSV, JSON Lines, a JSON list) of about the size asked
for, runs the real command on each in a child process, and prints the child's peak resident
memory (its VmHWM, read as it exits) and rows a second. Imports stream their file, so the
peak should stay flat whatever the size; run it with ``--code`` pointing at an older checkout to
see the difference.

    python benchmarks/import_memory.py                       # 1 GiB files into scratch SQLite
    python benchmarks/import_memory.py --size-mb 50 --kinds hr,voice-jsonl
    python benchmarks/import_memory.py --code /tmp/old-checkout --size-mb 50
    python benchmarks/import_memory.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test

Figures vary with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.child_peak import cli_command, read_peak  # noqa: E402
from benchmarks.results import Figure, Section  # noqa: E402

OPENINGS = [
    "I waited three hours for a reply to my ticket and nobody called back",
    "The invoice doubled this month without any warning or explanation",
    "Setup took two weeks because the SSO step is missing from the guide",
    "The CSV export is broken again since Monday and the team is stuck",
    "Support answered in ten minutes and fixed it, thank you",
    "The pricing page is confusing and I was charged twice for one seat",
    "The dashboard loads slowly every afternoon when the whole office uses it",
    "I love the weekly report, it saves me an hour every Friday",
    "We are thinking about cancelling our contract at the renewal",
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
ZONES = ["Europe/Paris", "Europe/London", "America/New_York", "Asia/Tokyo", "UTC"]
KINDS = ("hr", "voice-csv", "voice-jsonl", "voice-json")


def _comment(rng: random.Random) -> str:
    return rng.choice(OPENINGS) + "." + rng.choice(CLOSINGS)


def write_hr(path: Path, size: int, wide: int = 0) -> int:
    """An HR export: every tenth person manages the next nine; returns the number of rows.
    ``wide`` adds a column of that many bytes that the import does not use."""
    rows = 0
    notes = "n" * wide
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("platform,user_id,name,team,manager,role,timezone,notes\n")
        while out.tell() < size:
            chunk = []
            for n in range(rows, rows + 1_000):
                manager = f"U{n // 10:08d}" if n else ""
                chunk.append(
                    f"slack,U{n:08d},Person {n},Team {n % 97},{manager},"
                    f"{'manager' if n % 10 == 0 else 'employee'},{ZONES[n % len(ZONES)]},"
                    f"{notes}\n"
                )
            out.write("".join(chunk))
            rows += 1_000
    return rows


def write_voice(path: Path, size: int, kind: str, wide: int = 0) -> int:
    """Customer comments as CSV, JSON Lines or one JSON list; returns the number of rows.
    ``wide`` adds a field of that many bytes (a raw payload) that the import does not use."""
    rng = random.Random(11)
    rows = 0
    raw = "r" * wide
    with path.open("w", encoding="utf-8", newline="") as out:
        if kind == "voice-csv":
            out.write("ticket_id,created_at,score,comment,customer,segment,raw\n")
        elif kind == "voice-json":
            out.write('{"items": [\n')
        while out.tell() < size:
            chunk = []
            for n in range(rows, rows + 1_000):
                day, score, text = 1 + n % 28, 1 + rng.randrange(5), _comment(rng)
                if kind == "voice-csv":
                    chunk.append(
                        f'T-{n},2025-10-{day:02d} 10:{n % 60:02d},{score},"{text}",'
                        f"Acme {n % 300},{rng.choice(SEGMENTS)},{raw}\n"
                    )
                    continue
                item = json.dumps(
                    {
                        "id": f"T-{n}",
                        "created_at": f"2025-10-{day:02d}T10:{n % 60:02d}:00Z",
                        "rating": score,
                        "comment": text,
                        "customer": f"Acme {n % 300}",
                        "segment": rng.choice(SEGMENTS),
                        "raw": raw,
                    }
                )
                chunk.append(item + ("\n" if kind == "voice-jsonl" else ",\n"))
            out.write("".join(chunk))
            rows += 1_000
        if kind == "voice-json":
            out.write('{"id": "last", "comment": "The end of the export."}\n]}\n')
            rows += 1
    return rows


@dataclass
class Run:
    kind: str
    size_mib: float
    rows: int
    seconds: float
    peak_mib: float
    summary: str


def run_import(kind: str, path: Path, env: dict[str, str]) -> tuple[str, float, float, int]:
    """The real command in a child process: its output, seconds, peak RSS (MiB), exit status."""
    command = ["members", "import"] if kind == "hr" else ["voice", "import"]
    peak_file = path.parent / "peak.txt"
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            cli_command(*command, str(path), "--json"),
            env={**env, "PEAK_FILE": str(peak_file)},
            stdout=out,
            stderr=err,
            cwd=path.parent,  # not this checkout: python -c puts the working directory first
        )
        code = child.wait()
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    return output or errors, elapsed, read_peak(peak_file), code


def describe(kind: str, output: str, code: int) -> str:
    try:
        report = json.loads(output)
    except json.JSONDecodeError:
        return f"exit {code}: {output.strip().splitlines()[-1][:100] if output.strip() else ''}"
    if kind == "hr":
        return (
            f"exit {code}: {report['created']:,} created, {report['updated']:,} updated, "
            f"{report.get('rejected_count', len(report['rejected'])):,} rejected"
        )
    return (
        f"exit {code}: {report['imported']:,} imported, {report['already_there']:,} already "
        f"there, {report['rejected']:,} rejected"
    )


async def _postgres(url: str, statement: str) -> None:
    import asyncpg

    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def measure_kind(
    kind: str, size: int, folder: Path, code_root: Path, database_url: str | None, wide: int = 0
) -> Run:
    path = folder / {"hr": "hr.csv", "voice-csv": "tickets.csv"}.get(
        kind, "reviews.jsonl" if kind == "voice-jsonl" else "export.json"
    )
    writer: Callable[[Path, int], int] = (
        (lambda p, s: write_hr(p, s, wide))
        if kind == "hr"
        else (lambda p, s: write_voice(p, s, kind, wide))
    )
    rows = writer(path, size)
    env = {
        **os.environ,
        "ADVOCACY_DATA_DIR": str(folder / "data"),
        "ADVOCACY_SECRET_KEY": "import-memory-key-a0858b82ed928239ccc00b75",
        "PYTHONPATH": str(code_root),
        "LOG_LEVEL": "WARNING",
    }
    schema = None
    if database_url and database_url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(_postgres(database_url, f'CREATE SCHEMA "{schema}"'))
        env.update(DATABASE_URL=database_url, DATABASE_SCHEMA=schema)
    else:
        database = folder / f"{kind}.db"
        env.update(DATABASE_URL=database_url or f"sqlite+aiosqlite:///{database}")
        env.pop("DATABASE_SCHEMA", None)
    try:
        output, seconds, peak, code = run_import(kind, path, env)
    finally:
        if schema:
            asyncio.run(_postgres(database_url or "", f'DROP SCHEMA "{schema}" CASCADE'))
        size_mib = path.stat().st_size / 2**20
        path.unlink()
        for leftover in folder.glob(f"{kind}.db*"):
            leftover.unlink()
    return Run(kind, size_mib, rows, seconds, peak, describe(kind, output, code))


def measure(repeat: int, quick: bool) -> Section:
    """The entry point's hook: an HR CSV and a JSON Lines voice file, rows 2 KB wide (as wide
    exports are), each imported into a fresh SQLite file (``repeat`` times when quick)."""
    size_mib = 50 if quick else 1024
    figures = []
    with tempfile.TemporaryDirectory(prefix="import-memory-") as scratch:
        for kind in ("hr", "voice-jsonl"):
            runs = [
                measure_kind(kind, size_mib * 2**20, Path(scratch), ROOT, None, wide=2_000)
                # Peak memory barely varies between runs; a 1 GB import takes minutes.
                for _ in range(repeat if quick else 1)
            ]
            peaks = [run.peak_mib for run in runs]
            speeds = [run.rows / run.seconds for run in runs]
            figures += [
                Figure(f"{kind}: peak resident memory", "MiB", peaks),
                Figure(f"{kind}: rows a second", "rows/s", speeds),
            ]
    return Section(
        title=f"Imports of {size_mib:,} MiB files in bounded memory",
        figures=figures,
        notes=[
            "`advocacy members import` and `advocacy voice import` in a child process; peak is "
            "the child's own VmHWM. Files are read as a stream and stored 2,000 rows a "
            "transaction, so the peak does not grow with the file.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=1024, help="file size in MiB [1024]")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"which files, comma-separated [{','.join(KINDS)}]"
    )
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="the checkout whose CLI to run [this one]"
    )
    parser.add_argument(
        "--database-url", help="where to import [a scratch SQLite file per run, deleted after]"
    )
    parser.add_argument("--scratch", type=Path, help="where to write the files [a temp folder]")
    parser.add_argument(
        "--wide",
        type=int,
        default=0,
        help="bytes of an extra column the import does not use, per row (fewer, wider rows, "
        "as many exports have) [0]",
    )
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    console = Console()
    shape = f", rows {args.wide:,} bytes wider" if args.wide else ""
    table = Table(title=f"Imports of ~{args.size_mb:,.0f} MiB files{shape} ({args.code})")
    for column in ("file", "MiB", "rows", "seconds", "rows/s", "peak RSS (MiB)", "result"):
        table.add_column(column, justify="left" if column in ("file", "result") else "right")
    with tempfile.TemporaryDirectory(prefix="import-memory-", dir=args.scratch) as scratch:
        for kind in kinds:
            run = measure_kind(
                kind,
                int(args.size_mb * 2**20),
                Path(scratch),
                args.code,
                args.database_url,
                args.wide,
            )
            console.print(
                f"{run.kind}: {run.size_mib:,.0f} MiB, {run.rows:,} rows, {run.seconds:,.1f} s, "
                f"peak {run.peak_mib:,.0f} MiB; {run.summary}"
            )
            table.add_row(
                run.kind,
                f"{run.size_mib:,.0f}",
                f"{run.rows:,}",
                f"{run.seconds:,.1f}",
                f"{run.rows / run.seconds:,.0f}",
                f"{run.peak_mib:,.0f}",
                run.summary,
            )
    console.print(table)


if __name__ == "__main__":
    main()
