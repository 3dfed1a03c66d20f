"""Leader election: exactly one ``advocacy serve`` runs the scheduler and the periodic jobs.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own; when the
leader dies (even by ``kill -9``) or loses its connection, the server drops the lock and another
instance takes it on its next try. On SQLite (one machine) an exclusive ``flock`` on a file next
to the database does the same: the kernel releases it when the process dies. Every instance,
leader or not, drains the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.database import Database

log = logging.getLogger(__name__)

# pg_advisory_lock keys are 64-bit; this one spells "advocacy" scheduler in ASCII-ish hex.
SCHEDULER_LOCK_KEY = 0x61647663_73636864
DEFAULT_RETRY_SECONDS = 5.0


class Lock(Protocol):
    async def try_acquire(self) -> bool: ...
    async def still_held(self) -> bool: ...
    async def release(self) -> None: ...


class PostgresAdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection, checked by a round trip."""

    def __init__(self, db: Database, key: int = SCHEDULER_LOCK_KEY) -> None:
        self.db = db
        self.key = key
        self._connection: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        connection = await self.db.engine.connect()
        try:
            taken = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            )
            # The lock belongs to the session, not the transaction: end the transaction so the
            # connection does not sit "idle in transaction" for as long as it leads.
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not taken:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            held = await self._connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND granted"
                )
            )
            await self._connection.commit()
        except Exception as error:
            log.warning("scheduler leadership lost with the database connection: %s", error)
            await self._drop()
            return False
        return bool(held)

    async def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(Exception):
            await self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
            )
            await self._connection.commit()
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


class FileLock:
    """An exclusive, non-blocking ``flock`` held for as long as the process lives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): a single-instance default, so lead
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def scheduler_lock(db: Database, data_dir: Path) -> Lock:
    if not db.is_sqlite:
        # Deployments in different schemas of one database each elect their own leader.
        return PostgresAdvisoryLock(db, SCHEDULER_LOCK_KEY ^ zlib.crc32(db.schema.encode()))
    database = make_url(db.url).database
    if database and database != ":memory:":
        return FileLock(Path(f"{database}.scheduler-lock"))
    return FileLock(data_dir / "scheduler.lock")


class Leadership:
    """Try to lead every ``retry_seconds``; while leading, run ``on_elected``'s work and call
    ``on_deposed`` when the lock is lost, so the scheduler never runs in two places."""

    def __init__(
        self,
        lock: Lock,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
        *,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.lock = lock
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.retry_seconds = retry_seconds
        self.leading = False

    async def run(self, stop: asyncio.Event) -> None:
        waiting_logged = False
        try:
            while not stop.is_set():
                if self.leading:
                    if not await self.lock.still_held():
                        self.leading = False
                        log.warning("this instance no longer runs the scheduler; stopping it")
                        await self.on_deposed()
                else:
                    try:
                        acquired = await self.lock.try_acquire()
                    except Exception as error:
                        log.warning("could not try for scheduler leadership: %s", error)
                        acquired = False
                    if acquired:
                        self.leading = True
                        log.info("this instance runs the scheduler (it holds the leader lock)")
                        await self.on_elected()
                    elif not waiting_logged:
                        log.info(
                            "another instance runs the scheduler; this one sends deliveries and "
                            "takes over if that one stops"
                        )
                        waiting_logged = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.retry_seconds)
        finally:
            if self.leading:
                self.leading = False
                await self.on_deposed()
            await self.lock.release()
