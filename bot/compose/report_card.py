"""The objectives report as a chat card: the KPI chart on top, one card per objective (its KPI
first), and the chart of content, ideas and sentiment last."""

from __future__ import annotations

from datetime import datetime

from bot.compose.kpi_text import kpi_distance, kpi_trend, kpi_value, reading_day
from bot.compose.text import day_month
from bot.compose.theme_watch import theme_watch_card
from bot.i18n import _, ngettext
from bot.i18n.formats import format_number, format_percent, format_signed
from bot.messages import Card, Fact, Message
from bot.services.objectives_report import ObjectiveFigures, ObjectivesReport
from bot.services.promise_figures import PromiseFigures


def _count(text: str, count: int) -> str:
    """``text`` (one of ngettext's forms for ``count``) with the count filled in."""
    return text.format(count=format_number(count))


def _percent(value: float | None) -> str:
    return format_percent(value) if value is not None else _("no answers yet")


def _sentiment(row: ObjectiveFigures) -> str:
    if row.sentiment is None:
        return _("no customer voice")
    trend = row.sentiment_trend
    arrow = "" if trend is None else (" ↑" if trend > 0.05 else " ↓" if trend < -0.05 else " →")
    return f"{format_signed(row.sentiment)}{arrow}"


def _ideas(row: ObjectiveFigures) -> str:
    s = row.suggestions
    if s.merged_into_other:
        return _("counted with other small groups (fewer than 5 people)")
    counts = {
        "filed": format_number(s.filed),
        "answered": format_number(s.answered),
        "accepted": format_number(s.accepted),
        "done": format_number(s.done),
    }
    if not s.median_days_to_answer:
        return _("{filed} filed, {answered} answered, {accepted} accepted, {done} done").format(
            **counts
        )
    return ngettext(
        "{filed} filed, {answered} answered, {accepted} accepted, {done} done; first answer in "
        "{days} day (median)",
        "{filed} filed, {answered} answered, {accepted} accepted, {done} done; first answer in "
        "{days} days (median)",
        s.median_days_to_answer,
    ).format(days=format_number(s.median_days_to_answer), **counts)


def promise_summary(p: PromiseFigures) -> str:
    """'4 decisions with a KPI made in the period; 2 reviews answered in it: 50% moved it the
    expected way, 100% helped; 1 review overdue now'. Each count has its own date (a decision
    made last quarter can be reviewed this month), so each says which it is."""
    parts = [
        _count(
            ngettext(
                "{count} decision with a KPI made in the period",
                "{count} decisions with a KPI made in the period",
                p.decisions,
            ),
            p.decisions,
        )
    ]
    if p.answered:
        helped = format_percent(p.helped_share) if p.helped_share is not None else "–"
        if p.moved_share is not None:
            parts.append(
                ngettext(
                    "{count} review answered in it: {moved} moved it the expected way, {helped} "
                    "helped",
                    "{count} reviews answered in it: {moved} moved it the expected way, {helped} "
                    "helped",
                    p.answered,
                ).format(
                    count=format_number(p.answered),
                    moved=format_percent(p.moved_share),
                    helped=helped,
                )
            )
        else:
            parts.append(
                ngettext(
                    "{count} review answered in it: too few readings to say which way it moved, "
                    "{helped} helped",
                    "{count} reviews answered in it: too few readings to say which way it moved, "
                    "{helped} helped",
                    p.answered,
                ).format(count=format_number(p.answered), helped=helped)
            )
    else:
        parts.append(_("no review answered in it"))
    if p.overdue:
        parts.append(
            _count(
                ngettext("{count} review overdue now", "{count} reviews overdue now", p.overdue),
                p.overdue,
            )
        )
    return "; ".join(parts)


def _latest(row: ObjectiveFigures, since: datetime) -> str:
    k = row.kpi_figures
    if k.latest_on is None:
        return _("no readings yet")
    return _("{value} on {day}").format(
        value=kpi_value(k.latest, k.unit), day=reading_day(k.latest_on, since)
    )


