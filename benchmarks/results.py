"""What every benchmark returns to the entry point (``benchmarks/run_all.py``): figures, each the
median of repeated runs, and comparisons, each a ratio of two figures measured in the same run.

A benchmark module exposes ``measure(repeat: int, quick: bool) -> Section``; it may also keep its
own ``main()`` for running it alone."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Figure:
    """One measured quantity: every run's value is kept, the median is what the table shows."""

    name: str
    unit: str
    runs: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass
class Comparison:
    """``ours`` against ``theirs``: the median over runs of each run's own ratio, so that the
    two sides always share the same moment of a shared, noisy machine."""

    name: str
    ratios: list[float]
    meaning: str  # how to read it, e.g. "1.00 = as fast as the floor; 0.50 = half as fast"

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how it was measured; what it taught


def percentile(values: list[float], share: float) -> float:
    """The ``share`` (0-1) percentile by nearest rank: p99 of 100 values is the 99th."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]
