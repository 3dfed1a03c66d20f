"""Charts people would rather look at than read: the objectives report as a PNG.

matplotlib draws off-screen (the Agg backend, no display needed); the figure is small enough for
a Slack or Teams card and readable on a phone. It is imported on the first chart, not with the
module: with numpy and Pillow it added about 40 MiB to an idle server and 0.85 s to every
``advocacy`` command (benchmarks/fanout.py).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from bot.compose.text import plural
from bot.services.objectives_report import ObjectivesReport

COLOURS = {"now": "#2563eb", "before": "#94a3b8", "good": "#16a34a", "bad": "#dc2626"}


@cache
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def objectives_chart(report: ObjectivesReport) -> bytes:
    """Three panels per objective: useful share of the content, suggestions filed and answered,
    and customer sentiment this period against the previous one."""
    plt = _pyplot()
    rows = report.rows
    labels = [row.title if len(row.title) <= 28 else row.title[:27] + "…" for row in rows]
    figure, (useful, ideas, voice) = plt.subplots(
        1, 3, figsize=(12, 0.6 * max(3, len(rows)) + 1.6), sharey=True
    )
    positions = list(range(len(rows)))
    useful.barh(positions, [100 * (row.useful_share or 0) for row in rows], color=COLOURS["now"])
    useful.set_xlim(0, 100)
    useful.set_title("Found the content useful (%)")
    useful.set_yticks(positions, labels)
    useful.invert_yaxis()

    filed = [row.suggestions.filed for row in rows]
    answered = [row.suggestions.answered for row in rows]
    ideas.barh(
        [p - 0.2 for p in positions], filed, height=0.4, color=COLOURS["before"], label="filed"
    )
    ideas.barh(
        [p + 0.2 for p in positions], answered, height=0.4, color=COLOURS["now"], label="answered"
    )
    ideas.set_xlim(0, max([*filed, 1]) * 1.15)
    ideas.set_title("Suggestions")
    ideas.legend(loc="lower right", fontsize="small")
    for position, row in zip(positions, rows, strict=True):
        if row.suggestions.merged_into_other:
            ideas.text(0, position, " in 'other' (under 5 people)", va="center", fontsize="small")

    before = [row.sentiment_before or 0 for row in rows]
    now = [row.sentiment or 0 for row in rows]
    voice.barh(
        [p - 0.2 for p in positions], before, height=0.4, color=COLOURS["before"], label="previous"
    )
    voice.barh(
        [p + 0.2 for p in positions],
        now,
        height=0.4,
        color=[COLOURS["good"] if value >= 0 else COLOURS["bad"] for value in now],
        label="this period",
    )
    voice.axvline(0, color="#334155", linewidth=0.8)
    voice.set_xlim(-1, 1)
    voice.set_title("Customer sentiment (-1 to 1)")
    voice.legend(loc="lower right", fontsize="small")

    days = max(1, round((report.until - report.since).total_seconds() / 86_400))
    figure.suptitle(f"Objectives, last {plural(days, 'day')} (to {report.until:%d %b %Y})")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def theme_trend_chart(
    rows: Sequence[tuple[datetime, list[str] | None]], since: datetime, until: datetime
) -> bytes:
    """Customer voice per week for the five biggest themes: is a problem growing?"""
    plt = _pyplot()
    weeks = max(1, math.ceil((until - since).days / 7))
    counts: dict[str, list[int]] = {}
    for received_at, themes in rows:
        week = min(weeks - 1, max(0, (received_at - since).days // 7))
        for theme in themes or ["(no theme)"]:
            counts.setdefault(theme, [0] * weeks)[week] += 1
    top = sorted(counts.items(), key=lambda pair: -sum(pair[1]))[:5]
    figure, axes = plt.subplots(figsize=(10, 3.2))
    starts = [since + timedelta(days=7 * w) for w in range(weeks)]
    for theme, series in top:
        axes.plot(starts, series, marker="o", label=theme)
    axes.set_title("Customer voice per week, biggest themes")
    axes.set_ylabel("items")
    axes.set_ylim(bottom=0)
    if top:
        axes.legend(loc="upper left", fontsize="small")
    else:
        axes.text(
            0.5, 0.5, "No customer voice in this period", ha="center", transform=axes.transAxes
        )
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
