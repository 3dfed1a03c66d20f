"""Charts people would rather look at than read: the objectives report and the customer-voice
trend as PNGs.

matplotlib draws off-screen (the Agg backend, no display needed); the figure is small enough for
a Slack or Teams card and readable on a phone. It is imported on the first chart, not with the
module: with numpy and Pillow it added about 40 MiB to an idle server and 0.85 s to every
``advocacy`` command (benchmarks/fanout.py).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from bot.compose.kpi_text import kpi_distance, kpi_number, kpi_trend, kpi_value, reading_day
from bot.compose.text import day_month
from bot.i18n import N_, _, current_locale, ngettext, speaking
from bot.i18n.formats import format_date, format_number
from bot.services.objectives_report import ObjectiveFigures, ObjectivesReport
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
SENTIMENT_NOTE = N_("Red: customers felt negative (below 0) this period; green: 0 or above.")
# Fonts that draw Japanese, the first one installed is used (after DejaVu Sans, for the glyphs
# it lacks). Without one, a chart for a Japanese reader is drawn in English: matplotlib would draw
# its Japanese words as empty boxes. The Docker image may add fonts-noto-cjk.
CJK_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
    "Hiragino Sans",
    "Yu Gothic",
    "MS Gothic",
    "Droid Sans Fallback",
    "WenQuanYi Zen Hei",
)
NEEDS_CJK = ("ja",)


@cache
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    if font is not None:  # once, for every chart: threads drawing at once share rcParams
        plt.rcParams["font.family"] = ["DejaVu Sans", font]
    return plt


@cache
def cjk_font() -> str | None:
    """The installed font that draws Japanese, if any."""
    from matplotlib import font_manager

    found = _first_cjk(font_manager.fontManager.ttflist)
    if found is None:
        # matplotlib lists the system's fonts once, in a cache, the first time it runs: a font
        # installed since (apt-get install fonts-noto-cjk) is added here, or never seen.
        known = {font.fname for font in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                with suppress(Exception):  # a font file matplotlib cannot read
                    font_manager.fontManager.addfont(path)
        found = _first_cjk(font_manager.fontManager.ttflist)
    return found


def _first_cjk(fonts: Any) -> str | None:
    installed = {font.name for font in fonts}
    return next((name for name in CJK_FONTS if name in installed), None)


@contextmanager
def chart_language() -> Iterator[str]:
    """Draw in the language being spoken where its glyphs can be drawn, else in English (with a
    CJK font installed, ``_pyplot`` adds it after DejaVu Sans for the glyphs that one lacks)."""
    locale = current_locale()
    if locale in NEEDS_CJK and cjk_font() is None:
        locale = "en"
    with speaking(locale):
        yield locale


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
    with chart_language():
        return _png(_pyplot(), objectives_figure(report, narrow=narrow))


def objectives_figure(report: ObjectivesReport, *, narrow: bool = False) -> Any:
    """Three panels per objective: useful share of the content, suggestions filed and answered,
    and customer sentiment this period against the previous one. ``narrow`` stacks the panels
    for a phone's width (side by side they shrink to an unreadable strip)."""
    plt = _pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

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
    useful.set_title(_("Found the content useful (%)"))
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
        [p - 0.2 for p in positions],
        filed,
        height=0.4,
        color=COLOURS["filed"],
        # Translators: a chart's legend: suggestions filed (and answered).
        label=_("filed"),
    )
    ideas.barh(
        [p + 0.2 for p in positions],
        answered,
        height=0.4,
        color=COLOURS["now"],
        # Translators: a chart's legend: suggestions answered.
        label=_("answered"),
    )
    ideas.set_xlim(0, max([*filed, 1]) * 1.15)
    ideas.xaxis.set_major_locator(MaxNLocator(integer=True))  # ideas are counted whole
    ideas.set_title(_("Suggestions"))
    _legend_below(ideas, narrow)
    for position, row in zip(positions, rows, strict=True):
        if row.suggestions.merged_into_other:
            ideas.text(
                0,
                position,
                " " + _("in 'other' (under 5 people)"),
                va="center",
                fontsize="small",
            )

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
    voice.set_title(_("Customer sentiment (-1 to 1)"))
    _legend_below(
        voice,
        narrow,
        {
            _("previous period"): Patch(color=COLOURS["before"]),
            _("this period, 0 or above"): Patch(color=COLOURS["good"]),
            _("this period, negative"): Patch(color=COLOURS["bad"]),
        },
    )

    days = max(1, round((report.until - report.since).total_seconds() / 86_400))
    figure.suptitle(
        ngettext(
            "Objectives, last {count} day (to {date})",
            "Objectives, last {count} days (to {date})",
            days,
        ).format(count=format_number(days), date=format_date(report.until))
    )
    return figure


