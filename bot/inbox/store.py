"""Where the inbox keeps its events: beside a SQLite database, in a file of its own.

On SQLite there is one writer at a time, and the server's handlers hold the main file's write
lock for their whole transaction, which on an event loop busy with requests lasts tens of
milliseconds. An acknowledgement that had to wait for it waited for every handler; measured,
that capped Slack's acks at a quarter of bare Bolt's. So on a SQLite file the inbox lives in
``<database>-inbox`` (``advocacy.db-inbox`` by default), with a write lock of its own, and its
short statements run right on the event loop, without a thread hop or a queue: a batch of 40
acceptances costs the loop about 3 ms, less than one handler's turn.

What makes an event done stays in the main database, in the handler's own transaction: a marker
under the event's keyed id (``Receipt.mark_done``), which a second attempt finds and stops at.
The inbox file's row is then settled (marked done, its sealed payload cleared) in a second, small
write; a crash between the two leaves the row pending, and the next claim finds the marker and
settles it without doing the work again. A commit across two files is not atomic, which is why
the marker, not the inbox file, decides.

On PostgreSQL (row locks: acceptances do not queue behind handlers) and on an in-memory SQLite
database the inbox stays in the main database's ``inbox_events``, and ``mark_done`` marks the
row itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from bot.storage.database import (
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    DatabaseBusy,
    configure_sqlite,
    create_private,
)
from bot.storage.models import InboxEvent

log = logging.getLogger("bot.inbox")

T = TypeVar("T")

INBOX_FILE_SUFFIX = "-inbox"
# The inbox file's own schema version (PRAGMA user_version): 1 the table, 2 the claim index.
INBOX_FILE_VERSION = 2
# A claim (bot/inbox/rows.py, claim) goes straight to its kinds' waiting rows: without it each
# claim (every half second, for each kind with free slots) read every waiting row of every kind
# from the table, on the event loop: 65 ms a claim with 20,000 clicks waiting, in a burst. Not
# lease_until: renewing leases would then rewrite the index too (twice the time).
CLAIM_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_inbox_file_claim ON inbox_events (status, kind, next_attempt_at)"
)
# While another process (a CLI command, another instance) writes the inbox file, try again after
# these pauses, without blocking the event loop, until the busy time-out.
BUSY_PAUSES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
CHECKPOINT_EVERY_SECONDS = 1.0


def inbox_file(db: Database) -> Path | None:
    """The inbox's own file for a SQLite database file; None where the inbox shares the main
    database (PostgreSQL, an in-memory or URI-named SQLite database)."""
    if not db.is_sqlite:
        return None
    database = make_url(db.url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database + INBOX_FILE_SUFFIX)


class InboxStore:
    """Runs the inbox's statements (synchronous SQLAlchemy Core) in one write transaction each,
    on whichever database holds the inbox."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = inbox_file(db)
        self._engine: Engine | None = None
        self._connection: Connection | None = None
        self._checkpointing: asyncio.Task[None] | None = None

    @property
    def separate(self) -> bool:
        """Whether the inbox has a file of its own (then done markers live in the main one)."""
        return self.path is not None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in one write transaction on the inbox's database."""
        if self.path is None:
            return await self.db.run_sync_write(work, urgent=True)
        waited = 0.0
        for attempt in range(10_000):
            try:
                return self._run_here(work)
            except OperationalError as error:
                if not _is_busy(error):
                    raise
            pause = BUSY_PAUSES[min(attempt, len(BUSY_PAUSES) - 1)]
            if waited >= SQLITE_BUSY_TIMEOUT_MS / 1000:
                break
            await asyncio.sleep(pause)
            waited += pause
        raise DatabaseBusy("the inbox stayed busy; try again in a moment")

    def _run_here(self, work: Callable[[Connection], T]) -> T:
        """On the calling thread, at once: the statements are short and SQLite answers without
        waiting (busy time-out 0; ``run`` waits for another process's lock asynchronously)."""
        connection = self._connect()
        with connection.begin():
            return work(connection)

    def _connect(self) -> Connection:
        if self._connection is not None:
            return self._connection
        assert self.path is not None
        create_private(str(self.path))
        engine = create_engine(
            f"sqlite+pysqlite:///{self.path}",
            poolclass=StaticPool,
            connect_args={"timeout": 0, "check_same_thread": False},
            hide_parameters=True,
        )
        # Busy time-out 0 (``run`` waits for another process asynchronously); checkpoints run
        # on a thread of their own (_checkpoint_forever), never in a commit on the loop.
        configure_sqlite(engine, busy_timeout_ms=0, extra_pragmas=("wal_autocheckpoint = 0",))
        connection = engine.connect()
        try:
            with connection.begin():
                _create_schema(connection)
        except Exception:
            connection.close()
            engine.dispose()
            raise
        self._engine, self._connection = engine, connection
        with contextlib.suppress(RuntimeError):  # no running loop: a synchronous caller
            self._checkpointing = asyncio.get_running_loop().create_task(
                self._checkpoint_forever(), name="inbox-checkpoint"
            )
        return connection

    async def _checkpoint_forever(self) -> None:
        """Copy the inbox file's write-ahead log back into it, off the event loop (the
        loop's own connection never does: a checkpoint may wait on the disk)."""
        assert self.path is not None
        path = str(self.path)
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_SECONDS)
            try:
                await asyncio.to_thread(_checkpoint, path)
            except Exception as error:  # the next one catches up
                log.debug("inbox: checkpoint skipped: %s", error)

    async def close(self) -> None:
        if self._checkpointing is not None:
            self._checkpointing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointing
            self._checkpointing = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._engine is not None:
            self._engine.dispose()  # the last connection to close checkpoints the file
            self._engine = None


def _is_busy(error: OperationalError) -> bool:
    original = error.orig
    if isinstance(original, sqlite3.OperationalError):
        code = getattr(original, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "database is locked" in str(original)


def _create_schema(connection: Connection) -> None:
    version = connection.exec_driver_sql("PRAGMA user_version").scalar() or 0
    if version >= INBOX_FILE_VERSION:
        return
    InboxEvent.__table__.create(connection, checkfirst=True)  # type: ignore[attr-defined]
    connection.exec_driver_sql(CLAIM_INDEX)
    connection.exec_driver_sql(f"PRAGMA user_version = {INBOX_FILE_VERSION}")


def _checkpoint(path: str) -> None:
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        connection.close()
