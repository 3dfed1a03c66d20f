"""Every benchmark in one run, written to docs/PERFORMANCE.md: the machine and the versions, each
figure as the median of repeated runs, and each comparison as a ratio measured in the same run.

    python benchmarks/run_all.py                      # the full set (about an hour here)
    python benchmarks/run_all.py --quick --repeat 2   # a smaller set, for a first look
    python benchmarks/run_all.py --only ingest,reports

PostgreSQL parts use TEST_DATABASE_URL (or the local server) and are skipped with a note when it
does not answer. Figures vary with the machine and its load: they are printed, never asserted."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results import Section  # noqa: E402

PACKAGES = (
    "slack-bolt",
    "slack-sdk",
    "botbuilder-core",
    "sqlalchemy",
    "aiohttp",
    "apscheduler",
    "aiosqlite",
    "asyncpg",
    "vaderSentiment",
)


def _ingest(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import ingest

    return [ingest.measure(repeat, quick)]


def _handling(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import handling

    return [handling.measure(repeat, quick)]


def _durability(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import durability

    return [durability.measure(repeat, quick)]


def _fanout(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import fanout, fanout_teams

    return [
        fanout.measure(repeat, quick, long_repeat=long_repeat),
        fanout_teams.measure(repeat, quick, long_repeat=long_repeat),
        # Slack's cap raised to 100/s: 2,000 and 10,000 (quick: 500 and 1,000).
        fanout.measure_at_cap(quick),
        # At scale: 100,000 Slack; 100,000 and 300,000 Teams (quick: 3,000; 3,000 and 6,000).
        fanout.measure_at_scale(repeat, quick),
        fanout_teams.measure_at_scale(quick),
    ]


def _shared_cap(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import shared_cap

    return [shared_cap.measure(repeat if quick else min(repeat, long_repeat), quick)]


def _reports(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import reports

    return [reports.measure(repeat, quick)]


def _voice(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import import_memory, voice_import

    return [voice_import.measure(repeat, quick), import_memory.measure(repeat, quick)]


def _idle(repeat: int, quick: bool, long_repeat: int) -> list[Section]:
    from benchmarks import idle_memory

    return [idle_memory.measure(repeat, quick)]


BENCHMARKS: dict[str, Callable[[int, bool, int], list[Section]]] = {
    "ingest": _ingest,
    "handling": _handling,
    "durability": _durability,
    "fanout": _fanout,
    "shared_cap": _shared_cap,
    "reports": _reports,
    "voice": _voice,
    "idle": _idle,
}


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    rows = [
        ("Date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Commit", _git("rev-parse", "--short", "HEAD")),
        ("Machine", f"{platform.system()} {platform.machine()}, {cpu}"),
        ("Cores / memory", f"{os.cpu_count()} / {memory}"),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", _postgres_version()),
    ]
    for package in PACKAGES:
        try:
            rows.append((package, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    return rows


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _postgres_version() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    try:
        import asyncio

        import asyncpg

        async def ask() -> str:
            plain = url.replace("postgresql+asyncpg://", "postgresql://")
            connection = await asyncpg.connect(plain, timeout=5)
            try:
                return str(await connection.fetchval("SHOW server_version"))
            finally:
                await connection.close()

        return asyncio.run(ask())
    except Exception as error:  # any failure just means "not measured"
        return f"not reachable ({type(error).__name__})"


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(
    sections: list[Section],
    about: list[tuple[str, str]],
    *,
    repeat: int,
    quick: bool,
    seconds: float,
    loads: tuple[float, float],
) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `python benchmarks/run_all.py"
        + (" --quick" if quick else "")
        + f" --repeat {repeat}`; every figure below comes from that one run. A figure is the "
        "median of its runs (all runs shown); a comparison is the median of ratios, each taken "
        "within one repeat, so both sides share the same moment of a shared machine.",
        "",
        "## Machine and versions",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {_cell(value)} |" for name, value in about),
        f"| Run | {seconds / 60:.0f} min; 1-minute load average {loads[0]:.1f} at the start, "
        f"{loads[1]:.1f} at the end |",
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.figures:
            lines += ["| Figure | Median | Unit | Runs |", "|---|---:|---|---|"]
            for figure in section.figures:
                runs = ", ".join(_number(r) for r in figure.runs)
                name = figure.name + (f" ({figure.note})" if figure.note else "")
                lines.append(
                    f"| {_cell(name)} | {_number(figure.median)} | {figure.unit} | {runs} |"
                )
            lines.append("")
        if section.comparisons:
            lines += ["| Comparison | Ratio | Runs | How to read it |", "|---|---:|---|---|"]
            for comparison in section.comparisons:
                runs = ", ".join(f"{r:.2f}" for r in comparison.ratios)
                lines.append(
                    f"| {_cell(comparison.name)} | {comparison.median:.2f} | {runs} | "
                    f"{_cell(comparison.meaning)} |"
                )
            lines.append("")
        if section.notes:
            lines += [f"- {note}" for note in section.notes]
            lines.append("")
    return "\n".join(lines)


def failed_section(name: str, error: Exception) -> Section:
    """What the document says of a benchmark that stopped with an error: its figures are
    missing, and why, so the rest of the run is still written."""
    return Section(
        f"{name} (failed)",
        notes=[
            f"This benchmark stopped with an error, so its figures are missing: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure [3]")
    parser.add_argument(
        "--long-repeat",
        type=int,
        default=1,
        help="runs of the 10,000-recipient fan-outs (about 200 s each) [1]",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter runs")
    parser.add_argument(
        "--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)} [all of them]"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "PERFORMANCE.md",
        help="where to write the Markdown [docs/PERFORMANCE.md]; NAME.partial.md holds what "
        "is measured so far while it runs",
    )
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    console = Console(stderr=True)
    about = machine()
    began, load_before = time.monotonic(), os.getloadavg()[0]
    sections: list[Section] = []
    durations: list[tuple[str, float]] = []
    # Written after each benchmark, so a run stopped part-way keeps what it measured.
    partial = args.output.with_name(args.output.stem + ".partial" + args.output.suffix)
    args.output.parent.mkdir(parents=True, exist_ok=True)

    def document() -> str:
        took = ", ".join(f"{name} {seconds / 60:.0f} min" for name, seconds in durations)
        return markdown(
            sections,
            [*about, ("Each benchmark's time", took)],
            repeat=args.repeat,
            quick=args.quick,
            seconds=time.monotonic() - began,
            loads=(load_before, os.getloadavg()[0]),
        )

    for name in chosen:
        console.rule(f"[bold]{name}")
        started = time.monotonic()
        try:
            sections += BENCHMARKS[name](max(1, args.repeat), args.quick, max(1, args.long_repeat))
        except Exception as error:  # one broken benchmark must not throw away hours of others
            console.print_exception()
            sections.append(failed_section(name, error))
        durations.append((name, time.monotonic() - started))
        console.print(f"{name}: {durations[-1][1]:.0f} s")
        partial.write_text(document() + "\n", encoding="utf-8")
    text = document()
    args.output.write_text(text + "\n", encoding="utf-8")
    partial.unlink(missing_ok=True)
    console.print(text)
    console.print(f"[green]Written to {args.output}")


if __name__ == "__main__":
    main()
