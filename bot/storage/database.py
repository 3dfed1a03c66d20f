"""The async database handle: engine, sessions and the per-engine settings SQLite needs.

SQLite is used from several processes at once (the server and CLI commands), so it runs in WAL
mode with a busy time-out, and every transaction starts with ``BEGIN IMMEDIATE``: a writer waits
for the lock up front instead of failing when it upgrades a read lock half-way through.

Within one process, SQLite writers also queue in order on an asyncio lock: SQLite's own busy
handler polls with sleeps, so under a burst one writer can lose every race for the whole busy
time-out (seen under load as "database is locked"). The queue is first come, first served; the
busy time-out then only arbitrates between processes. An urgent writer (the inbox writing what a
platform waits to hear was received, where it shares an in-memory database) goes before the
others waiting; beside a SQLite file the inbox has a file of its own (``bot/inbox/store.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import os
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 15_000
# The execution option of Database.reading's connections: a deferred BEGIN on SQLite.
READ_ONLY = "advocacy_read_only"

# Set while this task (and tasks it starts) holds the SQLite writer queue: a nested transaction
# does not queue behind itself (it meets SQLite's busy time-out instead, as it always did).
_holds_sqlite_turn: ContextVar[bool] = ContextVar("holds_sqlite_turn", default=False)


class DatabaseBusy(RuntimeError):
    """Waited the whole busy time-out for this process's other writers."""


URL_FORMS = "use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER:PASSWORD@HOST/DB"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``sqlite:///``, a provider's
    ``?sslmode=require``) and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: a mistyped URL may still hold its password.
        raise ValueError(f"DATABASE_URL is not a database URL; {URL_FORMS}.") from None
    if parsed.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # libpq's name, in every managed PostgreSQL's URL; asyncpg takes the same values as ssl.
        query = dict(parsed.query)
        sslmode = query.pop("sslmode")
        parsed = parsed.set(query={"ssl": sslmode, **query})
    if parsed.drivername == "postgresql+asyncpg":
        refuse_unknown_postgres_parameters(parsed.query)
    elif parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise ValueError(f"DATABASE_URL uses '{parsed.drivername}'; {URL_FORMS}.")
    return parsed.render_as_string(hide_password=False)


# URL parameters that reach asyncpg.connect as the strings they are (SQLAlchemy turns none into
# a number but its own prepared_statement_cache_size; host and port are its multi-host form).
POSTGRES_URL_PARAMETERS = frozenset(
    {
        "ssl",
        "host",
        "port",
        "passfile",
        "service",
        "servicefile",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
    }
)


def refuse_unknown_postgres_parameters(query: Mapping[str, object]) -> None:
    """A ``?name=`` asyncpg cannot take fails the first connection with a TypeError deep in
    SQLAlchemy: say which one instead (when asyncpg is missing, require_driver says so)."""
    try:
        import asyncpg
    except ImportError:
        return
    taken = POSTGRES_URL_PARAMETERS & set(inspect.signature(asyncpg.connect).parameters)
    unknown = sorted(set(query) - taken - {"prepared_statement_cache_size"})
    if unknown:
        raise ValueError(
            f"DATABASE_URL's ?{unknown[0]}= is not a setting this bot can pass to PostgreSQL: "
            "remove it (sslmode=require or sslmode=verify-full are taken)."
        )


# What each async driver needs installed, and the project's extra that installs it.
DRIVERS = {"postgresql+asyncpg": ("asyncpg", "PostgreSQL", "postgres")}


class MissingDriver(ValueError):
    """The database's driver is not installed: one line saying what to run (a ValueError, so
    every command shows it as its one-line error)."""


def require_driver(url: str) -> None:
    """Refuse, with the command that fixes it, a URL whose driver is missing: otherwise the
    first connection fails deep inside SQLAlchemy with a long traceback."""
    needed = DRIVERS.get(make_url(url).drivername)
    if needed is None:
        return
    module, database, extra = needed
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingDriver(
            f"DATABASE_URL uses {database} but its driver ({module}) is not installed: run "
            f"{pip_command()} install -e '.[{extra}]' in the project's directory."
        ) from None


def pip_command() -> str:
    """pip of the environment this runs in, as the README spells it (.venv/bin/pip) when it
    is below the current directory."""
    pip = os.path.join(os.path.dirname(sys.executable), "pip")
    relative = os.path.relpath(pip)
    return relative if not relative.startswith("..") else pip


