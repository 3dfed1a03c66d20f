"""Fires digests from the schedules stored in our own tables (APScheduler 3, AsyncIOScheduler).

The job list is re-read from the database every ``refresh_seconds``, so schedules added, edited,
paused or deleted from chat or the CLI take effect without a restart. Each firing is recorded as
a DigestRun unique on (digest, scheduled time), so a firing is never sent twice, even when two
instances both try. A local-time digest gets one job per time zone its members live in.

Firings missed while no scheduler ran (the bot was down, or leadership was changing hands) are
handled on start: the latest one within the grace time is sent once (coalesced), older ones are
logged and not sent, since a Monday-morning digest on Tuesday afternoon helps nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from bot.compose.text import plural
from bot.plugins import Composer
from bot.sealing import Sealer
from bot.services.digest_runs import start_run
from bot.services.digests import cron_trigger, describe_schedule, list_digests
from bot.services.permissions import OPERATOR
from bot.storage.database import Database
from bot.storage.models import Digest, DigestRun, Member
from bot.storage.types import utcnow

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(hours=1)
# How far back a restart looks for firings it missed (only to count and report them).
MISSED_LOOKBACK = timedelta(days=7)
TIME_FORMAT = "%a %d %b %Y %H:%M %Z"


class DigestScheduler:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        *,
        on_queued: Callable[[], None] | None = None,
        refresh_seconds: float = 30.0,
        composers: Mapping[str, Composer] | None = None,
        grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        self.composers = composers or {}
        self.db = db
        self.sealer = sealer
        self.on_queued = on_queued
        self.refresh_seconds = refresh_seconds
        self.grace = grace
        self.scheduler: AsyncIOScheduler | None = None
        self._versions: dict[str, tuple[str, ...]] = {}

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    async def start(self) -> None:
        """Start (or start again after losing leadership) with a fresh job list."""
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._versions = {}
        await self.catch_up()
        await self.refresh()
        self.scheduler.add_job(
            self.refresh, "interval", seconds=self.refresh_seconds, id="refresh", coalesce=True
        )
        self.scheduler.start()
        log.info("scheduler started with %s", plural(len(self._versions), "digest job"))

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None

    async def _plan(self) -> dict[str, tuple[Digest, str]]:
        """Job id -> (digest, the zone its cron is read in) for every enabled schedule."""
        async with self.db.transaction() as session:
            digests = [d for d in await list_digests(session) if d.enabled]
            zones: list[str] = []
            if any(d.local_time for d in digests):
                zones = sorted(
                    z for z in await session.scalars(select(Member.timezone).distinct()) if z
                ) or ["UTC"]
        plan: dict[str, tuple[Digest, str]] = {}
        for digest in digests:
            if digest.local_time:
                for zone in zones:
                    plan[f"digest:{digest.id}@{zone}"] = (digest, zone)
            else:
                plan[f"digest:{digest.id}"] = (digest, digest.timezone)
        return plan

    async def refresh(self) -> None:
        """Bring the scheduler's jobs in line with the digests table."""
        if self.scheduler is None:
            return
        plan = await self._plan()
        for job_id in set(self._versions) - set(plan):
            self.scheduler.remove_job(job_id)
            del self._versions[job_id]
            log.info("schedule %s removed", job_id)
        for job_id, (digest, zone) in plan.items():
            version = (digest.cron, zone, digest.name)
            if self._versions.get(job_id) == version:
                continue
            trigger = cron_trigger(digest.cron, zone)
            self.scheduler.add_job(
                self.fire,
                trigger,
                args=[digest.id, zone],
                id=job_id,
                replace_existing=True,
                coalesce=True,
                misfire_grace_time=int(self.grace.total_seconds()),
            )
            self._versions[job_id] = version
            upcoming = trigger.get_next_fire_time(None, utcnow())
            log.info(
                "schedule '%s' set: %s%s, next %s",
                digest.name,
                describe_schedule(digest),
                f" (jobs per time zone; this one {zone})" if digest.local_time else "",
                upcoming.strftime(TIME_FORMAT) if upcoming else "never",
            )

    async def catch_up(self) -> None:
        """Send, once, the latest firing each schedule missed within the grace time."""
        now = utcnow()
        plan = await self._plan()
        async with self.db.transaction() as session:
            last_runs = dict(
                (
                    await session.execute(
                        select(DigestRun.digest_id, func.max(DigestRun.scheduled_for)).group_by(
                            DigestRun.digest_id
                        )
                    )
                ).all()
            )
        for digest, zone in plan.values():
            since = max(
                d for d in (last_runs.get(digest.id), digest.updated_at, now - MISSED_LOOKBACK) if d
            )
            missed = cron_trigger(digest.cron, zone).firings(since + timedelta(microseconds=1), now)
            if not missed:
                continue
            latest = missed[-1]
            where = f" ({zone})" if digest.local_time else ""
            if latest <= now - self.grace:
                log.warning(
                    "digest '%s'%s missed %d firing(s) while no scheduler ran, the latest at %s; "
                    "older than the grace time (%s), so not sent: advocacy digest run '%s' sends "
                    "it now",
                    digest.name,
                    where,
                    len(missed),
                    latest.strftime(TIME_FORMAT),
                    _minutes(self.grace),
                    digest.name,
                )
                continue
            log.warning(
                "digest '%s'%s missed %d firing(s) while no scheduler ran; sending the one at %s "
                "now (missed firings are coalesced into one)",
                digest.name,
                where,
                len(missed),
                latest.strftime(TIME_FORMAT),
            )
            await self.fire(digest.id, zone, scheduled_for=latest)

    async def fire(
        self, digest_id: int, zone: str | None = None, *, scheduled_for: datetime | None = None
    ) -> None:
        async with self.db.transaction() as session:
            digest = await session.get(Digest, digest_id)
            if digest is None or not digest.enabled:
                return
            zone = zone or digest.timezone
            if scheduled_for is None:
                # APScheduler does not tell a job its scheduled time; the latest due firing is it.
                firings = cron_trigger(digest.cron, zone).firings(utcnow() - self.grace, utcnow())
                if not firings:
                    return
                scheduled_for = firings[-1]
            outcome = await start_run(
                session,
                self.sealer,
                digest,
                actor=OPERATOR,
                trigger="schedule",
                scheduled_for=scheduled_for,
                composers=self.composers,
                zone=zone,
            )
        if outcome is None:
            log.info("digest '%s' firing already handled", digest.name)
        elif outcome.queued:
            log.info("digest '%s' fired: %d deliveries queued", digest.name, outcome.queued)
            if self.on_queued:
                self.on_queued()
        else:
            log.info("digest '%s' fired, nothing sent: %s", digest.name, outcome.note)


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"
