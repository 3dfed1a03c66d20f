"""The outbox's side of pacing: the next batch is claimed while one sends (no pause at the cap
between batches) without ever having more than one batch sent and unrecorded, and a send that
could not get a slot from the shared pacer goes back to the queue, its attempt not counted."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.app import Application
from bot.domain import DeliveryStatus
from bot.messages import Message
from bot.outbox.queue import Recipient, enqueue
from bot.shared_pacing import PacingUnavailable
from bot.storage.models import Delivery
from tests.fakes import RemotePlatform, Sent


async def queue_for(app: Application, people: int) -> None:
    async with app.db.transaction() as session:
        await enqueue(
            session,
            Message.text("digest"),
            [Recipient("remote", f"user{n}") for n in range(people)],
            sealer=app.sealer,
        )


async def count(app: Application, *conditions: object) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count(Delivery.id)).where(*conditions)) or 0)


async def test_the_next_batch_is_claimed_while_one_sends_and_sent_only_after_it_is_recorded(
    app: Application, remote: RemotePlatform
) -> None:
    assert app.worker is not None
    app.worker.batch_size = 10
    await queue_for(app, 30)
    seen: list[tuple[int, int, int]] = []  # at each send: (sent so far, claimed, recorded sent)

    async def look(sent: Sent, ref: str) -> None:
        seen.append(
            (
                len(remote.sent),
                await count(app, Delivery.status == DeliveryStatus.SENDING),
                await count(app, Delivery.status == DeliveryStatus.SENT),
            )
        )

    remote.on_shown = look
    stats = await app.worker.drain()
    assert stats.sent["remote"] == 30
    # By the last send of the first batch, the second batch was claimed too.
    assert seen[9][1] == 20
    # Each batch's first send comes after every earlier batch was written: never more than one
    # batch out and unrecorded (what a crash could send twice).
    assert [seen[i][2] for i in (10, 20)] == [10, 20]
    assert all(sent_so_far - recorded <= 10 for sent_so_far, _, recorded in seen)


async def test_a_send_without_a_slot_goes_back_to_the_queue_its_attempt_not_counted(
    app: Application, remote: RemotePlatform
) -> None:
    assert app.worker is not None
    await queue_for(app, 1)
    remote.fail_next(PacingUnavailable("no send slot for slack.workspace"))  # type: ignore[arg-type]
    stats = await app.worker.drain(wait_for_retries=False)
    assert stats.processed == 0  # neither sent, nor retried, nor dead: handed back
    async with app.db.transaction() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    assert "no send slot" in (delivery.last_error or "")
    assert remote.sent == []
