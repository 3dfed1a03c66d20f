"""Records an adapter keeps in our database: OAuth installations, conversation references, OAuth
states. Values are plain JSON; secrets (tokens) are sealed with the server's key at rest.

``updated_at`` is kept to the day: a conversation reference is written when someone first writes
to the bot, maybe with an anonymous idea, and to the millisecond it would date her next to it.
Nothing reads it to the second (expiry has its own column)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select

from bot.sealing import Sealer
from bot.storage.database import Database
from bot.storage.models import AdapterRecord
from bot.storage.types import utcnow
from bot.storage.upsert import upsert, upsert_many


def _today() -> datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class StoredRecord:
    key: str
    value: dict[str, Any]
    secret: dict[str, Any] | None
    expires_at: datetime | None
    updated_at: datetime


class AdapterStore:
    def __init__(self, db: Database, sealer: Sealer, platform: str) -> None:
        self.db = db
        self.sealer = sealer
        self.platform = platform

    async def put(
        self,
        kind: str,
        key: str,
        value: dict[str, Any],
        *,
        secret: dict[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        async with self.db.transaction() as session:
            await upsert(
                session,
                AdapterRecord.__table__,
                {
                    "platform": self.platform,
                    "kind": kind,
                    "key": key,
                    "value": value,
                    "secret": self.sealer.seal(secret) if secret is not None else None,
                    "expires_at": expires_at,
                    "updated_at": _today(),
                },
                keys=["platform", "kind", "key"],
            )

    async def put_many(self, kind: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Many records of one kind in one transaction (no secrets, no expiry)."""
        now = _today()
        async with self.db.transaction() as session:
            await upsert_many(
                session,
                AdapterRecord.__table__,
                [
                    {
                        "platform": self.platform,
                        "kind": kind,
                        "key": key,
                        "value": value,
                        "secret": None,
                        "expires_at": None,
                        "updated_at": now,
                    }
                    for key, value in items
                ],
                keys=["platform", "kind", "key"],
            )

    async def get(self, kind: str, key: str) -> StoredRecord | None:
        """The record, or None when absent or expired. Read outside the writer queue: a press
        that looks up its card must not wait for every write queued before it."""
        async with self.db.reading() as session:
            record = (
                await session.scalars(
                    select(AdapterRecord).where(
                        AdapterRecord.platform == self.platform,
                        AdapterRecord.kind == kind,
                        AdapterRecord.key == key,
                    )
                )
            ).first()
            return self._stored(record) if record is not None else None

    async def get_many(self, kind: str, keys: list[str]) -> dict[str, StoredRecord]:
        """The records of ``kind`` among ``keys`` that exist and have not expired, by key: one
        read for many lookups (a digest's sends look up a conversation each)."""
        if not keys:
            return {}
        table = AdapterRecord.__table__
        columns = (table.c.key, table.c.value, table.c.secret, table.c.expires_at)
        async with self.db.reading() as session:
            rows = await session.execute(
                select(*columns, table.c.updated_at).where(
                    table.c.platform == self.platform,
                    table.c.kind == kind,
                    table.c.key.in_(keys),
                )
            )
            # Rows, not ORM objects: nothing here is changed, and building objects was most of
            # the cost of a read.
            return {s.key: s for row in rows if (s := self._stored(row)) is not None}

    async def find(self, kind: str) -> list[StoredRecord]:
        async with self.db.transaction() as session:
            records = await session.scalars(
                select(AdapterRecord)
                .where(AdapterRecord.platform == self.platform, AdapterRecord.kind == kind)
                .order_by(AdapterRecord.key)
            )
            return [s for record in records if (s := self._stored(record)) is not None]

    async def delete(self, kind: str, key: str | None = None) -> int:
        """Delete one record, or every record of ``kind`` when ``key`` is None."""
        async with self.db.transaction() as session:
            statement = delete(AdapterRecord).where(
                AdapterRecord.platform == self.platform, AdapterRecord.kind == kind
            )
            if key is not None:
                statement = statement.where(AdapterRecord.key == key)
            return (await session.execute(statement)).rowcount or 0

    async def consume(self, kind: str, key: str) -> StoredRecord | None:
        """Get and delete in one transaction: a one-time value (an OAuth state) is used once."""
        async with self.db.transaction() as session:
            record = (
                await session.scalars(
                    select(AdapterRecord).where(
                        AdapterRecord.platform == self.platform,
                        AdapterRecord.kind == kind,
                        AdapterRecord.key == key,
                    )
                )
            ).first()
            if record is None:
                return None
            stored = self._stored(record)
            await session.delete(record)
            return stored

    def _stored(self, record: AdapterRecord | Row[Any]) -> StoredRecord | None:
        if record.expires_at is not None and record.expires_at <= utcnow():
            return None
        return StoredRecord(
            key=record.key,
            value=dict(record.value),
            secret=self.sealer.open(record.secret) if record.secret else None,
            expires_at=record.expires_at,
            updated_at=record.updated_at,
        )
