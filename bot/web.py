"""The one aiohttp application: health, metrics, and every enabled adapter's routes.

Background work (the outbox worker, and the digest scheduler when enabled) starts and stops with
the application, so ``advocacy serve`` and the tests run exactly the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.app import Application
from bot.domain import FeedbackKind
from bot.metrics import CONTENT_TYPE_LATEST
from bot.plugins import Job
from bot.scheduler import DigestScheduler
from bot.services.feedback import record_share_click
from bot.services.outbox import queue_depth
from bot.storage.migrate import current_revision, head_revision

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
    except Exception as error:  # metrics must answer even when the database does not
        log.warning("outbox depth unavailable for metrics: %s", error)
    response = web.Response(body=application.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def share_redirect(request: web.Request) -> web.Response:
    """Count a click on a tracked share link, then send the person on to the network."""
    application = request.app[APPLICATION]
    click = application.links.read(request.match_info["token"])
    if click is None or not click.url.startswith(("https://", "http://")):
        return web.Response(status=404, text="This link is not valid: it was altered or cut short.")
    async with application.db.transaction() as session:
        platform, recorded = await record_share_click(
            session, click.subject, click.network, click.delivery_id
        )
    metrics = application.metrics
    metrics.share_clicks.labels(platform=platform, network=click.network).inc()
    if recorded:
        metrics.feedback_recorded.labels(platform=platform, kind=FeedbackKind.SHARED).inc()
    raise web.HTTPFound(click.url)


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


def build_web_app(
    application: Application, *, run_scheduler: bool = True, run_jobs: bool = True
) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    app[APPLICATION] = application
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/s/{token}", share_redirect)
    for adapter in application.adapters.values():
        adapter.mount(app)
    for mount in application.extensions.routes:
        mount(app, application)

    async def background(_: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        assert application.worker is not None
        worker = asyncio.create_task(application.worker.run_forever(stop), name="outbox")
        scheduler = None
        if run_scheduler:
            scheduler = DigestScheduler(
                application.db,
                application.sealer,
                on_queued=application.worker.wake,
                composers=application.extensions.composers,
            )
            await scheduler.start()
        jobs = (
            [
                asyncio.create_task(_repeat(factory(application), stop), name="job")
                for factory in application.extensions.jobs
            ]
            if run_jobs
            else []
        )
        try:
            yield
        finally:
            stop.set()
            application.worker.wake()
            if scheduler is not None:
                await scheduler.stop()
            for task in (worker, *jobs):
                try:
                    await asyncio.wait_for(task, timeout=10)
                except TimeoutError:
                    task.cancel()

    app.cleanup_ctx.append(background)
    return app
