"""The durable inbox on its own: acceptance de-duplicates by a keyed hash of the platform's event
id, payloads are sealed while they wait and gone once handled, a failure is tried again and then
set aside for an admin, a worker whose lease ran out cannot record work twice, handled rows are
purged after the retry window, and SQLite's writer queue lets acknowledgements go first."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text, update

from bot.app import Application
from bot.cli.main import cli
from bot.inbox import DONE, FAILED, PENDING, Inbox, InboxItem, Receipt, RetryLater
from bot.inbox import rows as inbox_rows
from bot.inbox import worker as inbox_worker
from bot.sealing import Sealer
from bot.storage.database import DatabaseBusy, WriterTurn
from bot.storage.models import InboxEvent
from bot.storage.types import utcnow
from tests.inbox_support import until_settled, working


async def rows(app: Application) -> list[Any]:
    """The inbox's rows, wherever it keeps them (a file of its own beside a SQLite file)."""
    table = InboxEvent.__table__
    return await app.inbox.store.run(
        lambda connection: connection.execute(select(table).order_by(table.c.id)).all()
    )


async def test_a_retried_delivery_is_written_once_even_within_one_commit(
    app: Application,
) -> None:
    handled: list[dict[str, Any]] = []

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        async with app.db.transaction() as session:
            if await receipt.mark_done(session):
                handled.append(item.payload)

    app.inbox.register("test", handler)
    async with working(app.inbox):
        # Three deliveries of one event arrive together (one commit) and once more later.
        answers = await asyncio.gather(
            *(app.inbox.accept("slack", "test", "Ev1", {"n": n}) for n in range(3))
        )
        later = await app.inbox.accept("slack", "test", "Ev1", {"n": 3})
        other = await app.inbox.accept("teams", "test", "Ev1", {"n": 4})  # another platform's
        await until_settled(app.inbox)
    assert [a.duplicate for a in answers] == [False, True, True]
    assert later.duplicate and not other.duplicate
    assert handled == [{"n": 0}, {"n": 4}]


async def test_event_ids_and_payloads_never_reach_the_database_in_clear(
    app: Application,
) -> None:
    """A Teams activity id names the author's conversation; a payload holds who did what."""
    conversation = "a:1XyZconversationOfAlice"
    seen: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        await release.wait()
        async with app.db.transaction() as session:
            await receipt.mark_done(session)
        seen.append(item.payload)

    app.inbox.register("test", handler)
    async with working(app.inbox):
        await app.inbox.accept(
            "teams", "test", f"{conversation}:1700000000", {"from": "alice", "text": "my idea"}
        )
        waiting = await database_text(app)
        release.set()
        await until_settled(app.inbox)
        done = await database_text(app)
    assert seen == [{"from": "alice", "text": "my idea"}]
    for dump in (waiting, done):
        assert conversation not in dump and "1700000000" not in dump
        assert "alice" not in dump and "my idea" not in dump
    [row] = await rows(app)
    assert row.status == DONE and row.payload is None


async def database_text(app: Application) -> str:
    """Every inbox row and done marker as text, as someone reading the database (and the
    inbox's own file, on SQLite) would see it."""
    async with app.db.transaction() as session:
        result = await session.execute(text("SELECT * FROM inbox_events"))
        main = repr(result.all())
    inbox = await app.inbox.store.run(
        lambda connection: repr(connection.exec_driver_sql("SELECT * FROM inbox_events").all())
    )
    return main + inbox