# The KPI chart's colours: the KPI dark blue, its target and the side of it that meets it green,
# ideas done orange, content sent purple (Okabe-Ito-like, told apart with colour blindness; each
# also has its own line style or marker shape).
KPI_COLOURS = {
    "kpi": "#1d4ed8",
    "target": "#15803d",
    "met_zone": "#bbf7d0",
    "idea": "#d55e00",
    "content": "#7c3aed",
    "good": "#16a34a",
    "bad": "#dc2626",
}
# Inches: one objective's KPI panel (shorter while it has no readings) and the sentiment strip
# under it.
KPI_PANEL = {False: 2.3, True: 2.1}
EMPTY_PANEL = 0.8
SENTIMENT_STRIP = 0.6
# Characters per line of a KPI panel's title and headline (they wrap, never cut).
KPI_TITLE_WIDTH = {False: 90, True: 42}
LABEL_BOX = {"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1}
# Stars of ideas done closer than this share of the period share a label (desktop, phone).
STAR_LABEL_SPAN = {False: 0.06, True: 0.15}


def kpi_chart(report: ObjectivesReport, *, narrow: bool = False) -> bytes:
    """Each KPI over the report's period as a PNG (see ``kpi_figure``)."""
    with chart_language():
        return _png(_pyplot(), kpi_figure(report, narrow=narrow))


def kpi_headline(row: ObjectiveFigures, since: datetime, width: int = 200) -> str:
    """What a manager reads first: "52 minutes · better (−22 minutes) · met (target 60
    minutes)", its parts kept whole on lines of at most ``width`` characters (a part longer
    than a line is wrapped, not cut off at a phone's edge)."""
    k = row.kpi_figures
    if k.latest is None:
        return _("No readings yet")
    latest = kpi_value(k.latest, k.unit)
    if k.latest_on is not None and k.latest_on < since:  # no reading in the period
        latest += f" ({reading_day(k.latest_on, since)})"
    parts = (
        latest,
        kpi_trend(k.trend, k.change, k.unit),
        kpi_distance(k.met, k.to_go, k.target_value, k.unit),
    )
    lines: list[str] = []
    for part in parts:
        joined = f"{lines[-1]} · {part}" if lines else part
        if lines and len(joined) <= width:
            lines[-1] = joined
        else:
            lines.extend(textwrap.wrap(part, width) or [part])
    return "\n".join(lines)


def kpi_figure(report: ObjectivesReport, *, narrow: bool = False) -> Any:
    """Is each KPI where it should be, and what happened meanwhile? Per objective, on one time
    axis: the KPI's readings as a line, its target as a dashed line with the side that meets it
    shaded, a dotted line on each day an idea about it was done, a triangle on each day content
    for it went out, and under it customers' weekly sentiment as small bars (green 0 or above,
    red below). ``narrow``: a phone's width."""
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    # An objective with no reading in the period gets no panel, only its name in the title: a
    # database upgraded with a dozen unmeasured objectives would otherwise draw a page of blanks.
    every = report.rows or []
    rows = [row for row in every if row.timeline.readings]
    unmeasured = [row.title for row in every if not row.timeline.readings]
    count = max(1, len(rows))
    panels = [KPI_PANEL[narrow] for _ in rows] or [EMPTY_PANEL]
    size = (4.4 if narrow else 10, sum(panels) + count * (SENTIMENT_STRIP + 0.8) + 1.3)
    figure = plt.figure(figsize=size, layout="constrained")
    days = max(1, round((report.until - report.since).total_seconds() / 86_400))
    title = ngettext(
        "KPIs, last {count} day (to {date})", "KPIs, last {count} days (to {date})", days
    ).format(count=format_number(days), date=format_date(report.until))
    if unmeasured and rows:
        note = _("No reading in the period: {objectives}").format(
            objectives=", ".join(in_written_order(t) for t in unmeasured)
        )
        title += "\n" + "\n".join(textwrap.wrap(note, KPI_TITLE_WIDTH[narrow]))
    figure.suptitle(title)
    if not rows:
        figure.text(
            0.5,
            0.5,
            _("No KPI readings in this period yet:\nadvocacy objectives record KEY VALUE")
            if every
            else _("No objectives yet"),
            ha="center",
            va="center",
        )
        return figure
    grid = figure.add_gridspec(
        2 * count,
        1,
        height_ratios=[size for panel in panels for size in (panel, SENTIMENT_STRIP)],
    )
    for index, row in enumerate(rows):
        kpi_axes = figure.add_subplot(grid[2 * index])
        mood = figure.add_subplot(grid[2 * index + 1], sharex=kpi_axes)
        _kpi_panel(kpi_axes, row, report, narrow)
        _sentiment_strip(mood, row, narrow)
    handles = {
        _("KPI"): Line2D([], [], color=KPI_COLOURS["kpi"], marker="o", linewidth=2),
        # Translators: a chart's legend: the KPI's target line.
        _("target"): Line2D([], [], color=KPI_COLOURS["target"], linestyle="--"),
        _("meets the target"): Patch(color=KPI_COLOURS["met_zone"]),
        _("idea done"): Line2D(
            [], [], color=KPI_COLOURS["idea"], linestyle=":", marker="*", markersize=9
        ),
        _("content sent"): Line2D(
            [], [], color=KPI_COLOURS["content"], linestyle="", marker="^", markersize=7
        ),
        _("customer sentiment (weekly)"): Patch(color=KPI_COLOURS["good"]),
    }
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncols=2 if narrow else 3,
        fontsize="small",
        frameon=False,
    )
    return figure


