"""What leadership reads in chat: the objectives, the objectives report with its chart, and
the suggestion rollup (also shown by the rollup card's buttons, through ``show_rollup``)."""

from __future__ import annotations

from datetime import timedelta

from bot.chat.context import ChatContext
from bot.chat.parsing import take_flags
from bot.compose.objective_cards import objectives_message
from bot.compose.report_card import objectives_report_message
from bot.compose.suggestion_cards import rollup_message
from bot.compose.text import humanise_duration
from bot.events import Reply
from bot.i18n import _
from bot.services.objectives import list_objectives
from bot.services.objectives_report import build_objectives_report
from bot.services.rollups import build_rollup, parse_period


async def objectives(ctx: ChatContext, text: str) -> Reply:
    found = await list_objectives(ctx.session)
    if not found:
        return Reply.say(
            _(
                "No objectives yet. A strategist or manager adds them with "
                "advocacy objectives add KEY TITLE."
            )
        )
    return Reply(messages=[objectives_message(found)])


async def report(ctx: ChatContext, text: str) -> Reply:
    """The objectives report as a card, with its chart, for managers and strategists."""
    flags, _rest = take_flags(text, {"since": True})
    period = parse_period(str(flags.get("since") or "30d")) or timedelta(days=30)
    built = await build_objectives_report(
        ctx.session, ctx.member, ctx.sealer, period, overdue_after=ctx.answer_after
    )
    charts = ctx.charts
    kpi = charts.url_for("kpi", period.days) if charts else None
    activity = charts.url_for("objectives", period.days) if charts else None
    return Reply(messages=[objectives_report_message(built, kpi, activity)])


async def rollup(ctx: ChatContext, text: str) -> Reply:
    flags, _rest = take_flags(text, {"by": True, "since": True})
    return await show_rollup(ctx, str(flags.get("by", "objective")), str(flags.get("since", "30d")))


async def show_rollup(ctx: ChatContext, by: str, since: str) -> Reply:
    period = parse_period(since)
    result = await build_rollup(
        ctx.session, ctx.member, ctx.sealer, by=by, period=period, scrub=ctx.extensions.scrubber
    )
    # Typed as "30d"; said in words: "last 30 days", "過去 30 日".
    label = (
        _("all time")
        if period is None
        else _("last {period}").format(period=humanise_duration(period))
    )
    return Reply(messages=[rollup_message(result, label, since)])
