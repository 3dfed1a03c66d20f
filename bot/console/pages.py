"""The console's pages: each reads through the same services as chat and the CLI, so the same
permissions, validation and anonymity rules apply here."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

from aiohttp import web
from sqlalchemy import func, select

from bot.charts import kpi_chart, objectives_chart, theme_trend_chart
from bot.chat.parsing import parse_id
from bot.compose.board_cards import SORT_LABELS, SORT_TITLES, shown_label
from bot.compose.kpi_text import (
    kpi_change,
    kpi_distance,
    kpi_trend,
    kpi_value,
    reading_day,
    written_repeats,
)
from bot.compose.notices import who_is_told
from bot.compose.report_card import promise_summary
from bot.compose.suggestion_cards import status_label, status_word
from bot.compose.theme_watch import TITLE as WATCH_TITLE
from bot.compose.theme_watch import watch_line
from bot.console.access import APPLICATION, COOKIE, Form, Visit, page
from bot.console.auth import end_session
from bot.console.labels import DIGEST_KINDS
from bot.console.language import choose, language_options
from bot.domain import (
    EMPLOYEE_VOICE_SOURCE,
    DeliveryStatus,
    DigestKind,
    KpiSource,
    Role,
    SuggestionStatus,
)
from bot.errors import DomainError, InvalidInput, concerning
from bot.i18n import N_, NATIVE_NAMES, _, current_locale, ngettext
from bot.i18n.formats import format_date, format_number, join_sentences
from bot.outbox.admin import failed_deliveries, held_deliveries, retry_deliveries
from bot.plugins import PageInfo, UrlEnricher
from bot.services import content as content_service
from bot.services import digests as digest_service
from bot.services.anonymous_scope import load_team_scopes
from bot.services.decision_reviews import review_lines
from bot.services.digest_runs import list_runs, start_run
from bot.services.feedback import feedback_counts
from bot.services.kpi_import import parse_day, parse_value
from bot.services.kpi_readings import check_day, record_reading
from bot.services.members import managed_team_ids
from bot.services.objectives import get_objective, list_objectives, list_readings
from bot.services.objectives_report import build_objectives_report
from bot.services.promises import Promise, promise_note, zone_of
from bot.services.rollups import parse_period
from bot.services.suggestion_board import NEWEST, OPEN, SHOWN, SORTS, BoardQuery, browse
from bot.services.suggestion_moderation import hide_suggestion, merge_suggestions
from bot.services.suggestions import answer_suggestion
from bot.storage.models import Delivery, ShareClick, VoiceImport, VoiceItem, VoiceSpike
from bot.storage.types import utcnow

PAGE_SIZE = 20
# The board's filters, in the order a manager works through ideas.
BOARD_STATUSES = (SHOWN[0], *SHOWN[2:], SHOWN[1])


def _page_number(visit: Visit) -> int:
    """The page asked for in ``?page=``; anything that is not a page number is page 1."""
    text = visit.query.get("page", "1")
    return max(1, int(text)) if text.isascii() and text.isdigit() and len(text) < 7 else 1


def _paged(items: list, number: int) -> tuple[list, int, int]:
    """One page of ``items``: the items, the page number actually shown, the page count."""
    pages = max(1, -(-len(items) // PAGE_SIZE))
    number = min(number, pages)
    return items[(number - 1) * PAGE_SIZE : number * PAGE_SIZE], number, pages


def _period(visit: Visit) -> tuple[str, timedelta]:
    """The period in ``?since=`` (30 days when absent or 'all'); a bad or too long one is
    refused with the accepted range (parse_period raises InvalidInput)."""
    text = visit.query.get("since", "30d")
    with concerning("since"):
        period = parse_period(text)
    return (text, period) if period else ("30d", timedelta(days=30))


def _chart_period(visit: Visit) -> timedelta | web.Response:
    """A chart's period, or a plain 400 saying why (an image has no page to show a notice on)."""
    try:
        return _period(visit)[1]
    except DomainError as error:
        return web.Response(status=400, text=error.message)


def _narrow(visit: Visit) -> bool:
    """A chart for a phone's width (``?layout=narrow``, asked for by the page's <picture>)."""
    return visit.query.get("layout") == "narrow"


@page()
async def home(visit: Visit) -> web.StreamResponse:
    return visit.render("home.html", title=_("Console"))