def _kpi_panel(axes: Any, row: ObjectiveFigures, report: ObjectivesReport, narrow: bool) -> None:
    from matplotlib.dates import date2num
    from matplotlib.ticker import FuncFormatter
    from matplotlib.transforms import blended_transform_factory

    k = row.kpi_figures
    timeline = row.timeline
    width = KPI_TITLE_WIDTH[narrow]
    name = "\n".join(textwrap.wrap(in_written_order(row.title), width)) or " "
    axes.set_title(
        name + "\n" + in_written_order(kpi_headline(row, report.since, width)),
        loc="left",
        fontsize="medium",
    )
    values = [point.value for point in timeline.readings]
    if k.target_value is not None:
        values.append(k.target_value)
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.15 or max(1.0, abs(high) * 0.1)
    low, high = low - pad, high + pad
    axes.set_ylim(low, high)
    axes.set_xlim(date2num(report.since), date2num(report.until))
    if k.target_value is not None:
        axes.axhline(k.target_value, color=KPI_COLOURS["target"], linestyle="--", linewidth=1.5)
        if k.direction in ("lower", "higher"):
            edge = low if k.direction == "lower" else high
            axes.axhspan(k.target_value, edge, color=KPI_COLOURS["met_zone"], alpha=0.5, lw=0)
        axes.text(  # at the left: the newest reading is labelled at the right
            0.01,
            k.target_value,
            _("target {target}").format(target=in_written_order(kpi_value(k.target_value, k.unit))),
            transform=blended_transform_factory(axes.transAxes, axes.transData),
            ha="left",
            va="bottom",
            fontsize="small",
            color=KPI_COLOURS["target"],
            bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1},
        )
    if timeline.readings:
        days = [date2num(point.day) for point in timeline.readings]
        axes.plot(
            days,
            [point.value for point in timeline.readings],
            color=KPI_COLOURS["kpi"],
            marker="o",
            markersize=3.5 if len(days) > 20 else 5,
            linewidth=2,
            clip_on=True,
            zorder=3,
        )
        newest = timeline.readings[-1].value
        # High up, the label goes under the point: the ideas' stars are along the top.
        under = (newest - low) / (high - low) > 0.7
        axes.annotate(
            in_written_order(kpi_value(newest, k.unit)),
            (days[-1], newest),
            xytext=(-4, -14 if under else 6),
            textcoords="offset points",
            ha="right",
            fontsize="small",
            fontweight="bold",
            color=KPI_COLOURS["kpi"],
            bbox=LABEL_BOX,  # over the line it labels, still legible
        )
    else:
        axes.text(
            0.5,
            0.5,
            _("No readings yet"),
            ha="center",
            va="center",
            transform=axes.transAxes,
            color="#475569",
            bbox=LABEL_BOX,  # not struck through by the target's line
        )
    top = blended_transform_factory(axes.transData, axes.transAxes)
    by_day: dict[datetime, list[int]] = {}
    for event in timeline.ideas_done:
        by_day.setdefault(event.day, []).append(event.suggestion_id)
    span = date2num(report.until) - date2num(report.since)
    for group in _star_groups(sorted(by_day.items()), span * STAR_LABEL_SPAN[narrow]):
        xs = [date2num(day) for day, _ in group]
        for x in xs:
            axes.axvline(x, color=KPI_COLOURS["idea"], linestyle=":", linewidth=1.5)
        axes.plot(
            xs,
            [0.93] * len(xs),
            transform=top,
            linestyle="",
            marker="*",
            markersize=10,
            color=KPI_COLOURS["idea"],
            clip_on=False,
            zorder=4,
        )
        # Near the right edge the label goes to the stars' left, so it is never cut off.
        late = xs[-1] > date2num(report.since) + 0.8 * span
        ids = [i for _, day_ids in group for i in day_ids]
        names = " ".join(f"#{i}" for i in ids[:2]) + (f" +{len(ids) - 2}" if len(ids) > 2 else "")
        axes.text(
            xs[0] if late else xs[-1],
            0.93,
            f"{names} " if late else f" {names}",
            transform=top,
            ha="right" if late else "left",
            va="center",
            fontsize="x-small",
            color=KPI_COLOURS["idea"],
        )
    if timeline.content_sent:
        axes.plot(
            [date2num(event.day) for event in timeline.content_sent],
            [0.05] * len(timeline.content_sent),
            transform=top,
            linestyle="",
            marker="^",
            markersize=7,
            color=KPI_COLOURS["content"],
            clip_on=False,
            zorder=4,
        )
    if timeline.ideas_withheld:
        axes.text(
            0.99,
            0.97,
            _("ideas done: not shown (fewer than 5 people)"),
            transform=axes.transAxes,
            ha="right",
            va="top",
            fontsize="x-small",
            color="#475569",
            bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1},
        )
    axes.set_ylabel(in_written_order(k.unit or _("value")), fontsize="small")
    # 1,500,000 rather than 1.5 under a "1e6" a manager has to decode.
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: kpi_number(value)))
    axes.tick_params(labelbottom=False, labelsize="small")
    axes.grid(axis="y", color="#e2e8f0", linewidth=0.8)


