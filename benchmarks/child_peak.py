"""A CLI child that reports its own peak resident memory (VmHWM) as it exits.

``os.wait4``'s ru_maxrss would not do: on Linux the child's figure starts from this process's
high-water mark when it spawned the child (vfork + exec records the parent's peak), so a
benchmark that seeded 300,000 members itself reported its own ~640 MiB as the CLI's."""

from __future__ import annotations

import sys
from pathlib import Path

PEAK_SCRIPT = """
import atexit, os, re

def peak():
    status = open("/proc/self/status").read()
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(re.search(r"VmHWM:\\s*(\\d+)", status).group(1))

atexit.register(peak)
from bot.cli.main import cli
cli()
"""


def cli_command(*arguments: str) -> list[str]:
    """`advocacy ARGUMENTS` that writes its VmHWM (kB) to $PEAK_FILE as it exits; run it with a
    working directory outside the checkout (python -c puts the working directory first)."""
    return [sys.executable, "-c", PEAK_SCRIPT, *arguments]


def read_peak(peak_file: Path) -> float:
    """The child's peak resident memory in MiB (NaN if it wrote none: it was killed)."""
    return int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
