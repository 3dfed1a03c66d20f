"""Exactly one instance runs the scheduler: an advisory lock on PostgreSQL, a file lock on
SQLite; when the leader stops, dies or loses its database session, another takes over."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.leader import Leadership, PostgresAdvisoryLock, scheduler_lock
from bot.storage.database import Database
from tests.serve_process import wait_for


@dataclass
class Candidate:
    name: str
    db: Database
    leadership: Leadership | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    terms: list[str] = field(default_factory=list)

    def start(self, data_dir: Path) -> None:
        async def elected() -> None:
            self.terms.append("elected")

        async def deposed() -> None:
            self.terms.append("deposed")

        self.leadership = Leadership(
            scheduler_lock(self.db, data_dir), elected, deposed, retry_seconds=0.1
        )
        self.task = asyncio.create_task(self.leadership.run(self.stop))

    @property
    def leading(self) -> bool:
        return bool(self.leadership and self.leadership.leading)

    async def resign(self) -> None:
        self.stop.set()
        assert self.task is not None
        await self.task


async def test_one_leader_at_a_time_and_a_successor_when_it_stops(
    settings: Settings, tmp_path: Path
) -> None:
    candidates = [
        Candidate(name, Database(settings.database_url, search_path=settings.database_schema))
        for name in ("a", "b", "c")
    ]
    try:
        for candidate in candidates:
            candidate.start(tmp_path)
        first = await wait_for(lambda: next((c for c in candidates if c.leading), None), "a leader")
        await asyncio.sleep(0.5)  # several rounds of the others trying
        assert [c.name for c in candidates if c.leading] == [first.name]
        assert all(c.terms == [] for c in candidates if c is not first)

        await first.resign()
        assert first.terms == ["elected", "deposed"]
        second = await wait_for(
            lambda: next((c for c in candidates if c.leading), None), "a successor"
        )
        await asyncio.sleep(0.5)
        assert [c.name for c in candidates if c.leading] == [second.name]
    finally:
        for candidate in candidates:
            candidate.stop.set()
        await asyncio.gather(*(c.task for c in candidates if c.task))
        for candidate in candidates:
            await candidate.db.dispose()


async def test_a_leader_whose_database_session_dies_steps_down(
    settings: Settings, tmp_path: Path
) -> None:
    if settings.database_url.startswith("sqlite"):
        return  # a file lock has no session to lose; the kernel releases it when the process dies
    a = Candidate("a", Database(settings.database_url, search_path=settings.database_schema))
    b = Candidate("b", Database(settings.database_url, search_path=settings.database_schema))
    try:
        a.start(tmp_path)
        await wait_for(lambda: a.leading, "a to lead")
        b.start(tmp_path)
        await asyncio.sleep(0.3)
        assert not b.leading
        # The database drops the leader's session (a restart, a network cut, an idle time-out).
        assert a.leadership is not None and isinstance(a.leadership.lock, PostgresAdvisoryLock)
        connection = a.leadership.lock._connection
        assert connection is not None
        pid = (await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar()
        await connection.commit()
        async with b.db.engine.connect() as admin:
            await admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        await wait_for(lambda: "deposed" in a.terms, "the old leader to step down")
        await wait_for(lambda: a.leading != b.leading and (a.leading or b.leading), "one leader")
    finally:
        for candidate in (a, b):
            candidate.stop.set()
        await asyncio.gather(*(c.task for c in (a, b) if c.task))
        for candidate in (a, b):
            await candidate.db.dispose()
