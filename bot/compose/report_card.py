"""The objectives report as a chat card: the KPI chart on top, one card per objective (its KPI
first), and the chart of content, ideas and sentiment last."""

from __future__ import annotations

from datetime import datetime

from bot.compose.kpi_text import kpi_distance, kpi_trend, kpi_value, reading_day
from bot.compose.text import plural
from bot.compose.theme_watch import theme_watch_card
from bot.messages import Card, Fact, Message
from bot.services.objectives_report import ObjectiveFigures, ObjectivesReport
from bot.services.promise_figures import PromiseFigures


def _percent(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "no answers yet"


def _sentiment(row: ObjectiveFigures) -> str:
    if row.sentiment is None:
        return "no customer voice"
    trend = row.sentiment_trend
    arrow = "" if trend is None else (" ↑" if trend > 0.05 else " ↓" if trend < -0.05 else " →")
    return f"{row.sentiment:+.2f}{arrow}"


def _ideas(row: ObjectiveFigures) -> str:
    s = row.suggestions
    if s.merged_into_other:
        return "counted with other small groups (fewer than 5 people)"
    median = (
        f"; first answer in {s.median_days_to_answer} days (median)"
        if s.median_days_to_answer
        else ""
    )
    return f"{s.filed} filed, {s.answered} answered, {s.accepted} accepted, {s.done} done{median}"


def promise_summary(p: PromiseFigures) -> str:
    """'4 decisions with a KPI made in the period; 2 reviews answered in it: 50% moved it the
    expected way, 100% helped; 1 review overdue now'. Each count has its own date (a decision
    made last quarter can be reviewed this month), so each says which it is."""
    parts = [plural(p.decisions, "decision") + " with a KPI made in the period"]
    if p.answered:
        helped = f"{p.helped_share:.0%}" if p.helped_share is not None else "–"
        moved = (
            f"{p.moved_share:.0%} moved it the expected way"
            if p.moved_share is not None
            else "too few readings to say which way it moved"
        )
        parts.append(f"{plural(p.answered, 'review')} answered in it: {moved}, {helped} helped")
    else:
        parts.append("no review answered in it")
    if p.overdue:
        parts.append(plural(p.overdue, "review") + " overdue now")
    return "; ".join(parts)


def _latest(row: ObjectiveFigures, since: datetime) -> str:
    k = row.kpi_figures
    if k.latest_on is None:
        return "no readings yet"
    return f"{kpi_value(k.latest, k.unit)} on {reading_day(k.latest_on, since)}"


def _meanwhile(row: ObjectiveFigures) -> str:
    """What might have moved the KPI in the period: ideas done, content sent, sentiment."""
    timeline = row.timeline
    parts = []
    if timeline.ideas_withheld:
        parts.append("ideas done counted with other small groups")
    elif timeline.ideas_done:
        done = ", ".join(f"#{e.suggestion_id} on {e.day:%d %b}" for e in timeline.ideas_done)
        parts.append(f"{plural(len(timeline.ideas_done), 'idea')} done ({done})")
    if timeline.content_sent:
        parts.append(f"content sent on {plural(len(timeline.content_sent), 'day')}")
    weeks = timeline.sentiment
    if len(weeks) > 1:
        parts.append(f"weekly sentiment {weeks[0].mean:+.2f} → {weeks[-1].mean:+.2f}")
    elif weeks:
        parts.append(f"sentiment {weeks[0].mean:+.2f}")
    return "; ".join(parts) or "no ideas done, content or customer voice"


def _kpi_facts(row: ObjectiveFigures, since: datetime) -> tuple[Fact, ...]:
    k = row.kpi_figures
    if k.latest_on is None and k.target_value is None:
        return ()
    return (
        Fact("KPI", _latest(row, since)),
        Fact("Trend", kpi_trend(k.trend, k.change, k.unit)),
        Fact("Target", kpi_distance(k.met, k.to_go, k.target_value, k.unit)),
        Fact("Meanwhile", _meanwhile(row)),
    )


def objectives_report_message(
    report: ObjectivesReport, chart_url: str | None, activity_chart_url: str | None = None
) -> Message:
    """``chart_url``: the KPI chart; ``activity_chart_url``: content, ideas and sentiment."""
    days = round((report.until - report.since).total_seconds() / 86_400)
    title = f"Objectives, last {plural(days, 'day')}"
    header = Card(
        title=title,
        text="Whether each business objective's KPI moves the right way and reaches its target, "
        "and what the bot did for it meanwhile: not likes, but ideas done, content people found "
        "useful, and how customers feel.",
        image_url=chart_url,
        image_alt="Each KPI over the period with its target, the days ideas were done and "
        "content was sent, and customers' weekly sentiment",
        facts=(Fact("Promises (all objectives)", promise_summary(report.promises)),),
    )
    cards = [
        Card(
            title=row.title,
            facts=(
                *_kpi_facts(row, report.since),
                Fact("Owner", row.owner or "nobody yet"),
                Fact(
                    "Content",
                    f"{plural(row.items_sent, 'item')} to "
                    f"{plural(row.reached, 'person', 'people')}",
                ),
                Fact("Found it useful", f"{_percent(row.useful_share)} ({row.found_useful})"),
                Fact("Shares / tracked clicks", f"{row.shares} / {row.clicks}"),
                Fact("Customer voice", f"{row.voice} ({row.voice - row.voice_before:+d})"),
                Fact("Customer sentiment", _sentiment(row)),
                Fact("Ideas", _ideas(row)),
                Fact("Promises", promise_summary(row.promises)),
            ),
        )
        for row in report.rows
    ]
    if activity_chart_url:
        cards.append(
            Card(
                title="Content, ideas and customer sentiment",
                image_url=activity_chart_url,
                image_alt="Useful share, suggestions filed and answered, and customer sentiment "
                "per objective",
            )
        )
    watch = theme_watch_card(report.watched_themes)
    if watch is not None:
        cards.append(watch)
    fallback = f"{title}: " + "; ".join(
        f"{row.title}: {_latest(row, report.since)}, "
        f"{_percent(row.useful_share)} found the content useful"
        for row in report.rows
    )
    return Message(fallback=fallback, cards=(header, *cards), kind="report")