async def test_a_failing_event_is_tried_again_then_set_aside_and_put_back(
    app: Application, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    monkeypatch.setattr("bot.inbox.worker.backoff_seconds", lambda attempts: 0.0)
    attempts: list[int] = []
    healthy = False

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        attempts.append(receipt.attempt)
        if not healthy:
            raise RetryLater("the database went away")
        async with app.db.transaction() as session:
            await receipt.mark_done(session)

    app.inbox.register("test", handler)
    async with working(app.inbox):
        accepted = await app.inbox.accept("slack", "test", "Ev2", {})
        for _ in range(500):
            [row] = await rows(app)
            if row.status == FAILED:
                break
            await asyncio.sleep(0.01)
    assert attempts == [1, 2, 3, 4, 5]
    assert row.status == FAILED and row.last_error == "the database went away"
    assert row.payload is not None  # kept, sealed, so an admin can put it back
    assert await app.inbox.pending_count() == 0

    # An admin sees it (without its content) and puts it back once the cause is fixed.
    cli_env_for(app, monkeypatch)
    listed = await advocacy("inbox", "failed")
    assert listed.exit_code == 0 and f"{accepted.item_id}" in listed.output
    assert "the database went away" in listed.output
    assert (await advocacy("inbox", "retry", "9999")).exit_code != 0
    put_back = await advocacy("inbox", "retry", str(accepted.item_id))
    assert put_back.exit_code == 0 and "1 event back in the queue" in put_back.output
    healthy = True
    async with working(app.inbox):
        await until_settled(app.inbox)
    [row] = await rows(app)
    assert row.status == DONE and attempts[-1] == 1


async def advocacy(*args: str) -> Result:
    """The CLI in a thread of its own (it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


def cli_env_for(app: Application, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("DATABASE_SCHEMA", app.settings.database_schema or "")
    monkeypatch.setenv("ADVOCACY_SECRET_KEY", app.settings.secret_key or "")


async def test_a_worker_whose_lease_ran_out_cannot_record_the_work_again(
    app: Application,
) -> None:
    """Worker A stalls past its lease; worker B takes the event over and records it. When A
    wakes up, marking the event done finds it is no longer A's: A's transaction does nothing."""
    # A's lease is long, so that it does not renew it during the test: the test ends it by
    # hand, as a worker that stalled as a whole (not renewing) would let it run out.
    first = Inbox(app.db, app.sealer, app.metrics, lease=timedelta(hours=1))
    second = Inbox(app.db, app.sealer, app.metrics, lease=timedelta(seconds=30))
    recorded: list[str] = []
    stalled, resume = asyncio.Event(), asyncio.Event()

    def handler_for(name: str):
        async def handler(item: InboxItem, receipt: Receipt) -> None:
            if name == "A":
                stalled.set()
                await resume.wait()
            async with app.db.transaction() as session:
                if await receipt.mark_done(session):
                    recorded.append(name)

        return handler

    first.register("test", handler_for("A"))
    second.register("test", handler_for("B"))
    async with working(first):
        await first.accept("slack", "test", "Ev3", {})
        await stalled.wait()
        await app.inbox.store.run(  # A's lease runs out
            lambda connection: connection.execute(
                update(InboxEvent).values(lease_until=utcnow() - timedelta(seconds=1))
            )
        )
        async with working(second):
            await until_settled(second)
        resume.set()
    await first.close()
    await second.close()
    assert recorded == ["B"]


async def test_handled_events_are_forgotten_after_the_retry_window(app: Application) -> None:
    async def handler(item: InboxItem, receipt: Receipt) -> None:
        async with app.db.transaction() as session:
            await receipt.mark_done(session)

    app.inbox.register("test", handler)
    await app.inbox.accept("slack", "other-kind", "waiting", {})  # nobody here handles it
    async with working(app.inbox):
        await app.inbox.accept("slack", "test", "old", {})
        for _ in range(500):
            if [r.status for r in await rows(app)] == [PENDING, DONE]:
                break
            await asyncio.sleep(0.01)
    assert await app.inbox.purge(utcnow()) == 0  # too recent: a retry would still find it
    assert await app.inbox.purge(utcnow() + app.inbox.keep + timedelta(minutes=1)) == 1
    [left] = await rows(app)
    assert left.status == PENDING  # work that waits is never purged


async def test_acknowledgements_go_before_writers_already_waiting() -> None:
    turn = WriterTurn()
    order: list[str] = []
    await turn.acquire()  # a transaction in progress

    async def writer(name: str, urgent: bool) -> None:
        await turn.acquire(urgent=urgent)
        order.append(name)
        turn.release()

    tasks = [
        asyncio.create_task(writer("vote 1", False)),
        asyncio.create_task(writer("vote 2", False)),
    ]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(writer("ack", True)))
    await asyncio.sleep(0)
    turn.release()
    await asyncio.gather(*tasks)
    assert order == ["ack", "vote 1", "vote 2"]


async def test_a_writer_that_gives_up_passes_its_turn_on() -> None:
    turn = WriterTurn()
    await turn.acquire()
    impatient = asyncio.create_task(turn.acquire())
    patient = asyncio.create_task(turn.acquire())
    await asyncio.sleep(0)
    turn.release()  # handed to the impatient one...
    impatient.cancel()  # ...who gives up at that very moment
    with pytest.raises(asyncio.CancelledError):
        await impatient
    await asyncio.wait_for(patient, 5)


async def test_a_platform_that_hangs_holds_up_only_its_own_events(app: Application) -> None:
    """Teams' service stopped answering: its events wait for their slots, but a Slack click
    that arrives meanwhile is recorded at once (one pool of slots for all held it up minutes)."""
    hang = asyncio.Event()
    handled: list[str] = []

    async def hung(item: InboxItem, receipt: Receipt) -> None:
        await hang.wait()

    async def prompt(item: InboxItem, receipt: Receipt) -> None:
        async with app.db.transaction() as session:
            await receipt.mark_done(session)
        handled.append(item.payload["n"])

    app.inbox.register("teams-test", hung)
    app.inbox.register("slack-test", prompt)
    async with working(app.inbox):
        for n in range(app.inbox.concurrency * 3):
            await app.inbox.accept("teams", "teams-test", f"t{n}", {"n": n})
        await app.inbox.accept("slack", "slack-test", "s1", {"n": "click"})
        for _ in range(500):
            if handled:
                break
            await asyncio.sleep(0.01)
        assert handled == ["click"]
        hang.set()


async def until_in_hand(count: Any, wanted: int) -> int:
    """Let the worker (polling every 0.05 s) start what it will; the number in hand then."""
    for _ in range(300):
        if count() >= wanted:
            break
        await asyncio.sleep(0.01)
    for _ in range(10):  # a few more polls: anything more it would start, it starts now
        await asyncio.sleep(0.01)
    return int(count())


async def test_while_requests_arrive_their_events_are_handled_fewer_at_a_time(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handling shares the event loop with the requests being acknowledged: while a platform's
    requests keep coming, its events take fewer slots (the work waits durably in the inbox), and
    every slot once they stop. Requests that wait for their own handling do not count."""
    monkeypatch.setattr(inbox_worker, "ACCEPTING_SECONDS", 3600.0)  # a burst all along
    cap = inbox_worker.ACCEPTING_CONCURRENCY
    clicks = cap + 4
    assert clicks <= app.inbox.concurrency
    release = asyncio.Event()
    in_hand: dict[str, int] = {"click": 0, "modal": 0}
    handled: list[int] = []

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        kind = item.kind.removeprefix("test-")
        in_hand[kind] += 1
        await release.wait()
        async with app.db.transaction() as session:
            await receipt.mark_done(session)
        in_hand[kind] -= 1
        handled.append(item.payload["n"])

    app.inbox.register("test-click", handler)
    app.inbox.register("test-modal", handler)
    async with working(app.inbox):
        for n in range(clicks):
            await app.inbox.accept("slack", "test-click", f"c{n}", {"n": n})
        assert await until_in_hand(lambda: in_hand["click"], cap + 1) == cap
        modals = range(clicks, clicks + 3)
        for n in modals:  # answered only once handled: each has its slot at once
            await app.inbox.accept("slack", "test-modal", f"m{n}", {"n": n}, wait=True)
        assert await until_in_hand(lambda: in_hand["modal"], 3) == 3
        monkeypatch.setattr(inbox_worker, "ACCEPTING_SECONDS", 0.0)  # the burst is over
        assert await until_in_hand(lambda: in_hand["click"], clicks) == clicks
        release.set()
        await until_settled(app.inbox)
    assert sorted(handled) == list(range(clicks + 3))


async def test_renewing_keeps_the_lease_of_every_event_held_a_few_at_a_time(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases are renewed a chunk a write (each write is a stall of the event loop); a worker
    holding several chunks of events, in hand and queued, keeps every one of their leases."""
    monkeypatch.setattr(inbox_rows, "RENEW_CHUNK", 2)
    monkeypatch.setattr(inbox_worker, "ACCEPTING_SECONDS", 3600.0)  # a burst all along
    release = asyncio.Event()

    async def held(item: InboxItem, receipt: Receipt) -> None:
        await release.wait()
        async with app.db.transaction() as session:
            await receipt.mark_done(session)

    renewed: list[int] = []
    renew = inbox_rows.renew

    def counted(*args: Any, **kwargs: Any) -> int:
        renewed.append(renew(*args, **kwargs))
        return renewed[-1]

    monkeypatch.setattr(inbox_rows, "renew", counted)
    monkeypatch.setattr(app.inbox, "lease", timedelta(hours=1))  # renewed only by the test
    app.inbox.register("test", held)
    table = InboxEvent.__table__
    async with working(app.inbox):
        for n in range(5):
            await app.inbox.accept("slack", "test", f"L{n}", {"n": n})
        almost_over = utcnow() + timedelta(seconds=1)
        await app.inbox.store.run(
            lambda connection: connection.execute(update(table).values(lease_until=almost_over))
        )
        await app.inbox._renew()
        leases = [row.lease_until for row in await rows(app)]
        release.set()
        await until_settled(app.inbox)
    assert len(leases) == 5
    assert all(lease > almost_over + timedelta(seconds=5) for lease in leases)
    assert renewed == [2, 2, 1]  # no write holds the loop for more than a chunk


async def test_a_backlog_in_the_database_is_claimed_as_fast_as_it_is_worked_off(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events past what a worker holds wait in the database (a burst, a restart). A claim that
    comes back full means more wait: the next follows as soon as there is room, not at the next
    spaced claim (which kept a 30,000-click backlog at ~80 handled a second, workers idle)."""
    monkeypatch.setattr(inbox_worker, "CLAIM_EVERY_SECONDS", 3600.0)  # spaced claims: one
    waiting = inbox_worker.CLAIM_BATCH * 3 + 7
    for n in range(waiting):  # no worker running yet: they wait in the database
        await app.inbox.accept("slack", "test", f"B{n}", {"n": n})
    handled: list[int] = []

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        async with app.db.transaction() as session:
            await receipt.mark_done(session)
        handled.append(item.payload["n"])

    app.inbox.register("test", handler)
    async with working(app.inbox):
        await until_settled(app.inbox, timeout=60)
    assert sorted(handled) == list(range(waiting))


async def test_events_sealed_with_another_key_wait_and_are_said_once(
    app: Application, caplog: pytest.LogCaptureFixture
) -> None:
    """A restart with another ADVOCACY_SECRET_KEY used to set every waiting event aside, one
    ERROR line each; they wait now (the right key opens them later), and one line says why."""
    for n in range(20):
        await app.inbox.accept("slack", "test", f"Ev{n}", {"n": n})
    other = Inbox(app.db, Sealer("another key"), app.metrics)
    other.register("test", lambda item, receipt: asyncio.sleep(0))
    with caplog.at_level(logging.ERROR, logger="bot.inbox"):
        async with working(other):
            for _ in range(100):
                if any("cannot be opened" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.6)  # a second poll: still one line
    await other.close()
    lines = [r for r in caplog.records if r.name == "bot.inbox"]
    assert len(lines) == 1 and "ADVOCACY_SECRET_KEY" in lines[0].getMessage()
    assert {r.status for r in await rows(app)} == {PENDING}


async def test_a_database_busy_at_start_delays_the_worker_but_does_not_end_it(
    app: Application, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Under load the main database can stay busy past its time-out while the worker starts:
    the worker waits and tries again, or acknowledged events would wait for the next restart."""
    handled: list[dict[str, Any]] = []
    busy_left = [2]
    take_over = app.inbox._take_over_shared_inbox

    async def busy_then_free() -> None:
        if busy_left[0]:
            busy_left[0] -= 1
            raise DatabaseBusy("the database stayed busy; try again in a moment")
        await take_over()

    async def handler(item: InboxItem, receipt: Receipt) -> None:
        async with app.db.transaction() as session:
            if await receipt.mark_done(session):
                handled.append(item.payload)

    monkeypatch.setattr(app.inbox, "_take_over_shared_inbox", busy_then_free)
    app.inbox.register("test", handler)
    await app.inbox.accept("slack", "test", "Ev-busy", {"n": 1})
    with caplog.at_level(logging.WARNING, logger="bot.inbox.worker"):
        async with working(app.inbox):
            await until_settled(app.inbox)
    assert handled == [{"n": 1}]
    assert busy_left == [0]
    assert "busy at start" in caplog.text