@page()
async def sign_out(visit: Visit) -> web.StreamResponse:
    await end_session(visit.session, visit.request.cookies.get(COOKIE, ""))
    response = web.HTTPSeeOther("/console/signed-out")
    response.del_cookie(COOKIE, path="/console")
    return response


@page()
async def settings(visit: Visit) -> web.StreamResponse:
    """The member's own settings: the language the console and the bot speak to them in."""
    return visit.render(
        "settings.html",
        title=_("Settings"),
        language_options=language_options(),
        chosen=current_locale(),
    )


@page()
async def choose_language(visit: Visit) -> web.StreamResponse:
    form = await visit.request.post()
    with concerning("locale"):
        locale = choose(visit.member, str(form.get("locale") or ""))
    # Said in the language just chosen, as the page after it is.
    said = _("The console and the bot now speak {language} to you.")
    return visit.back("/console/settings", said.format(language=NATIVE_NAMES[locale]))


# ----- objectives -----------------------------------------------------------------------------


# Readings shown per objective on the page (the CLI lists them all).
READINGS_SHOWN = 10


@page(Role.MANAGER, Role.STRATEGIST)
async def objectives(visit: Visit) -> web.StreamResponse:
    since, period = _period(visit)
    report = await build_objectives_report(
        visit.session,
        visit.member,
        visit.application.sealer,
        period,
        overdue_after=visit.application.settings.answer_after,
    )
    known = await list_objectives(visit.session)
    readings = {
        o.key: (await list_readings(visit.session, visit.member, o.key, limit=READINGS_SHOWN))[1]
        for o in known
    }
    return visit.render(
        "objectives.html",
        title=_("Objectives"),
        report=report,
        since=since,
        periods=PERIODS,
        known=known,
        readings=readings,
        # The unit beside each title: the Value field takes a number in it.
        objective_options=[
            (
                o.key,
                _("{title} (in {unit})").format(title=o.title, unit=o.kpi_unit)
                if o.kpi_unit
                else o.title,
            )
            for o in known
        ],
        today=utcnow().date().isoformat(),
        kpi_value=kpi_value,
        reading_day=reading_day,
        written_repeats=written_repeats,
        kpi_change=kpi_change,
        kpi_trend=kpi_trend,
        kpi_distance=kpi_distance,
        promises=promise_summary(report.promises),
        watch_title=WATCH_TITLE,
        watch_line=watch_line,
    )


PERIODS = ("7d", "30d", "90d", "365d")


@page(Role.MANAGER, Role.STRATEGIST)
async def record_kpi(visit: Visit) -> web.StreamResponse:
    """Record a KPI reading from the objectives page; a refused one comes back with what was
    typed and why, beside the field."""
    form = await visit.request.post()
    with concerning("objective"):
        objective = await get_objective(visit.session, str(form.get("objective") or ""))
    with concerning("value"):
        typed = str(form.get("value") or "").strip()
        if not typed:
            raise InvalidInput(_("Give the KPI's value: a number, such as 52."))
        value = parse_value(typed, objective.kpi_unit)
    with concerning("date"):
        day = parse_day(form.get("date")) if form.get("date") else utcnow().date()
        check_day(day)
    recorded = await record_reading(
        visit.session, visit.member, objective, value, day, source=KpiSource.CONSOLE
    )
    shown = kpi_value(recorded.reading.value, objective.kpi_unit)
    when = format_date(recorded.reading.measured_on.date())
    title = objective.title
    if recorded.outcome == "added":
        said = _("Recorded {value} for '{title}' on {day}.").format(
            value=shown, title=title, day=when
        )
    elif recorded.outcome == "updated":
        said = _("'{title}' on {day} is now {value} (was {previous}).").format(
            title=title,
            day=when,
            value=shown,
            previous=kpi_value(recorded.previous, objective.kpi_unit),
        )
    else:
        said = _("'{title}' on {day} was already {value}: nothing changed.").format(
            title=title, day=when, value=shown
        )
    return visit.back("/console/objectives", said)


@page(Role.MANAGER, Role.STRATEGIST)
async def objectives_chart_png(visit: Visit) -> web.StreamResponse:
    period = _chart_period(visit)
    if isinstance(period, web.Response):
        return period
    report = await build_objectives_report(
        visit.session, visit.member, visit.application.sealer, period
    )
    png = await asyncio.to_thread(objectives_chart, report, narrow=_narrow(visit))
    return web.Response(body=png, content_type="image/png")


