"""Fires digests from the schedules stored in our own tables (APScheduler 3, AsyncIOScheduler).

The job list is re-read from the database every ``refresh_seconds``, so schedules added, edited
or paused from chat or the CLI take effect without a restart. Each firing is recorded as a
DigestRun unique on (digest, scheduled time), so a firing is never sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.plugins import Composer
from bot.sealing import Sealer
from bot.services.digest_runs import start_run
from bot.services.digests import cron_trigger, latest_fire_time, list_digests, next_fire_times
from bot.services.permissions import OPERATOR
from bot.storage.database import Database
from bot.storage.models import Digest
from bot.storage.types import utcnow

log = logging.getLogger(__name__)

MISFIRE_GRACE = timedelta(hours=1)


class DigestScheduler:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        *,
        on_queued: Callable[[], None] | None = None,
        refresh_seconds: float = 30.0,
        composers: Mapping[str, Composer] | None = None,
    ) -> None:
        self.composers = composers or {}
        self.db = db
        self.sealer = sealer
        self.on_queued = on_queued
        self.refresh_seconds = refresh_seconds
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._versions: dict[str, tuple[str, str, bool]] = {}

    async def start(self) -> None:
        await self.refresh()
        self.scheduler.add_job(
            self.refresh, "interval", seconds=self.refresh_seconds, id="refresh", coalesce=True
        )
        self.scheduler.start()
        log.info("scheduler started with %d digest schedule(s)", len(self._versions))

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def refresh(self) -> None:
        """Bring the scheduler's jobs in line with the digests table."""
        async with self.db.transaction() as session:
            digests = await list_digests(session)
        wanted = {f"digest:{d.id}": d for d in digests if d.enabled}
        for job_id in set(self._versions) - set(wanted):
            self.scheduler.remove_job(job_id)
            del self._versions[job_id]
            log.info("schedule %s removed", job_id)
        for job_id, digest in wanted.items():
            version = (digest.cron, digest.timezone, digest.enabled)
            if self._versions.get(job_id) == version:
                continue
            self.scheduler.add_job(
                self.fire,
                cron_trigger(digest.cron, digest.timezone),
                args=[digest.id],
                id=job_id,
                replace_existing=True,
                coalesce=True,
                misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
            )
            self._versions[job_id] = version
            upcoming = next_fire_times(digest, 1)
            log.info(
                "schedule '%s' set: '%s' in %s, next %s",
                digest.name,
                digest.cron,
                digest.timezone,
                upcoming[0].strftime("%a %d %b %Y %H:%M %Z") if upcoming else "never",
            )

    async def fire(self, digest_id: int) -> None:
        async with self.db.transaction() as session:
            digest = await session.get(Digest, digest_id)
            if digest is None or not digest.enabled:
                return
            # APScheduler does not tell a job its scheduled time; the latest due firing is it.
            scheduled_for = latest_fire_time(digest, utcnow(), MISFIRE_GRACE)
            if scheduled_for is None:
                return
            outcome = await start_run(
                session,
                self.sealer,
                digest,
                actor=OPERATOR,
                trigger="schedule",
                scheduled_for=scheduled_for,
                composers=self.composers,
            )
        if outcome is None:
            log.info("digest '%s' firing already handled", digest.name)
        elif outcome.queued:
            log.info("digest '%s' fired: %d deliveries queued", digest.name, outcome.queued)
            if self.on_queued:
                self.on_queued()
        else:
            log.info("digest '%s' fired, nothing sent: %s", digest.name, outcome.note)
