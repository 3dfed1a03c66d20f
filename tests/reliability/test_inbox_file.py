"""The inbox's own file beside a SQLite database: acknowledgements do not wait for handlers'
transactions, and handling stays exactly once although a commit cannot span the two files (a
done marker in the main database decides; the inbox file's row follows)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from bot.app import Application, open_application
from bot.config import Settings
from bot.inbox import DONE, PENDING, Inbox, InboxItem, Receipt, rows
from bot.storage.models import InboxEvent
from bot.storage.types import utcnow
from tests.inbox_support import working


@pytest.fixture
async def app(sqlite_settings: Settings) -> AsyncIterator[Application]:
    async with open_application(sqlite_settings, with_adapters=False) as application:
        yield application


async def until(condition: Any, what: str) -> None:
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def inbox_rows(app: Application) -> list[tuple[Any, ...]]:
    """The inbox file's rows as anyone with the file would read them."""
    path = app.inbox.store.path
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT id, status, payload FROM inbox_events").fetchall()


async def markers(app: Application) -> int:
    async with app.db.transaction() as session:
        return int(
            await session.scalar(select(func.count(InboxEvent.id)).where(InboxEvent.status == DONE))
            or 0
        )


async def test_the_inbox_keeps_a_file_of_its_own_beside_a_sqlite_database(
    app: Application,
) -> None:
    database = Path(app.settings.database_url.split("///", 1)[1])
    app.inbox.register("test", lambda item, receipt: asyncio.sleep(0))
    await app.inbox.accept("slack", "test", "Ev1", {"text": "secret idea"})
    assert app.inbox.store.path == Path(f"{database}-inbox")
    [(_, status, payload)] = inbox_rows(app)
    assert status == PENDING and "secret idea" not in payload  # sealed
    assert app.inbox.store.path.stat().st_mode & 0o077 == 0  # readable by this account only
    async with app.db.transaction() as session:  # nothing in the main database yet
        assert await session.scalar(select(func.count(InboxEvent.id))) == 0


async def test_an_acknowledgement_does_not_wait_for_a_handlers_transaction(
    app: Application,
) -> None:
    """A handler holding the main database's write lock used to hold up every acknowledgement
    behind it; the inbox file has a lock of its own."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold_the_main_database() -> None:
        async with app.db.transaction() as session:
            await session.execute(select(1))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_main_database())
    await holding.wait()
    try:
        accepted = await asyncio.wait_for(
            app.inbox.accept("slack", "test", "while-busy", {"n": 1}), timeout=10
        )
        assert not holder.done()  # acknowledged while the main database was still held
        assert accepted.item_id is not None and not accepted.duplicate
    finally:
        release.set()
        await holder


async def test_an_event_handled_before_a_crash_is_not_handled_again(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler's transaction committed (with its marker), then the process died before the
    inbox file's row was marked done: the next worker finds the marker and only settles it."""
    handled: list[int] = []
    calls: list[int] = []  # every time the work was started, recorded or not

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        calls.append(item.payload["n"])
        async with app.db.transaction() as session:
            if await receipt.mark_done(session):
                handled.append(item.payload["n"])

    def crash_before_settling(*args: Any, **kwargs: Any) -> int:
        raise OSError("killed")

    monkeypatch.setattr(rows, "settle", crash_before_settling)
    monkeypatch.setattr("bot.inbox.worker.asyncio.sleep", _no_wait(asyncio.sleep))
    app.inbox.register("test", handler)
    async with working(app.inbox):
        await app.inbox.accept("slack", "test", "Ev-crash", {"n": 1})
        await until(lambda: _true(handled), "the handler")
    assert handled == [1]
    assert [status for _, status, _ in inbox_rows(app)] == [PENDING]  # never settled
    assert await markers(app) == 1

    monkeypatch.undo()
    restarted = Inbox(app.db, app.sealer, app.metrics, lease=timedelta(seconds=30))
    restarted.register("test", handler)
    async with working(restarted):
        await until(restarted.settled, "the restarted inbox to settle")
    await restarted.close()
    assert handled == [1]  # not twice
    assert calls == [1]  # the marker was found at the claim: the work was not even started
    [(_, status, payload)] = inbox_rows(app)
    assert status == DONE and payload is None


async def test_a_second_worker_cannot_record_an_event_already_marked(app: Application) -> None:
    """Two workers with one event (the first one's lease ran out): the marker's unique key
    lets exactly one transaction record it; the other's does nothing."""
    recorded: list[str] = []
    [item] = [await _item(app, "Ev-twice")]
    for name in ("A", "B"):
        receipt = Receipt(item, f"worker-{name}", 1, False, separate=True)
        async with app.db.transaction() as session:
            if await receipt.mark_done(session):
                recorded.append(name)
    assert recorded == ["A"]