def _meanwhile(row: ObjectiveFigures) -> str:
    """What might have moved the KPI in the period: ideas done, content sent, sentiment."""
    timeline = row.timeline
    parts = []
    if timeline.ideas_withheld:
        parts.append(_("ideas done counted with other small groups"))
    elif timeline.ideas_done:
        done = ", ".join(
            _("#{number} on {day}").format(number=e.suggestion_id, day=day_month(e.day))
            for e in timeline.ideas_done
        )
        parts.append(
            ngettext(
                "{count} idea done ({ideas})",
                "{count} ideas done ({ideas})",
                len(timeline.ideas_done),
            ).format(count=format_number(len(timeline.ideas_done)), ideas=done)
        )
    if timeline.content_sent:
        parts.append(
            _count(
                ngettext(
                    "content sent on {count} day",
                    "content sent on {count} days",
                    len(timeline.content_sent),
                ),
                len(timeline.content_sent),
            )
        )
    weeks = timeline.sentiment
    if len(weeks) > 1:
        parts.append(
            _("weekly sentiment {first} → {last}").format(
                first=format_signed(weeks[0].mean), last=format_signed(weeks[-1].mean)
            )
        )
    elif weeks:
        parts.append(_("sentiment {value}").format(value=format_signed(weeks[0].mean)))
    return "; ".join(parts) or _("no ideas done, content or customer voice")


def _kpi_facts(row: ObjectiveFigures, since: datetime) -> tuple[Fact, ...]:
    k = row.kpi_figures
    if k.latest_on is None and k.target_value is None:
        return ()
    return (
        Fact(_("KPI"), _latest(row, since)),
        Fact(_("Trend"), kpi_trend(k.trend, k.change, k.unit)),
        Fact(_("Target"), kpi_distance(k.met, k.to_go, k.target_value, k.unit)),
        Fact(_("Meanwhile"), _meanwhile(row)),
    )


def objectives_report_message(
    report: ObjectivesReport, chart_url: str | None, activity_chart_url: str | None = None
) -> Message:
    """``chart_url``: the KPI chart; ``activity_chart_url``: content, ideas and sentiment."""
    days = round((report.until - report.since).total_seconds() / 86_400)
    title = _count(
        ngettext("Objectives, last {count} day", "Objectives, last {count} days", days), days
    )
    header = Card(
        title=title,
        text=_(
            "Whether each business objective's KPI moves the right way and reaches its target, "
            "and what the bot did for it meanwhile: not likes, but ideas done, content people "
            "found useful, and how customers feel."
        ),
        image_url=chart_url,
        image_alt=_(
            "Each KPI over the period with its target, the days ideas were done and "
            "content was sent, and customers' weekly sentiment"
        ),
        facts=(Fact(_("Promises (all objectives)"), promise_summary(report.promises)),),
    )
    cards = [
        Card(
            title=row.title,
            facts=(
                *_kpi_facts(row, report.since),
                Fact(_("Owner"), row.owner or _("nobody yet")),
                Fact(_("Content"), _content(row.items_sent, row.reached)),
                Fact(
                    _("Found it useful"),
                    _("{percent} ({count})").format(
                        percent=_percent(row.useful_share), count=format_number(row.found_useful)
                    ),
                ),
                Fact(
                    _("Shares / tracked clicks"),
                    f"{format_number(row.shares)} / {format_number(row.clicks)}",
                ),
                Fact(
                    _("Customer voice"),
                    _("{count} ({change})").format(
                        count=format_number(row.voice),
                        change=format_signed(row.voice - row.voice_before, 0),
                    ),
                ),
                Fact(_("Customer sentiment"), _sentiment(row)),
                Fact(_("Ideas"), _ideas(row)),
                Fact(_("Promises"), promise_summary(row.promises)),
            ),
        )
        for row in report.rows
    ]
    if activity_chart_url:
        cards.append(
            Card(
                title=_("Content, ideas and customer sentiment"),
                image_url=activity_chart_url,
                image_alt=_(
                    "Useful share, suggestions filed and answered, and customer sentiment "
                    "per objective"
                ),
            )
        )
    watch = theme_watch_card(report.watched_themes)
    if watch is not None:
        cards.append(watch)
    fallback = _("{title}: {figures}").format(
        title=title,
        figures="; ".join(
            _("{objective}: {latest}, {percent} found the content useful").format(
                objective=row.title,
                latest=_latest(row, report.since),
                percent=_percent(row.useful_share),
            )
            for row in report.rows
        ),
    )
    return Message(fallback=fallback, cards=(header, *cards), kind="report")


def _content(items: int, people: int) -> str:
    """'3 items to 40 people': two counts, each with its own plural."""
    return _("{items} to {people}").format(
        items=_count(ngettext("{count} item", "{count} items", items), items),
        people=_count(ngettext("{count} person", "{count} people", people), people),
    )