@page(Role.MANAGER, Role.STRATEGIST)
async def kpi_chart_png(visit: Visit) -> web.StreamResponse:
    period = _chart_period(visit)
    if isinstance(period, web.Response):
        return period
    report = await build_objectives_report(
        visit.session, visit.member, visit.application.sealer, period
    )
    png = await asyncio.to_thread(kpi_chart, report, narrow=_narrow(visit))
    return web.Response(body=png, content_type="image/png")


# ----- suggestions ----------------------------------------------------------------------------


@page(Role.MANAGER)
async def suggestions(visit: Visit) -> web.StreamResponse:
    """The board a page at a time: ``?sort=newest|top|evidence&status=open|all|STATUS&page=N``."""
    if visit.refused is not None and visit.refused.form is not None:
        # A refused answer, merge or hide comes back on the view it was sent from, so the idea
        # (and what was typed into its form) is on the page again.
        query = _board_query(visit.refused.value(visit.refused.form, "board"))
    else:
        asked = visit.request.query
        query = BoardQuery.of(
            asked.get("sort", NEWEST), asked.get("status", OPEN), asked.get("page", "1")
        )
    where = None
    if visit.member.role != Role.ADMIN:
        # A manager's board: the ideas of the teams below them (the ones they can answer),
        # anonymous ones under the team they are shown under.
        teams = await managed_team_ids(visit.session, visit.member)
        where = (await load_team_scopes(visit.session)).visible_clause(teams)
    board = await browse(
        visit.session,
        query,
        page_size=PAGE_SIZE,
        where=where,
        scrub=visit.application.extensions.scrubber,
    )
    empty = (
        _("No open ideas. Employees send them with /suggest in chat; answered ones are under All.")
        if query.status == OPEN
        else _("No ideas with this status. Choose another above.")
    )
    return visit.render(
        "suggestions.html",
        title=_("Suggestions"),
        board=board,
        sorts=[
            (SORT_LABELS[sort], _board_link(replace(query, sort=sort, page=1)), sort == query.sort)
            for sort in SORTS
        ],
        shown=[
            (
                shown_label(status),
                _board_link(replace(query, status=status, page=1)),
                status == query.status,
            )
            for status in BOARD_STATUSES
        ],
        heading=_("{status} ideas, {order}").format(
            status=shown_label(query.status), order=SORT_TITLES[query.sort]
        ),
        empty=empty,
        link=_board_link,
        board_state=urlencode(asdict(board.query)),
        statuses=list(SuggestionStatus),
        status_options=[(status.value, status_label(status)) for status in SuggestionStatus],
        objective_options=[
            ("", _("No KPI check")),
            *((o.key, o.title) for o in await list_objectives(visit.session)),
        ],
        expect_options=[
            ("", _("The way that is better for it")),
            ("higher", _("Higher")),
            ("lower", _("Lower")),
        ],
        reviews=await review_lines(visit.session, [s.id for s in board.ideas], utcnow()),
    )


@page(Role.MANAGER)
async def answer(visit: Visit) -> web.StreamResponse:
    form = await visit.request.post()
    suggestion_id = parse_id(visit.request.match_info["id"], "suggestion")
    outcome = await answer_suggestion(
        visit.session,
        visit.application.sealer,
        visit.member,
        suggestion_id,
        str(form.get("text") or ""),
        status=str(form.get("status") or "") or None,
        promise=Promise.from_fields(
            str(form.get("objective") or ""),
            str(form.get("expect") or ""),
            str(form.get("review") or ""),
        ),
    )
    _wake(visit)
    check = promise_note(outcome.review, zone_of(visit.member)) if outcome.review else ""
    return visit.back(
        _board_address(form),
        join_sentences(
            _("Answer recorded: #{number} is {status}.").format(
                number=suggestion_id, status=status_word(outcome.suggestion.status)
            ),
            who_is_told(outcome.author_notified, outcome.others_notified),
            check,
        ),
    )


@page(Role.MANAGER)
async def merge(visit: Visit) -> web.StreamResponse:
    form = await visit.request.post()
    duplicate = parse_id(visit.request.match_info["id"], "suggestion")
    target = await merge_suggestions(
        visit.session,
        visit.application.sealer,
        visit.member,
        duplicate,
        _id_in(form, "into", "suggestion"),
    )
    _wake(visit)
    return visit.back(
        _board_address(form),
        _("#{duplicate} joined #{target} with its votes.").format(
            duplicate=duplicate, target=target.id
        ),
    )


