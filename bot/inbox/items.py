"""What the inbox hands a handler and what a handler tells it: the event, the receipt that
marks it done in the handler's own transaction, a waiter for a request still open, and the
errors that ask for another attempt."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from bot.storage.models import InboxEvent
from bot.storage.types import utcnow

PENDING, DONE, FAILED = "pending", "done", "failed"


class RetryLater(Exception):
    """Raised by a handler whose work failed for a reason that may pass (the database went
    away, say): the event stays pending and is tried again with backoff."""


@dataclass(frozen=True)
class InboxItem:
    id: int
    event_key: str
    platform: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    received_at: datetime


class Waiter:
    """Someone (an HTTP request still open) who would like the handler's result, for a while:
    a Slack modal shows its errors in place, a webhook answers with what it stored. Whoever
    comes second loses: the handler then shows the result its usual way (a DM, say)."""

    def __init__(self) -> None:
        self._future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._gave_up = False

    def offer(self, value: Any) -> bool:
        """Hand the result over; False when nobody waits any more."""
        if self._gave_up or self._future.done():
            return False
        self._future.set_result(value)
        return True

    async def wait(self, timeout: float) -> tuple[bool, Any]:
        """(True, result) if the handler offered it in time, else (False, None) for good."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._future), timeout)
        if self._future.done():
            return True, self._future.result()
        self._gave_up = True
        return False, None


@dataclass
class Receipt:
    """Given to a handler with its item: marks the item done in the handler's transaction."""

    item: InboxItem
    owner: str
    attempt: int
    last_attempt: bool
    # The inbox has a file of its own (bot/inbox/store.py): mark done in the main database.
    separate: bool = False
    waiter: Waiter | None = None
    done: bool = False
    failed: bool = False

    async def mark_done(self, session: AsyncSession) -> bool:
        """Mark the item handled, within ``session``'s transaction; False when it was handled
        already (another worker took it over when its lease expired, say): then do nothing."""
        result = await session.execute(self._marker(session.bind.dialect.name))
        if result.rowcount != 1:
            return False
        # Done only once that transaction commits (see _receipts_committed); a rollback leaves
        # the event pending.
        session.sync_session.info.setdefault(_RECEIPTS, []).append(self)
        return True

    def _marker(self, dialect: str) -> Executable:
        now = utcnow()
        if self.separate:
            # A marker under the event's keyed id: a second attempt finds it and stops.
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            return (
                insert(InboxEvent.__table__)
                .values(
                    event_key=self.item.event_key,
                    platform=self.item.platform,
                    kind=self.item.kind,
                    status=DONE,
                    attempts=self.attempt,
                    next_attempt_at=now,
                    received_at=self.item.received_at,
                    handled_at=now,
                )
                .on_conflict_do_nothing()
            )
        return (
            update(InboxEvent)
            .where(
                InboxEvent.id == self.item.id,
                InboxEvent.status == PENDING,
                InboxEvent.lease_owner == self.owner,
            )
            .values(status=DONE, payload=None, handled_at=now, lease_until=None)
            .execution_options(synchronize_session=False)
        )


def mark_all_done_in(connection: Connection, receipts: list[Receipt]) -> list[bool]:
    """``mark_done_in`` for many receipts in one statement (or one an owner): for each, whether
    it was marked (False: handled already, or a second receipt for the same event here)."""
    if not receipts:
        return []
    now = utcnow()
    marked: set[Any] = set()
    separate = [r for r in receipts if r.separate]
    if separate:
        dialect = connection.dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        table = InboxEvent.__table__
        rows = {
            r.item.event_key: {
                "event_key": r.item.event_key,
                "platform": r.item.platform,
                "kind": r.item.kind,
                "status": DONE,
                "attempts": r.attempt,
                "next_attempt_at": now,
                "received_at": r.item.received_at,
                "handled_at": now,
            }
            for r in separate
        }
        marked.update(
            connection.execute(
                insert(table)  # type: ignore[arg-type]
                .values(list(rows.values()))
                .on_conflict_do_nothing()
                .returning(table.c.event_key)  # type: ignore[attr-defined]
            ).scalars()
        )
    for owner in {r.owner for r in receipts if not r.separate}:
        ids = [r.item.id for r in receipts if not r.separate and r.owner == owner]
        marked.update(
            connection.execute(
                update(InboxEvent)
                .where(
                    InboxEvent.id.in_(ids),
                    InboxEvent.status == PENDING,
                    InboxEvent.lease_owner == owner,
                )
                .values(status=DONE, payload=None, handled_at=now, lease_until=None)
                .returning(InboxEvent.id)
                .execution_options(synchronize_session=False)
            ).scalars()
        )
    answers = []
    for receipt in receipts:
        key = receipt.item.event_key if receipt.separate else receipt.item.id
        answers.append(key in marked)
        marked.discard(key)  # a second receipt for one event is not marked twice
    return answers


_RECEIPTS = "advocacy.inbox_receipts"


@event.listens_for(Session, "after_commit")
def _receipts_committed(session: Session) -> None:
    """One listener for every session (registering one per transaction costs more than the
    UPDATE it follows): the receipts marked in a transaction that committed are done."""
    for receipt in session.info.pop(_RECEIPTS, ()):
        receipt.done = True


@event.listens_for(Session, "after_rollback")
def _receipts_rolled_back(session: Session) -> None:
    session.info.pop(_RECEIPTS, None)


@dataclass(frozen=True)
class Accepted:
    """What ``accept`` answers: the item (None for an event seen before), and a waiter when
    one was asked for."""

    item_id: int | None
    duplicate: bool
    waiter: Waiter | None = None


class InboxClosed(RuntimeError):
    """The server is stopping: refuse new events (the platform retries or the person is told)."""
