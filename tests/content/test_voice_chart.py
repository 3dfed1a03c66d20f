"""The console's Customer voice chart, read from the matplotlib figure it draws, at desktop and
phone width: whole counts up the side, a tick and a date at every weekly point, date labels
that never overlap, the legend outside the plot, and themes with equal counts both visible;
and whole counts on the objectives chart's Suggestions panel. (The page's <picture> picks the
narrow layout on a phone: tests/operations/test_console_browser.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import combinations, pairwise
from typing import Any

import numpy as np
import pytest
from matplotlib.dates import date2num, num2date

from bot.charts import MAX_POINTS, objectives_figure, theme_trend, theme_trend_figure
from bot.services.objectives_report import ObjectiveFigures, ObjectivesReport, SuggestionFigures

UNTIL = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)


def voice_rows(days: int) -> list[tuple[datetime, list[str] | None]]:
    """Items over ``days``: 'reporting' and 'documentation' always named together (the same
    counts every week), three other themes coming and going, one item with no theme."""
    rows: list[tuple[datetime, list[str] | None]] = []
    for day in range(days):
        received = UNTIL - timedelta(days=day, hours=3)
        rows.append((received, ["response time"] if day % 3 else ["billing"]))
        if day % 4 == 0:
            rows.append((received, ["reporting", "documentation"]))
        if day % 5 == 1:
            rows.append((received, ["onboarding and the first week with a named contact"]))
    rows.append((UNTIL - timedelta(hours=1), None))
    return rows


@pytest.fixture
def figures() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    import matplotlib.pyplot as plt

    for figure in made:
        plt.close(figure)


def drawn(figure: Any) -> Any:
    """Lays the figure out as its PNG would be (constrained layout runs on drawing)."""
    figure.canvas.draw()
    return figure.canvas.get_renderer()


def plot_and_labels(axes: Any, renderer: Any) -> list[Any]:
    """The plot area and every piece of text around it that a legend must not cover."""
    texts = [*axes.get_xticklabels(), *axes.get_yticklabels()]
    texts += [axes.xaxis.label, axes.yaxis.label, axes.title]
    boxes = [text.get_window_extent(renderer) for text in texts if text.get_text().strip()]
    return [axes.get_window_extent(renderer), *boxes]


@pytest.mark.parametrize("narrow", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("days", [7, 30, 90, 365, 730, 36500])
def test_the_voice_chart_counts_whole_items_at_dated_weekly_points_with_the_legend_outside(
    figures: list[Any], days: int, narrow: bool
) -> None:
    trend = theme_trend(voice_rows(days), UNTIL - timedelta(days=days), UNTIL)
    figure = theme_trend_figure(trend, narrow=narrow)
    figures.append(figure)
    renderer = drawn(figure)
    [axes] = figure.axes

    bottom, top = axes.get_ylim()
    counts = [tick for tick in axes.get_yticks() if bottom <= tick <= top]
    assert len(counts) >= 2 and all(tick == round(tick) for tick in counts), counts

    points = list(date2num(trend.ends))
    weekly = days <= 7 * MAX_POINTS  # a point a week; over longer periods, a point a few weeks
    assert trend.days_per_point == 7 if weekly else trend.days_per_point % 7 == 0
    assert len(points) == days // trend.days_per_point <= MAX_POINTS
    assert axes.get_xlabel() == f"{trend.days_per_point} days to"
    assert ("per week" in axes.get_title()) == weekly
    ticks = sorted([*axes.xaxis.get_majorticklocs(), *axes.xaxis.get_minorticklocs()])
    assert ticks == pytest.approx(points)  # a tick at each weekly point, none between
    for line in axes.get_lines():
        assert list(date2num(line.get_xdata())) == pytest.approx(points)

    labels = [label for label in axes.get_xticklabels() if label.get_text()]
    assert labels[-1].get_position()[0] == pytest.approx(points[-1])  # the newest is dated
    year = None
    for label in labels:  # "Dec 6", and the year under the first and where it changes
        when = num2date(label.get_position()[0])
        # English as Babel writes it ("Dec 6"): the chart speaks the reader's language.
        expected = f"{when:%b} {when.day}" + (f"\n{when.year}" if when.year != year else "")
        assert label.get_text() == expected and label.get_rotation() == 0
        year = when.year
    boxes = [label.get_window_extent(renderer) for label in labels]
    for left, right in pairwise(boxes):
        assert left.x1 < right.x0, [label.get_text() for label in labels]  # side by side
    width = figure.get_size_inches()[0] * figure.dpi
    assert all(box.x0 >= 0 and box.x1 <= width for box in boxes)

    [legend] = [*figure.legends, *filter(None, [axes.get_legend()])]
    where = legend.get_window_extent(renderer)
    for box in plot_and_labels(axes, renderer):
        assert not where.overlaps(box), (where, box)
    assert where.x0 >= 0 and where.y0 >= 0 and where.x1 <= width
    assert (width < 500) if narrow else (width > 900)


@pytest.mark.parametrize("narrow", [False, True], ids=["desktop", "phone"])
def test_themes_with_the_same_counts_are_both_visible(figures: list[Any], narrow: bool) -> None:
    """'reporting' was drawn exactly under 'documentation' when their counts were equal: the
    same circle, the same solid line, one of them nowhere to be seen."""
    trend = theme_trend(voice_rows(30), UNTIL - timedelta(days=30), UNTIL)
    series = dict(trend.counts)
    assert series["reporting"] == series["documentation"]  # the case to draw
    figure = theme_trend_figure(trend, narrow=narrow)
    figures.append(figure)
    drawn(figure)
    [axes] = figure.axes
    lines = axes.get_lines()
    for (theme, _), line in zip(trend.counts, lines, strict=True):
        assert line.get_label().split() == theme.split()  # wrapped onto lines, never cut
    for one, other in combinations(lines, 2):
        assert (one.get_color(), one.get_marker(), one.get_linestyle()) != (
            other.get_color(),
            other.get_marker(),
            other.get_linestyle(),
        )
        assert not np.allclose(on_screen(one), on_screen(other), atol=1.0), (
            one.get_label(),
            other.get_label(),
        )
    # Drawn later means drawn on top: each line is no wider than those beneath it.
    for below, above in pairwise(lines):
        assert above.get_linewidth() <= below.get_linewidth()


def on_screen(line: Any) -> Any:
    """Where the line's points land in the picture, in pixels."""
    points = np.column_stack([date2num(line.get_xdata()), line.get_ydata()])
    return line.get_transform().transform(points)