@page(Role.MANAGER)
async def hide(visit: Visit) -> web.StreamResponse:
    form = await visit.request.post()
    suggestion_id = parse_id(visit.request.match_info["id"], "suggestion")
    await hide_suggestion(
        visit.session,
        visit.application.sealer,
        visit.member,
        suggestion_id,
        str(form.get("reason") or ""),
    )
    _wake(visit)
    return visit.back(
        _board_address(form),
        _("#{number} is hidden; its author is told why.").format(number=suggestion_id),
    )


def _board_address(form: Form) -> str:
    """Back to the board as it was shown (its order, status and page) after a form on it."""
    return _board_link(_board_query(str(form.get("board") or "")))


def _board_query(board: str) -> BoardQuery:
    """The board view a form was sent from (its hidden ``board`` field); the default view when
    that is missing or not one."""
    shown = {key: values[0] for key, values in parse_qs(board).items()}
    try:
        return BoardQuery.of(
            shown.get("sort", NEWEST), shown.get("status", OPEN), shown.get("page", "1")
        )
    except DomainError:
        return BoardQuery()


def _board_link(query: BoardQuery) -> str:
    """The address of a board view (the default one without a query)."""
    return "/console/suggestions" + (
        "" if query == BoardQuery() else "?" + urlencode(asdict(query))
    )


def _id_in(form: Form, field: str, what: str) -> int:
    """The number typed into ``field``, refused beside that field when it is not one."""
    with concerning(field):
        return parse_id(str(form.get(field) or ""), what)


def _wake(visit: Visit) -> None:
    """Something was queued: the outbox should not wait for its next poll."""
    if visit.application.worker is not None:
        asyncio.get_running_loop().call_soon(visit.application.worker.wake)


# ----- content --------------------------------------------------------------------------------


async def _read_page(enrich: UrlEnricher, address: str, advice: str = "") -> PageInfo:
    """What the page at ``address`` says about itself. Called with no transaction open: a slow
    page must not hold the database (it held SQLite's writer lock for the whole fetch)."""
    url = content_service.validate_url(address)  # a bad address is a DomainError
    try:
        return await enrich(url)
    except DomainError:
        raise
    except Exception as error:  # the page could not be read: say so, let them type it
        reason = str(error) or type(error).__name__  # a time-out says nothing by itself
        said = _("Could not read {address}: {reason}.").format(address=address, reason=reason)
        raise InvalidInput(f"{said} {advice}" if advice else said) from None


async def _preview(request: web.Request, _: Form | None) -> PageInfo | None:
    wanted = request.query.get("preview", "").strip()
    enrich = request.app[APPLICATION].extensions.url_enricher
    with concerning("preview"):
        return await _read_page(enrich, wanted) if wanted and enrich else None


@page(Role.STRATEGIST, prepare=_preview)
async def content(visit: Visit) -> web.StreamResponse:
    drafts = await content_service.list_drafts(visit.session)
    library, number, pages = _paged(
        await content_service.list_content(visit.session), _page_number(visit)
    )
    ids = [item.id for item in library]
    reception = await feedback_counts(visit.session, [("content", i) for i in ids])
    # One row per person (or passer-by) who clicked through, per network: see record_share_click.
    clicks = dict(
        (
            await visit.session.execute(
                select(ShareClick.content_id, func.count(ShareClick.id))
                .where(ShareClick.content_id.in_(ids))
                .group_by(ShareClick.content_id)
            )
        ).all()
    )
    return visit.render(
        "content.html",
        title=_("Content"),
        drafts=drafts,
        library=library,
        reception=reception,
        clicks=clicks,
        page=number,
        page_count=pages,
        objective_options=[("", _("none"))]
        + [(o.key, o.title) for o in await list_objectives(visit.session)],
        preview=visit.prepared,
    )


@page(Role.STRATEGIST)
async def edit_content(visit: Visit) -> web.StreamResponse:
    """Edit an item's title and summary, or expire it now (it stops going out in digests)."""
    form = await visit.request.post()
    item_id = parse_id(visit.request.match_info["id"], "content item")
    if form.get("expire") == "now":
        item = await content_service.edit_content(
            visit.session, visit.member, item_id, expires_at=utcnow()
        )
        return visit.back(
            "/console/content",
            _("'{title}' expired: it is not sent any more.").format(title=item.title),
        )
    item = await content_service.edit_content(
        visit.session,
        visit.member,
        item_id,
        title=str(form.get("title") or ""),
        summary=str(form.get("summary") or ""),
    )
    return visit.back("/console/content", _("'{title}' saved.").format(title=item.title))


