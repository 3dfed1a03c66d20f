"""Resident memory of an idle `advocacy serve`: a fresh SQLite file, read a few seconds after the
server says it is listening, for three installs: nothing configured (the shell adapter, and
Teams in its local-emulator mode, which is always on), Slack configured (against the fake Slack),
and Slack and Teams both configured (an app id, tenant and secret, as a real install has). Then
which packages that memory comes from: every module the Slack+Teams server imported (read from
its own ``-X importtime`` log), imported again in a fresh interpreter in the order it finished
loading, each one's growth of the resident set added to its top-level package.

    python benchmarks/idle_memory.py                    # the three installs, 3 runs each
    python benchmarks/idle_memory.py --repeat 1 --importers 15
    python benchmarks/idle_memory.py --code /tmp/old-checkout   # an older checkout, to compare

``measure(repeat, quick)`` returns the section for the benchmarks' entry point. Figures vary
with the machine and its load; they are printed, never asserted."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results import Figure, Section  # noqa: E402
from tests.fake_thread import FakeThread  # noqa: E402
from tests.slack_fake import FakeSlack  # noqa: E402

SETTLE = 3.0  # seconds an idle server is left alone before its memory is read
START_TIMEOUT = 60.0
TEAM = "T0IDLE"
INSTALLS = ("nothing", "slack", "slack+teams")
LABELS = {
    "nothing": "nothing configured (shell; Teams as a local emulator)",
    "slack": "Slack configured",
    "slack+teams": "Slack and Teams configured",
}
PROGRESS = Console(stderr=True)

# Run in a fresh interpreter: import each module named on stdin in turn and say how much the
# resident set grew, per module; a module that fails alone is skipped (it is counted with the
# next one that pulls it in).
_IMPORTER = r"""
import importlib, json, sys
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
growth = {}
before = rss()
for name in sys.stdin.read().split():
    if name in sys.modules:
        continue
    try:
        importlib.import_module(name)
    except BaseException:
        continue
    now = rss()
    growth[name] = now - before
    before = now
json.dump({"growth": growth, "total": rss()}, sys.stdout)
"""


def memory_of(pid: int, key: str = "VmRSS") -> float:
    """A /proc/PID/status memory line in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def env_for(work: Path, install: str, code: Path, slack: FakeSlack | None) -> dict[str, str]:
    """The environment of an install: nothing but the database and the secret key, plus Slack's
    token and signing secret, plus Teams' single-tenant app (nothing is fetched for it at start)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MICROSOFT_APP_", "DATABASE_", "GOOGLE_CHAT_"))
    }
    env.update(
        {
            "PYTHONPATH": str(code),
            "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'advocacy.db'}",
            "ADVOCACY_DATA_DIR": str(work / "data"),
            "ADVOCACY_SECRET_KEY": "idle-memory-key-5f0c93a1d27be84c61",
            "LOG_LEVEL": "INFO",
        }
    )
    if slack is not None:
        env.update(
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": "benchmark-signing-secret",
                "SLACK_API_URL": slack.api_url,
            }
        )
    if install == "slack+teams":
        env.update(
            {
                "MICROSOFT_APP_ID": "00000000-0000-4000-8000-00000000b0e1",
                "MICROSOFT_APP_TENANT_ID": "00000000-0000-4000-8000-0000000071d1",
                "MICROSOFT_APP_PASSWORD": "idle-benchmark-client-secret",
                "PUBLIC_URL": "https://advocacy.example.com",
            }
        )
    return env


@contextmanager
def serving(install: str, code: Path, importtime: bool = False) -> Iterator[subprocess.Popen[str]]:
    """`advocacy serve` for an install on a fresh SQLite file, once it says it is listening; its
    log lines are kept on ``server.log_lines``."""
    needs_slack = install != "nothing"
    with tempfile.TemporaryDirectory() as scratch, _maybe_fake(needs_slack) as slack:
        work = Path(scratch)
        flags = ["-X", "importtime"] if importtime else []
        server = subprocess.Popen(
            [sys.executable, *flags, "-m", "bot", "serve", "--port", "0"],
            env=env_for(work, install, code, slack),
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_until_listening(server)
            yield server
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


@contextmanager
def _maybe_fake(wanted: bool) -> Iterator[FakeSlack | None]:
    if not wanted:
        yield None
        return
    with FakeThread(FakeSlack(team_id=TEAM)) as fake:
        yield fake.fake


def _wait_until_listening(server: subprocess.Popen[str]) -> None:
    """Read the server's log (on a thread, which keeps draining it) until it says it listens."""
    listening = threading.Event()
    lines: list[str] = []
    server.log_lines = lines  # type: ignore[attr-defined]
    stream = server.stderr
    assert stream is not None

    def read() -> None:
        for line in stream:
            lines.append(line)
            if "listening on" in line:
                listening.set()

    threading.Thread(target=read, name="serve-log", daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while not listening.wait(0.1):
        if server.poll() is not None or time.monotonic() > deadline:
            tail = "".join(line for line in lines if "import time:" not in line)[-2000:]
            raise RuntimeError(f"advocacy serve did not start listening:\n{tail}")


def idle_rss(install: str, code: Path, settle: float = SETTLE) -> tuple[float, int]:
    """Resident memory (MiB) and thread count of an idle server ``settle`` s after listening."""
    with serving(install, code) as server:
        time.sleep(settle)
        return memory_of(server.pid), threads_of(server.pid)


_IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)")


