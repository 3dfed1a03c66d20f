"""Lookups of one kind of adapter record, read together: a key asked for while a read is on its
way waits for the next read, which fetches every key asked for meanwhile in one statement.

A digest run looks up two records (the person's chat, then its reference) for every send, and
these reads were a sixth of the sending process's CPU, mostly the cost of a statement rather than
of its rows; the sends of an outbox batch run side by side, so their lookups share reads."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.platform.store import AdapterStore

BATCH = 200  # keys in one statement, at most (well under any database's parameter limit)


class BatchedLookups:
    def __init__(self, store: AdapterStore, kind: str) -> None:
        self.store = store
        self.kind = kind
        self._waiting: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def get(self, key: str) -> dict[str, Any] | None:
        """The record's value, or None when there is none (or it expired)."""
        loop = asyncio.get_running_loop()
        future = self._waiting.get(key)
        if future is None or future.get_loop() is not loop:
            if self._reader is not None and self._reader.get_loop() is not loop:
                self._waiting, self._reader = {}, None  # left behind by a loop that ended
            future = self._waiting[key] = loop.create_future()
        if self._reader is None or self._reader.done():
            self._reader = loop.create_task(self._read())
        # Shielded: a caller cancelled must not cancel the answer others wait for.
        return await asyncio.shield(future)

    async def _read(self) -> None:
        while self._waiting:
            keys = list(self._waiting)[:BATCH]
            futures = {key: self._waiting.pop(key) for key in keys}
            try:
                records = await self.store.get_many(self.kind, keys)
            except Exception as error:
                for future in futures.values():
                    if not future.done():
                        future.set_exception(error)
                continue
            except BaseException:  # cancelled: so are the lookups waiting for it
                for future in [*futures.values(), *self._waiting.values()]:
                    future.cancel()
                self._waiting.clear()
                raise
            for key, future in futures.items():
                if not future.done():
                    record = records.get(key)
                    future.set_result(record.value if record is not None else None)
