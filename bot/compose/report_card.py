"""The objectives report as a chat card: one card per objective, the chart on top."""

from __future__ import annotations

from bot.compose.text import plural
from bot.compose.theme_watch import theme_watch_card
from bot.messages import Card, Fact, Message
from bot.services.objectives_report import ObjectiveFigures, ObjectivesReport


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


def objectives_report_message(report: ObjectivesReport, chart_url: str | None) -> Message:
    days = round((report.until - report.since).total_seconds() / 86_400)
    title = f"Objectives, last {plural(days, 'day')}"
    header = Card(
        title=title,
        text="What the bot did for each business objective and what came back: not likes, but "
        "whether people found the content useful, how customers feel, and whether ideas got "
        "answered.",
        image_url=chart_url,
        image_alt="Useful share, suggestions filed and answered, and customer sentiment per "
        "objective",
    )
    cards = [
        Card(
            title=row.title,
            facts=(
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
            ),
        )
        for row in report.rows
    ]
    watch = theme_watch_card(report.watched_themes)
    if watch is not None:
        cards.append(watch)
    fallback = f"{title}: " + "; ".join(
        f"{row.title}: {_percent(row.useful_share)} found it useful" for row in report.rows
    )
    return Message(fallback=fallback, cards=(header, *cards), kind="report")
