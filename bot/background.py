"""Background work that starts and stops with the web application: the outbox worker and the
inbox on every instance; on the elected leader only, the digest scheduler and the periodic jobs
(the plugins' and the core's: escalation of waiting ideas, decision reviews, upkeep)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from aiohttp import web

from bot.app import Application
from bot.leader import DEFAULT_RETRY_SECONDS, Leadership, scheduler_lock
from bot.plugins import Job
from bot.scheduler import DigestScheduler
from bot.services.decision_reviews import ask_due_reviews, escalate_overdue_reviews
from bot.services.escalation import escalate_waiting
from bot.storage.types import utcnow
from bot.storage.upkeep import refresh_planner_statistics

log = logging.getLogger(__name__)


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


def background_work(
    application: Application,
    *,
    run_scheduler: bool = True,
    run_jobs: bool = True,
    leader_retry_seconds: float = DEFAULT_RETRY_SECONDS,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The web application's cleanup context: the work runs while the application does, and
    is stopped (each task given 15 s, then cancelled) when it shuts down."""

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

    return background
