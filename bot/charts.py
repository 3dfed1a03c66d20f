"""Charts people would rather look at than read: the objectives report as a PNG.

matplotlib draws off-screen (the Agg backend, no display needed); the figure is small enough for
a Slack or Teams card and readable on a phone. It is imported on the first chart, not with the
module: with numpy and Pillow it added about 40 MiB to an idle server and 0.85 s to every
``advocacy`` command (benchmarks/fanout.py).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from bot.compose.text import plural
from bot.services.objectives_report import ObjectivesReport
from bot.text_safety import in_written_order

COLOURS = {
    "now": "#2563eb",
    "before": "#94a3b8",
    "filed": "#93c5fd",
    "good": "#16a34a",
    "bad": "#dc2626",
}
# Characters per line of an objective's name beside its bars: names wrap, never cut.
LABEL_WIDTH = {False: 26, True: 48}
SENTIMENT_NOTE = "Red: customers felt negative (below 0) this period; green: 0 or above."


@cache
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(text: str, narrow: bool) -> str:
    """A name as a chart shows it: in the order it was written, wrapped onto lines."""
    return "\n".join(textwrap.wrap(in_written_order(text), LABEL_WIDTH[narrow])) or " "


def _legend_below(axes: Any, narrow: bool, handles: dict[str, Any] | None = None) -> None:
    """A panel's legend under it, outside the plot, so it never covers a bar. ``handles``:
    label to artist, when the panel's own labels would not say enough."""
    axes.legend(
        *((list(handles.values()), list(handles)) if handles else ()),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14 if narrow else -0.08),
        ncol=1 if handles else 2,
        fontsize="small",
        frameon=False,
    )


def _names_above(axes: Any, positions: list[float], labels: list[str]) -> None:
    """Each objective's name above its bars, from the panel's left edge (a phone's width has no
    room for names beside the bars)."""
    from matplotlib.transforms import blended_transform_factory

    across = blended_transform_factory(axes.transAxes, axes.transData)
    for position, label in zip(positions, labels, strict=True):
        axes.text(0.01, position - 0.45, label, transform=across, va="bottom", fontsize="small")
    axes.set_yticks([])


def objectives_chart(report: ObjectivesReport, *, narrow: bool = False) -> bytes:
    """The objectives report as a PNG (see ``objectives_figure``)."""
    return _png(_pyplot(), objectives_figure(report, narrow=narrow))


def objectives_figure(report: ObjectivesReport, *, narrow: bool = False) -> Any:
    """Three panels per objective: useful share of the content, suggestions filed and answered,
    and customer sentiment this period against the previous one. ``narrow`` stacks the panels
    for a phone's width (side by side they shrink to an unreadable strip)."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    rows = report.rows
    labels = [_label(row.title, narrow) for row in rows]
    lines = max([label.count("\n") + 1 for label in labels] or [1])
    if narrow:  # each name on its own lines above its bars, the bars the full width
        step, inch = 1 + 0.4 * lines, 0.45
        panel = inch * step * max(2, len(rows)) + 1.1
        size = (4.4, 3 * panel + 0.6)
    else:  # names beside the bars, wrapped
        step, inch = 1.0, max(0.6, 0.22 * lines + 0.2)
        panel = inch * max(3, len(rows)) + 1.2
        size = (12, panel + 1)
    figure, (useful, ideas, voice) = plt.subplots(
        3 if narrow else 1, 1 if narrow else 3, figsize=size, sharey=True, layout="constrained"
    )
    positions = [step * index for index in range(len(rows))]
    useful.barh(positions, [100 * (row.useful_share or 0) for row in rows], color=COLOURS["now"])
    useful.set_xlim(0, 100)
    useful.set_title("Found the content useful (%)")
    if narrow:
        for axes in (useful, ideas, voice):
            _names_above(axes, positions, labels)
        useful.set_ylim(positions[-1] + 0.5 if rows else 0.5, -0.5 - 0.4 * lines)
    else:
        useful.set_yticks(positions, labels)
        useful.invert_yaxis()

    filed = [row.suggestions.filed for row in rows]
    answered = [row.suggestions.answered for row in rows]
    ideas.barh(
        [p - 0.2 for p in positions], filed, height=0.4, color=COLOURS["filed"], label="filed"
    )
    ideas.barh(
        [p + 0.2 for p in positions], answered, height=0.4, color=COLOURS["now"], label="answered"
    )
    ideas.set_xlim(0, max([*filed, 1]) * 1.15)
    ideas.set_title("Suggestions")
    _legend_below(ideas, narrow)
    for position, row in zip(positions, rows, strict=True):
        if row.suggestions.merged_into_other:
            ideas.text(0, position, " in 'other' (under 5 people)", va="center", fontsize="small")

    before = [row.sentiment_before or 0 for row in rows]
    now = [row.sentiment or 0 for row in rows]
    voice.barh([p - 0.2 for p in positions], before, height=0.4, color=COLOURS["before"])
    voice.barh(
        [p + 0.2 for p in positions],
        now,
        height=0.4,
        color=[COLOURS["good"] if value >= 0 else COLOURS["bad"] for value in now],
    )
    voice.axvline(0, color="#334155", linewidth=0.8)
    voice.set_xlim(-1, 1)
    voice.set_title("Customer sentiment (-1 to 1)")
    _legend_below(
        voice,
        narrow,
        {
            "previous period": Patch(color=COLOURS["before"]),
            "this period, 0 or above": Patch(color=COLOURS["good"]),
            "this period, negative": Patch(color=COLOURS["bad"]),
        },
    )

    days = max(1, round((report.until - report.since).total_seconds() / 86_400))
    figure.suptitle(f"Objectives, last {plural(days, 'day')} (to {report.until:%d %b %Y})")
    return figure


def _png(plt: Any, figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def theme_trend_chart(
    rows: Sequence[tuple[datetime, list[str] | None]],
    since: datetime,
    until: datetime,
    *,
    narrow: bool = False,
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
    figure, axes = plt.subplots(figsize=(4.4, 4.6) if narrow else (10, 3.6), layout="constrained")
    starts = [since + timedelta(days=7 * w) for w in range(weeks)]
    for theme, series in top:
        axes.plot(starts, series, marker="o", label=_label(theme, narrow))
    axes.set_title("Customer voice per week, biggest themes")
    axes.set_ylabel("items")
    axes.set_ylim(bottom=0)
    if top:
        if narrow:
            _legend_below(axes, narrow)
        else:  # beside the plot, never over a line
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    else:
        axes.text(
            0.5, 0.5, "No customer voice in this period", ha="center", transform=axes.transAxes
        )
    figure.autofmt_xdate()
    return _png(plt, figure)