def _star_groups(
    days: list[tuple[datetime, list[int]]], gap: float
) -> list[list[tuple[datetime, list[int]]]]:
    """Days of ideas done, grouped where they stand closer than ``gap`` (in days) to the day
    before: a group gets one label, so labels never run into the next stars."""
    from matplotlib.dates import date2num

    groups: list[list[tuple[datetime, list[int]]]] = []
    for day, ids in days:
        if groups and date2num(day) - date2num(groups[-1][-1][0]) < gap:
            groups[-1].append((day, ids))
        else:
            groups.append([(day, ids)])
    return groups


def _sentiment_strip(axes: Any, row: ObjectiveFigures, narrow: bool) -> None:
    from matplotlib.dates import AutoDateLocator, date2num, num2date
    from matplotlib.ticker import FuncFormatter

    weeks = row.timeline.sentiment
    if weeks:
        axes.bar(
            [date2num(week.end) - 3.5 for week in weeks],
            [week.mean for week in weeks],
            width=6,
            color=[KPI_COLOURS["good"] if w.mean >= 0 else KPI_COLOURS["bad"] for w in weeks],
        )
    else:
        axes.text(
            0.5,
            0.5,
            _("no customer voice"),
            ha="center",
            va="center",
            transform=axes.transAxes,
            fontsize="x-small",
            color="#475569",
        )
    axes.axhline(0, color="#334155", linewidth=0.6)
    axes.set_ylim(-1, 1)
    axes.set_yticks([-1, 0, 1])
    axes.set_ylabel(_("sentiment"), fontsize="x-small")
    locator = AutoDateLocator(minticks=2, maxticks=4 if narrow else 8)
    axes.xaxis.set_major_locator(locator)
    # Day and month in the reader's language ("Dec 6" / "6. Dez." / "12月6日"); drawn at savefig,
    # inside the chart's language.
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _at: day_month(num2date(value))))
    axes.tick_params(labelsize="x-small")