def test_the_newest_point_is_a_whole_week_so_a_quiet_weekend_is_not_a_fall(
    figures: list[Any],
) -> None:
    """Weeks used to be counted from the start of the period: over 30 days the newest point
    held two days and every theme seemed to collapse. Now each point is the 7 days to its date,
    counted back from today; one item a day is 7 at every point."""
    rows: list[tuple[datetime, list[str] | None]] = [
        (UNTIL - timedelta(days=day, hours=1), ["billing"]) for day in range(30)
    ]
    trend = theme_trend(rows, UNTIL - timedelta(days=30), UNTIL)
    assert trend.ends[-1] == UNTIL and trend.days_per_point == 7
    figure = theme_trend_figure(trend)
    figures.append(figure)
    [line] = figure.axes[0].get_lines()
    assert list(line.get_ydata()) == [7, 7, 7, 7]
    assert figure.axes[0].get_xlabel() == "7 days to"


def test_an_empty_period_says_so_with_whole_counts_and_no_legend(figures: list[Any]) -> None:
    trend = theme_trend([], UNTIL - timedelta(days=30), UNTIL)
    figure = theme_trend_figure(trend, narrow=True)
    figures.append(figure)
    drawn(figure)
    [axes] = figure.axes
    assert "No customer voice in this period" in [text.get_text() for text in axes.texts]
    bottom, top = axes.get_ylim()
    assert [tick for tick in axes.get_yticks() if bottom <= tick <= top] == [0, 1]
    assert not figure.legends and axes.get_legend() is None


@pytest.mark.parametrize("narrow", [False, True], ids=["desktop", "phone"])
def test_the_objectives_charts_suggestions_are_counted_whole(
    figures: list[Any], narrow: bool
) -> None:
    """The chart sent to chat with /report: with every idea merged into 'other' (teams under
    five people) its Suggestions panel counted 0.2, 0.4... ideas."""
    quiet = SuggestionFigures(merged_into_other=True)
    rows = [ObjectiveFigures("o1", "Reply within the hour", None, None, None, suggestions=quiet)]
    report = ObjectivesReport(UNTIL - timedelta(days=30), UNTIL, rows, SuggestionFigures(filed=6))
    figure = objectives_figure(report, narrow=narrow)
    figures.append(figure)
    drawn(figure)
    [ideas] = [axes for axes in figure.axes if axes.get_title() == "Suggestions"]
    left, right = ideas.get_xlim()
    counts = [tick for tick in ideas.get_xticks() if left <= tick <= right]
    assert len(counts) >= 2 and all(tick == round(tick) for tick in counts), counts