@page(Role.STRATEGIST)
async def review(visit: Visit) -> web.StreamResponse:
    item_id = parse_id(visit.request.match_info["id"], "content item")
    approve = visit.request.match_info["verdict"] == "approve"
    item = await content_service.review_content(
        visit.session, visit.member, item_id, approve=approve
    )
    said = _("'{title}' approved.") if approve else _("'{title}' rejected.")
    return visit.back("/console/content", said.format(title=item.title))


async def _page_for_new_item(request: web.Request, form: Form | None) -> PageInfo | None:
    """The page of an item added without a title, read to fill it in."""
    assert form is not None
    enrich = request.app[APPLICATION].extensions.url_enricher
    url = str(form.get("url") or "").strip()
    if not enrich or not url or str(form.get("title") or "").strip():
        return None
    with concerning("url"):
        return await _read_page(enrich, url, _("Give a title."))


@page(Role.STRATEGIST, prepare=_page_for_new_item)
async def add_content(visit: Visit) -> web.StreamResponse:
    form = await visit.request.post()
    url = str(form.get("url") or "").strip()
    title = str(form.get("title") or "").strip()
    summary = str(form.get("summary") or "").strip() or None
    image = str(form.get("image_url") or "").strip() or None
    info: PageInfo | None = visit.prepared
    if info is not None:
        title, summary, image = info.title or "", summary or info.summary, info.image_url
    item = await content_service.add_content(
        visit.session,
        visit.member,
        url,
        title=title,
        summary=summary,
        image_url=image,
        objective_key=str(form.get("objective") or "") or None,
    )
    return visit.back(
        "/console/content", _("Added '{title}' to the library.").format(title=item.title)
    )


# ----- digests --------------------------------------------------------------------------------


@page(Role.STRATEGIST)
async def digests(visit: Visit) -> web.StreamResponse:
    schedules = await digest_service.list_digests(visit.session)
    upcoming = {d.id: digest_service.next_fire_times(d, 5) if d.enabled else [] for d in schedules}
    runs = await list_runs(visit.session, limit=PAGE_SIZE)
    figures = {
        (run_id, status): count
        for run_id, status, count in await visit.session.execute(
            select(Delivery.run_id, Delivery.status, func.count(Delivery.id))
            .where(Delivery.run_id.in_([r.id for r in runs]))
            .group_by(Delivery.run_id, Delivery.status)
        )
    }
    return visit.render(
        "digests.html",
        title=_("Digests"),
        schedules=schedules,
        upcoming=upcoming,
        runs=runs,
        figures=figures,
        kind_options=[(kind.value, _(DIGEST_KINDS[kind.value])) for kind in DigestKind],
        statuses=DeliveryStatus,
        timezone=visit.member.timezone,
        describe=digest_service.describe_schedule,
    )


@page(Role.STRATEGIST)
async def add_digest(visit: Visit) -> web.StreamResponse:
    form = await visit.request.post()
    digest = await digest_service.add_digest(
        visit.session,
        visit.member,
        str(form.get("name") or ""),
        kind=str(form.get("kind") or ""),
        audience=str(form.get("audience") or "all"),
        cron=str(form.get("cron") or ""),
        timezone=str(form.get("timezone") or "UTC"),
        local_time=form.get("local_time") == "on",
    )
    return visit.back("/console/digests", _("Scheduled '{name}'.").format(name=digest.name))