def _png(plt: Any, figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


# One look per theme, by rank: a colour (Okabe-Ito, told apart with colour blindness), a marker
# and a dash pattern of its own, each line a little thinner than the ones drawn before it and
# lifted a point or two above or below its true place (OFFSET_POINTS), so where two themes have
# the same counts both show side by side, never one hidden under the other.
THEME_STYLES = (
    {"color": "#0072B2", "marker": "o", "linestyle": "-", "linewidth": 2.8, "markersize": 11},
    {"color": "#E69F00", "marker": "s", "linestyle": "--", "linewidth": 2.4, "markersize": 8.5},
    {"color": "#009E73", "marker": "^", "linestyle": "-.", "linewidth": 2.0, "markersize": 8.5},
    # A diamond reaches 1.4 times its size: this one fits inside the triangle's corners.
    {"color": "#CC79A7", "marker": "D", "linestyle": ":", "linewidth": 2.0, "markersize": 4.5},
    {"color": "#000000", "marker": "P", "linestyle": "-", "linewidth": 1.2, "markersize": 5},
)
# Screen points between neighbouring themes' lines (a fraction of one item's height on the axis).
OFFSET_POINTS = 1.5
# Date labels that fit side by side, unrotated: more points than this and every second (third...)
# is labelled, counted back from the newest; every point keeps its tick.
MAX_DATE_LABELS = {False: 12, True: 5}
# More points than this and lines and markers are drawn finer (the same order, thickest first).
DENSE_POINTS = 16
# At most this many points: a longer period counts 2, 3... weeks a point (a point a week for a
# year; 5,214 weekly points over 100 years are one smudge).
MAX_POINTS = 60
# Characters per line of a theme's name in the legend (two columns under a phone-width chart).
LEGEND_WIDTH = {False: 22, True: 20}


@dataclass(frozen=True)
class ThemeTrend:
    """Items per theme in whole weeks counted back from ``until``: ``ends[i]`` is the last day
    of week i (oldest first), so the newest point is a full week, never a few days that look
    like a fall."""

    ends: list[datetime]
    days_per_point: int
    counts: list[tuple[str, list[int]]]  # the biggest themes first


def theme_trend(
    rows: Sequence[tuple[datetime, list[str] | None]],
    since: datetime,
    until: datetime,
    *,
    themes: int = len(THEME_STYLES),
) -> ThemeTrend:
    """The ``themes`` biggest themes' counts per week (per few weeks over years). Items older
    than the last whole week of the period are left out (a period shorter than a week is one
    point)."""
    days = max(1, (until - since).days)
    step = 7 * math.ceil(days / 7 / MAX_POINTS) if days >= 7 else days
    points = max(1, days // step)
    counts: dict[str, list[int]] = {}
    for received_at, item_themes in rows:
        back = max(0, (until - received_at).days // step)
        if back >= points:
            continue
        for theme in item_themes or [_("(no theme)")]:
            counts.setdefault(theme, [0] * points)[points - 1 - back] += 1
    top = sorted(counts.items(), key=lambda pair: -sum(pair[1]))[:themes]
    ends = [until - timedelta(days=step * back) for back in reversed(range(points))]
    return ThemeTrend(ends=ends, days_per_point=step, counts=top)


def theme_trend_chart(
    rows: Sequence[tuple[datetime, list[str] | None]],
    since: datetime,
    until: datetime,
    *,
    narrow: bool = False,
) -> bytes:
    """Customer voice per week for the five biggest themes as a PNG (see ``theme_trend_figure``)."""
    with chart_language():
        trend = theme_trend(rows, since, until)
        return _png(_pyplot(), theme_trend_figure(trend, narrow=narrow))


def theme_trend_figure(trend: ThemeTrend, *, narrow: bool = False) -> Any:
    """Is a problem growing? One line per theme, a point per week on a tick of its own, whole
    counts up the side, the legend outside the plot: beside it, or under it at a phone's width."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import ScaledTranslation

    figure, axes = plt.subplots(figsize=(4.4, 4.8) if narrow else (10, 3.6), layout="constrained")
    fine = 0.6 if len(trend.ends) > DENSE_POINTS else 1.0
    middle = (len(trend.counts) - 1) / 2
    for rank, ((theme, series), style) in enumerate(zip(trend.counts, THEME_STYLES, strict=False)):
        lift_inches = (middle - rank) * OFFSET_POINTS * fine / 72
        lift = ScaledTranslation(0, lift_inches, figure.dpi_scale_trans)
        [line] = axes.plot(
            trend.ends,
            series,
            label="\n".join(textwrap.wrap(in_written_order(theme), LEGEND_WIDTH[narrow])) or " ",
            color=style["color"],
            marker=style["marker"],
            linestyle=style["linestyle"],
            linewidth=style["linewidth"] * fine,
            markersize=style["markersize"] * fine,
            markeredgecolor="white",  # a ring between nested markers
            markeredgewidth=0.8,
            clip_on=False,  # a point at 0 shows whole, not cut by the axis
        )
        line.set_transform(axes.transData + lift)  # after plotting: the limits stay the data's
    step = trend.days_per_point
    if step == 7:
        axes.set_title(_("Customer voice per week, biggest themes"))
    else:
        axes.set_title(
            ngettext(
                "Customer voice per {count} day, biggest themes",
                "Customer voice per {count} days, biggest themes",
                step,
            ).format(count=format_number(step))
        )
    # Translators: a chart's axis: customer-voice items counted.
    axes.set_ylabel(_("items"))
    # Translators: under a chart's dates: each point counts the days up to its date.
    axes.set_xlabel(ngettext("{count} day to", "{count} days to", step).format(count=step))
    highest = max([max(series) for _, series in trend.counts] or [0])
    top = max(1, highest) * 1.08
    axes.set_ylim(-top * 0.03, top)  # a line lifted below 0 stays inside the plot
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    _date_ticks(axes, trend.ends, narrow)
    if trend.counts:
        figure.legend(
            loc="outside lower center" if narrow else "outside right upper",
            ncols=2 if narrow else 1,
            fontsize="small",
            frameon=False,
        )
    else:
        axes.text(
            0.5,
            0.5,
            _("No customer voice in this period"),
            ha="center",
            transform=axes.transAxes,
        )
    return figure


def _date_ticks(axes: Any, ends: list[datetime], narrow: bool) -> None:
    """A tick at every point, labelled with its date ("6 Dec", the year under the first label
    and where it changes), as many labels as fit side by side, the newest always labelled."""
    from matplotlib.dates import date2num
    from matplotlib.ticker import FixedLocator, NullLocator

    every = math.ceil(len(ends) / MAX_DATE_LABELS[narrow])
    labelled = ends[::-1][::every][::-1]
    labels: list[str] = []
    year: int | None = None
    for end in labelled:
        labels.append(day_month(end) + (f"\n{end.year}" if end.year != year else ""))
        year = end.year
    axes.set_xticks(date2num(labelled), labels)
    unlabelled = [end for end in ends if end not in labelled]
    axes.xaxis.set_minor_locator(
        FixedLocator(date2num(unlabelled)) if unlabelled else NullLocator()
    )
    if len(ends) == 1:  # one point: room either side, not a range of a few seconds
        axes.set_xlim(date2num(ends[0]) - 3.5, date2num(ends[0]) + 3.5)
