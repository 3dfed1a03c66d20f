"""The one aiohttp application: health, metrics, and every enabled adapter's routes.

Background work (bot/background.py: the outbox worker on every instance; the digest scheduler
and periodic jobs on the elected leader only) starts and stops with the application, so
``advocacy serve`` and the tests run exactly the same server.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.app import Application
from bot.background import background_work
from bot.chart_links import ChartLinkError
from bot.charts import kpi_chart, objectives_chart
from bot.console.headers import security_headers
from bot.console.web import mount_console
from bot.domain import FeedbackKind
from bot.http_limits import request_limits
from bot.i18n import _
from bot.kpi_webhook import mount as mount_kpi_webhook
from bot.leader import DEFAULT_RETRY_SECONDS
from bot.links import is_link_preview
from bot.metrics import CONTENT_TYPE_LATEST
from bot.outbox.queue import queue_depth
from bot.platform.capabilities import SignedRequests
from bot.platform.contract import SignedEndpoint
from bot.policy_pages import mount_policy_pages
from bot.services.feedback import record_share_click
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.storage.migrate import current_revision, head_revision
from bot.storage.types import utcnow

log = logging.getLogger(__name__)

APPLICATION = web.AppKey("application", Application)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers and its schema is current; 503 otherwise."""
    application = request.app[APPLICATION]
    try:
        await asyncio.wait_for(application.db.ping(), timeout=5)
        revision = await current_revision(application.db)
    except Exception as error:
        log.warning("health check failed: %s", error)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    head = head_revision()
    if revision != head:
        return web.json_response(
            {"status": "unavailable", "database": f"schema {revision}, expected {head}"},
            status=503,
        )
    return web.json_response(
        {
            "status": "ok",
            "database": application.db.dialect,
            "schema": revision,
            "adapters": sorted(application.adapters),
        }
    )


async def metrics(request: web.Request) -> web.Response:
    application = request.app[APPLICATION]
    try:
        async with application.db.transaction() as session:
            application.metrics.set_outbox_depth(await queue_depth(session))
        application.metrics.set_inbox_depth(await application.inbox.depth())
    except Exception as error:  # metrics must answer even when the database does not
        log.warning("outbox and inbox depths unavailable for metrics: %s", error)
    response = web.Response(body=application.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def share_redirect(request: web.Request) -> web.Response:
    """Count a click on a tracked share link, then send the person on to the network.

    A person's click counts once however often the link is fetched (record_share_click); a
    link-preview fetcher or a HEAD request is sent on without counting. The person is always
    sent on, even when the click cannot be recorded (a busy database is logged, not shown)."""
    application = request.app[APPLICATION]
    click = application.links.read(request.match_info["token"])
    if click is None or not click.url.startswith(("https://", "http://")):
        return web.Response(
            status=404, text=_("This link is not valid: it was altered or cut short.")
        )
    user_agent = request.headers.get("User-Agent", "")
    if request.method == "GET" and not is_link_preview(user_agent):
        passer_by = application.links.passer_by(
            click, f"{request.remote} {user_agent}", utcnow().date()
        )
        try:
            async with application.db.transaction() as session:
                outcome = await record_share_click(
                    session, click.subject, click.network, click.delivery_id, passer_by=passer_by
                )
        except Exception:
            log.exception("a click on a %s share link was not recorded", click.network)
        else:
            metrics = application.metrics
            metrics.share_clicks.labels(platform=outcome.platform, network=click.network).inc()
            if outcome.shared:
                metrics.feedback_recorded.labels(
                    platform=outcome.platform, kind=FeedbackKind.SHARED
                ).inc()
    # The network is not told where the person came from (the token is in this address).
    raise web.HTTPFound(click.url, headers={"Referrer-Policy": "no-referrer"})


async def chart(request: web.Request) -> web.Response:
    """A chart for a card: the signed URL is the permission, and it expires."""
    application = request.app[APPLICATION]
    try:
        wanted = application.charts.read(request.match_info["token"])
    except ChartLinkError as error:
        return web.Response(status=403, text=str(error))
    draw = {"objectives": objectives_chart, "kpi": kpi_chart}.get(wanted.chart)
    if draw is None:
        return web.Response(status=404, text=_("There is no such chart."))
    async with application.db.transaction() as session:
        report = await build_objectives_report(
            session, OPERATOR, application.sealer, timedelta(days=wanted.period_days)
        )
    png = await asyncio.to_thread(draw, report)
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=300"}
    )


TEXT_BODIES = ("application/json", "application/x-www-form-urlencoded")


@web.middleware
async def utf8_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse JSON and form bodies that are not UTF-8 with a 400 saying so. Slack's and Teams'
    libraries decode them without asking and answer 500 (found by
    tests/platforms/test_hostile_text.py); the platforms never send such bodies, so this is a
    sender's bug or a probe."""
    if request.body_exists and request.content_type in TEXT_BODIES:
        body = await request.read()  # read by bot/http_limits.py already; kept for the handler
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return web.json_response(
                {"error": f"the body is not UTF-8 (byte {error.start})"}, status=400
            )
    return await handler(request)


def adapters_signed_endpoints(application: Application) -> list[SignedEndpoint]:
    """The signed endpoints the enabled adapters declare (``bot.platform.SignedRequests``)."""
    return [
        endpoint
        for adapter in application.adapters.values()
        if isinstance(adapter, SignedRequests)
        for endpoint in adapter.signed_endpoints
    ]


def build_web_app(
    application: Application,
    *,
    run_scheduler: bool = True,
    run_jobs: bool = True,
    leader_retry_seconds: float = DEFAULT_RETRY_SECONDS,
) -> web.Application:
    app = web.Application(
        client_max_size=1024**2,
        # Security headers first, so that every answer carries them, refusals included.
        middlewares=[
            security_headers,
            *request_limits(application.settings, adapters_signed_endpoints(application)),
            utf8_bodies,
        ],
    )
    app[APPLICATION] = application
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/s/{token}", share_redirect)
    app.router.add_get("/charts/{token}", chart)
    mount_policy_pages(app)
    mount_console(app, application)
    mount_kpi_webhook(app, application)
    for adapter in application.adapters.values():
        adapter.mount(app)
    for mount in application.extensions.routes:
        mount(app, application)

    app.cleanup_ctx.append(
        background_work(
            application,
            run_scheduler=run_scheduler,
            run_jobs=run_jobs,
            leader_retry_seconds=leader_retry_seconds,
        )
    )
    return app
