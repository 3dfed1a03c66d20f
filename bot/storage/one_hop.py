"""Short SQLite write transactions run whole on one thread of their own, in one hop.

Under a burst the event loop is full of requests, and each ``await`` inside a transaction waits
for a whole turn of it. An aiosqlite transaction awaits five or six times (connection, BEGIN,
statement, rows, COMMIT, reset), so an insert that costs SQLite a millisecond took 25 ms of wall
time, and the inbox's acknowledgements queued behind it. Run here, the transaction costs the
loop one wait, and SQLite's part runs beside the requests instead of between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

T = TypeVar("T")


class OneHopWriter:
    """One synchronous connection to the same SQLite file, used by one dedicated thread."""

    def __init__(self, url: str, timeout_seconds: float, configure: Callable[[Engine], None]):
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self.engine = create_engine(
            sync_url,
            # One connection, only ever used from the one thread below.
            poolclass=StaticPool,
            connect_args={"timeout": timeout_seconds, "check_same_thread": False},
            hide_parameters=True,
        )
        configure(self.engine)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-one-hop")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` inside BEGIN IMMEDIATE … COMMIT (rolled back if it raises).
        The caller holds the process's writer turn."""
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self._in_transaction, work
        )

    def _in_transaction(self, work: Callable[[Connection], T]) -> T:
        with self.engine.begin() as connection:
            return work(connection)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.engine.dispose()