def describe_database_url(url: str) -> str:
    """The URL without its password, for logs (a URL that cannot be read: not shown at all)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(DATABASE_URL, which is not a database URL)"


class Database:
    """Owns the engine; hands out sessions whose transaction commits on success."""

    def __init__(self, url: str, *, search_path: str | None = None, echo: bool = False) -> None:
        self.url = normalise_database_url(url)
        require_driver(self.url)
        self.schema = search_path or ""
        connect_args: dict[str, Any] = {}
        # Parameters stay out of error messages and logs: they may be who did what.
        engine_args: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
            create_private(make_url(self.url).database)
        elif search_path:
            connect_args["server_settings"] = {"search_path": search_path}
        if not self.is_sqlite:
            engine_args.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
        self.engine: AsyncEngine = create_async_engine(
            self.url, connect_args=connect_args, **engine_args
        )
        if self.is_sqlite:
            configure_sqlite(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = self.engine.execution_options(**{READ_ONLY: True})
        self._writer_turn: WriterTurn | None = None
        # run_in_one_trip on SQLite: a thread and a synchronous engine, made on first use.
        self._trips: ThreadPoolExecutor | None = None
        self._trip_engine: Engine | None = None
        self._writer_turn_loop: asyncio.AbstractEventLoop | None = None

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit when the block succeeds, roll back when it raises.
        ``urgent`` (SQLite): go before the writers already waiting in this process."""
        async with self._writer_turn_held(urgent), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A look at the last commit that writes nothing (rolled back, never flushed). On
        SQLite it neither queues behind this process's writers nor takes the write lock (a
        deferred BEGIN: WAL lets it read while a writer works)."""
        async with self.sessions(bind=self._reader, autoflush=False) as session:
            try:
                yield session
            finally:
                await session.rollback()

    async def run_sync_write(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run ``work(connection)`` (synchronous SQLAlchemy Core) in one write transaction:
        for code that runs the same statements here and on a connection of its own."""
        async with self._writer_turn_held(urgent), self.engine.begin() as connection:
            return await connection.run_sync(work)

    async def run_in_one_trip(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` (synchronous SQLAlchemy) in one write transaction, its
        statements without a hop back to the event loop between them: on SQLite on a thread of
        its own with a connection of its own (each statement of an ordinary transaction waits
        for the loop's next turn, which under a burst is most of its cost), on PostgreSQL
        through the async connection (each statement a network round trip anyway).

        For batches of short writes (the votes of a burst); ``work`` must not wait on the
        network, and runs again from the start only if the caller retries."""
        if not self._file_on_disk():
            async with self._writer_turn_held(False), self.engine.begin() as connection:
                return await connection.run_sync(work)
        async with self._writer_turn_held(False):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._trip_executor(), self._trip, work)

    def _file_on_disk(self) -> bool:
        """A SQLite file a second connection opens too (not an in-memory database)."""
        database = make_url(self.url).database if self.is_sqlite else None
        return bool(database) and database != ":memory:" and not database.startswith("file:")

    def _trip_executor(self) -> ThreadPoolExecutor:
        if self._trips is None:
            self._trips = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-trip")
        return self._trips

    def _trip(self, work: Callable[[Connection], T]) -> T:
        """On the trip thread: one transaction on its own connection (BEGIN IMMEDIATE, WAL,
        the busy time-out: the same settings as the async engine's)."""
        if self._trip_engine is None:
            sync_url = make_url(self.url).set(drivername="sqlite+pysqlite")
            engine = create_engine(
                sync_url,
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                hide_parameters=True,
            )
            configure_sqlite(engine)
            self._trip_engine = engine
        with self._trip_engine.begin() as connection:
            return work(connection)

    @asynccontextmanager
    async def _writer_turn_held(self, urgent: bool) -> AsyncIterator[None]:
        """SQLite: this process's writer turn for the block (already held: a nested write)."""
        if not self.is_sqlite or _holds_sqlite_turn.get():
            yield
            return
        turn = self._sqlite_turn()
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                await turn.acquire(urgent=urgent)
        except TimeoutError:
            raise DatabaseBusy("the database stayed busy; try again in a moment") from None
        holding = _holds_sqlite_turn.set(True)
        try:
            yield
        finally:
            _holds_sqlite_turn.reset(holding)
            turn.release()

    def _sqlite_turn(self) -> WriterTurn:
        """The writer queue of the running event loop (tests and the CLI run several loops)."""
        loop = asyncio.get_running_loop()
        if self._writer_turn is None or self._writer_turn_loop is not loop:
            self._writer_turn, self._writer_turn_loop = WriterTurn(), loop
        return self._writer_turn

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._trips is not None:
            trips, engine = self._trips, self._trip_engine
            self._trips = self._trip_engine = None
            if engine is not None:
                await asyncio.get_running_loop().run_in_executor(trips, engine.dispose)
            trips.shutdown(wait=False)
        await self.engine.dispose()


def create_private(path: str | None) -> None:
    """A new SQLite file readable by this account only (SQLite would make it, and its WAL,
    readable by everyone on the machine): it holds ideas, answers and sealed references."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except FileNotFoundError:
        # Said here, in one line: SQLite's own "unable to open database file" names no folder,
        # and its driver's thread could print a traceback after the command had ended.
        folder = os.path.dirname(os.path.abspath(path))
        raise ValueError(
            f"cannot use the database sqlite+aiosqlite:///{path}: its folder {folder} does not "
            "exist; create it, or point DATABASE_URL elsewhere."
        ) from None


class WriterTurn:
    """A first-come, first-served lock with a second queue for urgent writers. Urgent and
    ordinary writers take turns when both wait: an urgent one never waits for more than one
    ordinary transaction, and a stream of urgent ones (acknowledgements under a burst) cannot
    starve the ordinary ones (the work being acknowledged)."""

    def __init__(self) -> None:
        self._held = False
        self._last_urgent = False
        self._waiting: deque[tuple[asyncio.Future[None], bool]] = deque()
        self._urgent: deque[tuple[asyncio.Future[None], bool]] = deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._waiting and not self._urgent:
            self._held, self._last_urgent = True, urgent
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._waiting
        entry = (turn, urgent)
        queue.append(entry)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed the turn just as we gave up: pass it on
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(entry)
            raise

    def release(self) -> None:
        """Hand the turn on: to an urgent writer, unless the last one was urgent and an ordinary
        writer waits; or free it."""
        order = (
            (self._waiting, self._urgent) if self._last_urgent else (self._urgent, self._waiting)
        )
        for queue in order:
            while queue:
                turn, urgent = queue.popleft()
                if not turn.done():
                    self._last_urgent = urgent
                    turn.set_result(None)
                    return
        self._held = False


def configure_sqlite(
    engine: Engine,
    *,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    extra_pragmas: tuple[str, ...] = ("foreign_keys = ON",),
) -> None:
    """Per connection: WAL, the busy time-out; every transaction takes the write lock first."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin); the driver's own BEGIN is deferred.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        for pragma in extra_pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READ_ONLY)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