async def test_purging_old_markers_never_lets_an_event_be_handled_twice(
    app: Application,
) -> None:
    """A marker outlives the retry window only while its event's row still waits (a crash
    between the two writes, and a long outage after it): the purge settles the row first."""
    item = await _item(app, "Ev-old")
    async with app.db.transaction() as session:
        assert await Receipt(item, "gone", 1, False, separate=True).mark_done(session)
    later = utcnow() + app.inbox.keep + timedelta(hours=1)
    assert await app.inbox.purge(later) == 0  # the row was still waiting: settled, not purged
    [(_, status, _)] = inbox_rows(app)
    assert status == DONE
    assert await markers(app) == 0
    assert await app.inbox.purge(later + app.inbox.keep) == 1
    assert inbox_rows(app) == []


async def test_events_left_in_the_main_database_by_an_older_server_move_over(
    app: Application,
) -> None:
    """Before the inbox had a file of its own, waiting events were in the main database."""
    now = utcnow()
    async with app.db.transaction() as session:
        session.add(
            InboxEvent(
                event_key=app.sealer.event_key("slack", "Ev-before"),
                platform="slack",
                kind="test",
                payload=app.sealer.seal({"n": 7}),  # sealed the way it was then
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                received_at=now,
            )
        )
    handled: list[int] = []

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        async with app.db.transaction() as session:
            if await receipt.mark_done(session):
                handled.append(item.payload["n"])

    app.inbox.register("test", handler)
    async with working(app.inbox):
        await until(lambda: _true(handled), "the moved event")
        await until(app.inbox.settled, "the inbox to settle")
    assert handled == [7]
    async with app.db.transaction() as session:
        statuses = list(await session.scalars(select(InboxEvent.status)))
    assert statuses == [DONE]  # only the marker stays in the main database


async def _item(app: Application, event_id: str) -> InboxItem:
    accepted = await app.inbox.accept("slack", "test", event_id, {"n": 1})
    assert accepted.item_id is not None
    await app.inbox.store.run(
        lambda connection: connection.execute(
            update(InboxEvent).values(lease_owner=None, lease_until=None)
        )
    )
    return InboxItem(
        accepted.item_id,
        app.sealer.event_key("slack", event_id),
        "slack",
        "test",
        {"n": 1},
        0,
        utcnow(),
    )


async def _true(items: list[Any]) -> bool:
    return bool(items)


def _no_wait(sleep: Any) -> Any:
    """The settle retry's one-second pause, made short (the rest of asyncio keeps its own)."""

    async def short(delay: float, *args: Any) -> Any:
        return await sleep(min(delay, 0.01), *args)

    return short


async def test_a_claim_reads_only_its_own_kinds_waiting_rows_even_in_an_older_file(
    sqlite_settings: Settings,
) -> None:
    """A claim runs on the event loop every half second; in a burst thousands of clicks wait,
    leased here. Looking for another kind's events must not read them all (it did: 65 ms a
    claim at 20,000). An inbox file written before the claim index gets it at the next start."""
    database = Path(sqlite_settings.database_url.split("///", 1)[1])
    older = sqlite3.connect(f"{database}-inbox")
    with contextlib.closing(older), older:
        older.execute(
            "CREATE TABLE inbox_events (id INTEGER PRIMARY KEY, event_key VARCHAR(64) UNIQUE, "
            "platform VARCHAR(20), kind VARCHAR(40), payload TEXT, status VARCHAR(10), "
            "attempts INTEGER, next_attempt_at DATETIME, lease_until DATETIME, "
            "lease_owner VARCHAR(100), last_error TEXT, received_at DATETIME, "
            "handled_at DATETIME)"
        )
        older.execute("PRAGMA user_version = 1")
    async with open_application(sqlite_settings, with_adapters=False) as app:
        statements: list[tuple[str, Any]] = []

        def claim(connection: Any) -> list[rows.Claimed]:
            def note(*args: Any) -> None:
                statements.append((args[2], args[3]))

            event.listen(connection, "before_cursor_execute", note)
            try:
                now = utcnow()
                return rows.claim(connection, ["teams"], "me", now, now, limit=100)
            finally:
                event.remove(connection, "before_cursor_execute", note)

        assert await app.inbox.store.run(claim) == []
        [(query, parameters)] = statements
        plan = await app.inbox.store.run(
            lambda connection: connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {query}", parameters
            ).all()
        )
    assert "ix_inbox_file_claim (status=? AND kind=?" in str(plan)