@page(Role.STRATEGIST)
async def change_digest(visit: Visit) -> web.StreamResponse:
    name = visit.request.match_info["name"]
    action = visit.request.match_info["action"]
    if action in ("pause", "resume"):
        await digest_service.set_digest_enabled(
            visit.session, visit.member, name, action == "resume"
        )
        said = _("'{name}' resumed.") if action == "resume" else _("'{name}' paused.")
        notice = said.format(name=name)
    elif action == "edit":
        form = await visit.request.post()
        await digest_service.edit_digest(
            visit.session,
            visit.member,
            name,
            cron=str(form.get("cron") or "") or None,
            timezone=str(form.get("timezone") or "") or None,
            audience=str(form.get("audience") or "") or None,
            local_time=form.get("local_time") == "on",
        )
        notice = _("'{name}' changed; the scheduler picks it up within 30 seconds.").format(
            name=name
        )
    elif action == "delete":
        await digest_service.delete_digest(visit.session, visit.member, name)
        notice = _("'{name}' deleted; deliveries already queued still go out.").format(name=name)
    elif action == "run":
        found = await digest_service.get_digest(visit.session, name)
        outcome = await start_run(
            visit.session,
            visit.application.sealer,
            found,
            actor=visit.member,
            composers=visit.application.extensions.composers,
        )
        assert outcome is not None
        notice = (
            ngettext(
                "'{name}' is on its way to {count} recipient.",
                "'{name}' is on its way to {count} recipients.",
                outcome.queued,
            ).format(name=name, count=format_number(outcome.queued))
            if outcome.queued
            else _("'{name}' was not sent: {note}").format(name=name, note=outcome.note)
        )
        _wake(visit)
    else:
        raise web.HTTPNotFound()
    return visit.back("/console/digests", notice)


# ----- customer voice and deliveries ----------------------------------------------------------

# Voices without a theme are listed under this one (the page translates it; themes are data).
NO_THEME = N_("(no theme)")


@page(Role.MANAGER, Role.STRATEGIST)
async def voice(visit: Visit) -> web.StreamResponse:
    since, period = _period(visit)
    items = list(
        await visit.session.scalars(
            select(VoiceItem)
            .where(VoiceItem.received_at >= utcnow() - period)
            .order_by(VoiceItem.received_at.desc())
        )
    )
    themes: dict[str, list[VoiceItem]] = {}
    for item in items:
        for theme in item.themes or [NO_THEME]:
            themes.setdefault(theme, []).append(item)
    imports = list(
        await visit.session.scalars(
            select(VoiceImport).order_by(VoiceImport.started_at.desc()).limit(PAGE_SIZE)
        )
    )
    ranked = sorted(themes.items(), key=lambda pair: -len(pair[1]))
    # The latest spike of each theme in the period (content/voice/spikes.py records them).
    spikes = {
        spike.theme: spike
        for spike in await visit.session.scalars(
            select(VoiceSpike)
            .where(VoiceSpike.period_end > utcnow() - period)
            .order_by(VoiceSpike.period_start)
        )
    }
    return visit.render(
        "voice.html",
        title=_("Customer voice"),
        themes=ranked,
        no_theme=NO_THEME,
        spikes=spikes,
        logged=sum(1 for item in items if item.source == EMPLOYEE_VOICE_SOURCE),
        scrub=visit.application.extensions.scrubber,
        imports=imports,
        since=since,
        periods=PERIODS,
    )


@page(Role.MANAGER, Role.STRATEGIST)
async def voice_chart_png(visit: Visit) -> web.StreamResponse:
    period = _chart_period(visit)
    if isinstance(period, web.Response):
        return period
    since = utcnow() - period
    rows = (
        await visit.session.execute(
            select(VoiceItem.received_at, VoiceItem.themes).where(VoiceItem.received_at >= since)
        )
    ).all()
    png = await asyncio.to_thread(theme_trend_chart, rows, since, utcnow(), narrow=_narrow(visit))
    return web.Response(body=png, content_type="image/png")


@page(Role.ADMIN)
async def deliveries(visit: Visit) -> web.StreamResponse:
    failed, number, pages = _paged(
        await failed_deliveries(visit.session, 1000), _page_number(visit)
    )
    held = await held_deliveries(visit.session, visit.application.platform_states())
    return visit.render(
        "deliveries.html",
        title=_("Deliveries"),
        held=held,
        failed=failed,
        page=number,
        page_count=pages,
    )


@page(Role.ADMIN)
async def retry(visit: Visit) -> web.StreamResponse:
    form = await visit.request.post()
    ids = [parse_id(str(value), "delivery") for value in form.getall("id", [])]
    count = await retry_deliveries(
        visit.session, ids=ids, everything=form.get("all") == "on" and not ids
    )
    _wake(visit)
    return visit.back(
        "/console/deliveries",
        ngettext("Re-queued {count} delivery.", "Re-queued {count} deliveries.", count).format(
            count=format_number(count)
        ),
    )