def imported_modules(install: str, code: Path) -> list[str]:
    """Every module the server imported up to listening, in the order each finished loading."""
    with serving(install, code, importtime=True) as server:
        time.sleep(SETTLE)
        lines = list(server.log_lines)  # type: ignore[attr-defined]
    return [m.group(2) for line in lines if (m := _IMPORT_LINE.match(line))]


def importers(install: str, code: Path) -> tuple[dict[str, float], float]:
    """Resident-set growth (MiB) per top-level package, importing what the server imported in a
    fresh interpreter, and that interpreter's resident set at the end."""
    modules = imported_modules(install, code)
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTER],
        input="\n".join(modules),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=tempfile.gettempdir(),
        check=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    by_package: dict[str, float] = {}
    for name, grown in report["growth"].items():
        top = name.split(".")[0]
        by_package[top] = by_package.get(top, 0.0) + grown / 2**20
    return by_package, report["total"] / 2**20


def measure(repeat: int, quick: bool, *, code: Path = ROOT, top: int = 10) -> Section:
    """Idle resident memory for each install (the median of ``repeat`` runs, alternating
    installs within a repeat) and the biggest importers of the Slack+Teams server."""
    runs: dict[str, list[float]] = {install: [] for install in INSTALLS}
    threads: dict[str, int] = {}
    for number in range(max(1, repeat)):
        for install in INSTALLS:
            PROGRESS.print(f"[dim]idle memory: {install} {number + 1}/{max(1, repeat)}[/]")
            rss, count = idle_rss(install, code)
            runs[install].append(rss)
            threads[install] = count
    by_package, imported_total = importers("slack+teams", code)
    biggest = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    figures = [
        Figure(
            f"Memory: advocacy serve idle, {LABELS[install]} (VmRSS)",
            "MiB",
            runs[install],
            note=f"fresh SQLite file, read {SETTLE:g} s after listening, "
            f"{threads[install]} threads",
        )
        for install in INSTALLS
    ]
    figures.append(
        Figure(
            "Memory: a fresh interpreter after importing what the Slack+Teams server imports",
            "MiB",
            [imported_total],
            note="the rest of the idle figure is what the server builds at start",
        )
    )
    figures += [
        Figure(f"Memory: imports of {package} (resident growth)", "MiB", [mib])
        for package, mib in biggest
    ]
    return Section(
        title="Memory: an idle advocacy serve",
        figures=figures,
        notes=[
            "Each install is a fresh SQLite file and a server left alone for "
            f"{SETTLE:g} s after it says it is listening; installs alternate within a repeat.",
            "Importers: every module the Slack+Teams server imported (its own -X importtime "
            "log) imported again in a fresh interpreter in the order it finished loading; each "
            "one's growth of the resident set is added to its top-level package, so a package's "
            "figure includes what it alone pulled in.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per install [3]")
    parser.add_argument("--importers", type=int, default=15, help="packages to list [15]")
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="the checkout whose server to run [this one]"
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated installs to run, of {', '.join(INSTALLS)} [all], without importers",
    )
    args = parser.parse_args()
    console = Console()
    if args.only:
        chosen = [name.strip() for name in args.only.split(",")]
        unknown = sorted(set(chosen) - set(INSTALLS))
        if unknown:
            parser.error(f"unknown installs {', '.join(unknown)}; choose from {INSTALLS}")
        for _ in range(max(1, args.repeat)):
            for install in chosen:
                rss, count = idle_rss(install, args.code)
                console.print(f"{install}: {rss:.1f} MiB, {count} threads")
        return
    section = measure(args.repeat, False, code=args.code, top=args.importers)
    table = Table(title=f"{section.title} ({args.code})")
    table.add_column("Figure")
    table.add_column("Median", justify="right")
    table.add_column("Runs")
    for figure in section.figures:
        runs = ", ".join(f"{run:.1f}" for run in figure.runs)
        table.add_row(figure.name, f"{figure.median:.1f} {figure.unit}", runs)
    console.print(table)


if __name__ == "__main__":
    main()
