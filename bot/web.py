"""The one aiohttp application: health, metrics, and every enabled adapter's routes.

Background work (the outbox worker on every instance; the digest scheduler and periodic jobs on
the elected leader only) starts and stops with the application, so ``advocacy serve`` and the
tests run exactly the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.app import Application
from bot.chart_links import ChartLinkError
from bot.charts import kpi_chart, objectives_chart
from bot.console.headers import security_headers
from bot.console.web import mount_console
from bot.domain import FeedbackKind
from bot.http_limits import request_limits
from bot.kpi_webhook import mount as mount_kpi_webhook
from bot.leader import DEFAULT_RETRY_SECONDS, Leadership, scheduler_lock
from bot.links import is_link_preview
from bot.metrics import CONTENT_TYPE_LATEST
from bot.outbox.queue import queue_depth
from bot.plugins import Job
from bot.policy_pages import mount_policy_pages
from bot.scheduler import DigestScheduler
from bot.services.decision_reviews import ask_due_reviews, escalate_overdue_reviews
from bot.services.escalation import escalate_waiting
from bot.services.feedback import record_share_click
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.storage.migrate import current_revision, head_revision
from bot.storage.types import utcnow
from bot.storage.upkeep import refresh_planner_statistics

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
        return web.Response(status=404, text="This link is not valid: it was altered or cut short.")
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
        return web.Response(status=404, text="There is no such chart.")
    async with application.db.transaction() as session:
        report = await build_objectives_report(
            session, OPERATOR, application.sealer, timedelta(days=wanted.period_days)
        )
    png = await asyncio.to_thread(draw, report)
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=300"}
    )


async def _repeat(job: Job, stop: asyncio.Event) -> None:
    """Run a plugin's job every ``job.every_seconds`` until the server stops."""
    log.info("job %s runs every %.0f s", job.name, job.every_seconds)
    while not stop.is_set():
        try:
            await job.run()
        except Exception:
            log.exception("job %s failed; it runs again in %.0f s", job.name, job.every_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=job.every_seconds)


def escalation_job(application: Application) -> Job:
    """Hourly: ideas waiting too long for an answer are flagged up the hierarchy."""
    after = timedelta(days=application.settings.suggestion_answer_days)

    async def run() -> None:
        async with application.db.transaction() as session:
            flagged = await escalate_waiting(session, application.sealer, utcnow(), after)
        if flagged and application.worker is not None:
            application.worker.wake()

    return Job("escalate waiting ideas", 3600.0, run)


def review_job(application: Application) -> Job:
    """Every 15 minutes: decision reviews whose date came are asked (the card reaches each
    manager at 09:00 of their own day, within the quarter hour), and reviews unanswered for
    SUGGESTION_ANSWER_DAYS are flagged up the hierarchy like unanswered ideas."""

    async def run() -> None:
        async with application.db.transaction() as session:
            now = utcnow()
            queued = await ask_due_reviews(session, application.sealer, now)
            queued += await escalate_overdue_reviews(
                session, application.sealer, now, application.settings.answer_after
            )
        if queued and application.worker is not None:
            application.worker.wake()

    return Job("ask and escalate decision reviews", 900.0, run)


def planner_statistics_job(application: Application) -> Job:
    """Daily (and at start): SQLite's query planner statistics (see bot/storage/upkeep.py)."""

    async def run() -> None:
        await refresh_planner_statistics(application.db)

    return Job("refresh the database's planner statistics", 86400.0, run)


class LeaderWork:
    """What only the leader runs: the digest scheduler and the plugins' periodic jobs (feeds
    are polled once, not once per instance)."""

    def __init__(self, application: Application, *, run_jobs: bool) -> None:
        self.application = application
        self.run_jobs = run_jobs
        assert application.worker is not None
        self.scheduler = DigestScheduler(
            application.db,
            application.sealer,
            on_queued=application.worker.wake,
            composers=application.extensions.composers,
            grace=timedelta(minutes=application.settings.schedule_grace_minutes),
        )
        self._stop_jobs = asyncio.Event()
        self._jobs: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.application.metrics.scheduler_leader.set(1)
        await self.scheduler.start()
        if self.run_jobs:
            self._stop_jobs = asyncio.Event()
            self._jobs = [
                asyncio.create_task(_repeat(job, self._stop_jobs)) for job in self.periodic_jobs()
            ]

    def periodic_jobs(self) -> list[Job]:
        """The plugins' jobs and the core's: escalation, decision reviews, upkeep."""
        jobs = [factory(self.application) for factory in self.application.extensions.jobs]
        jobs.append(escalation_job(self.application))
        jobs.append(review_job(self.application))
        if self.application.db.is_sqlite:
            jobs.append(planner_statistics_job(self.application))
        return jobs

    async def stop(self) -> None:
        self.application.metrics.scheduler_leader.set(0)
        await self.scheduler.stop()
        self._stop_jobs.set()
        for task in self._jobs:
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                task.cancel()
        self._jobs = []


TEXT_BODIES = ("application/json", "application/x-www-form-urlencoded")


@web.middleware
async def utf8_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse JSON and form bodies that are not UTF-8 with a 400 saying so. Slack's and Teams'
    libraries decode them without asking and answer 500 (found by tests/test_hostile_text.py);
    the platforms never send such bodies, so this is a sender's bug or a probe."""
    if request.body_exists and request.content_type in TEXT_BODIES:
        body = await request.read()  # read by bot/http_limits.py already; kept for the handler
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return web.json_response(
                {"error": f"the body is not UTF-8 (byte {error.start})"}, status=400
            )
    return await handler(request)


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
        middlewares=[security_headers, *request_limits(application.settings), utf8_bodies],
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

    async def background(_: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        assert application.worker is not None
        tasks = [
            asyncio.create_task(application.worker.run_forever(stop), name="outbox"),
            asyncio.create_task(application.inbox.run(stop), name="inbox"),
        ]
        if run_scheduler:
            leader_work = LeaderWork(application, run_jobs=run_jobs)
            leadership = Leadership(
                scheduler_lock(application.db, application.settings.data_dir),
                leader_work.start,
                leader_work.stop,
                retry_seconds=leader_retry_seconds,
            )
            tasks.append(asyncio.create_task(leadership.run(stop), name="leadership"))
        try:
            yield
        finally:
            stop.set()
            application.worker.wake()
            application.inbox.wake()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, timeout=15)
                except TimeoutError:
                    task.cancel()

    app.cleanup_ctx.append(background)
    return app
