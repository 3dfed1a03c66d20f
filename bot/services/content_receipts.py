"""Who was sent which content item, so that no content digest sends anyone an item twice.

A receipt is written with the delivery that carries the item, in the run's transaction: a run
that fails half-way leaves neither. It counts while its delivery is waiting, in flight or sent;
a dead-lettered delivery never arrived, so its items are still news for that person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import String, and_, case, cast, insert, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import ContentStatus, DeliveryStatus
from bot.messages import Message, parse_subject
from bot.outbox.queue import Recipient
from bot.storage.models import ContentItem, ContentReceipt, Delivery
from bot.storage.types import UTCDateTime, utcnow

# pg_advisory_xact_lock key ("content" in ASCII): content runs choose items one at a time.
RECEIPTS_LOCK_ID = 0x636F6E74656E74


def receipt_target(recipient: Recipient) -> str:
    """A person is one target whatever platform reaches them; a channel is its own."""
    if recipient.channel or recipient.member_id is None:
        return f"channel:{recipient.platform}:{recipient.workspace}:{recipient.user_id}"
    return f"member:{recipient.member_id}"


def delivery_target(delivery: Delivery) -> str | None:
    if delivery.sealed_recipient:
        return None
    if delivery.channel or delivery.member_id is None:
        return f"channel:{delivery.platform}:{delivery.workspace}:{delivery.recipient}"
    return f"member:{delivery.member_id}"


def content_ids_of(message: Message) -> list[int]:
    """The content items a message carries: its cards' subjects, in order."""
    found = []
    for card in message.cards:
        if card.subject and card.subject.startswith("content:"):
            found.append(parse_subject(card.subject)[1])
    return found


async def hold_receipts(session: AsyncSession) -> None:
    """Serialise content runs until commit, so two runs at once (two digests to one team) do not
    both pick the same items for the same people. SQLite transactions already are serial."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECEIPTS_LOCK_ID})


async def items_received(
    session: AsyncSession, targets: Iterable[str], *, deliverable_at: datetime | None = None
) -> dict[str, set[int]]:
    """The content items each target was sent, dead letters excepted; with ``deliverable_at``,
    only those items that could still be sent then (approved, not expired)."""
    wanted = sorted(set(targets))
    received: dict[str, set[int]] = {target: set() for target in wanted}
    # In chunks: an audience may be thousands of people, past a driver's parameter limit.
    for start in range(0, len(wanted), 500):
        statement = (
            select(ContentReceipt.target, ContentReceipt.content_item_id)
            .join(Delivery, Delivery.id == ContentReceipt.delivery_id)
            .where(
                ContentReceipt.target.in_(wanted[start : start + 500]),
                Delivery.status != DeliveryStatus.DEAD,
            )
        )
        if deliverable_at is not None:
            statement = statement.join(
                ContentItem, ContentItem.id == ContentReceipt.content_item_id
            ).where(
                ContentItem.status == ContentStatus.APPROVED,
                or_(ContentItem.expires_at.is_(None), ContentItem.expires_at > deliverable_at),
            )
        for target, item_id in await session.execute(statement):
            received[target].add(item_id)
    return received


async def record_receipts(session: AsyncSession, message_id: int, item_ids: Sequence[int]) -> int:
    """Write a receipt per item for each delivery of outbound message ``message_id``, in the
    database (INSERT ... SELECT): a message to 100,000 people loads none of its deliveries."""
    items = list(dict.fromkeys(item_ids))
    if not items:
        return 0
    channel_target = (
        literal("channel:")
        + Delivery.platform
        + literal(":")
        + Delivery.workspace
        + literal(":")
        + Delivery.recipient
    )
    target = case(
        (
            and_(Delivery.channel.is_(False), Delivery.member_id.is_not(None)),
            literal("member:") + cast(Delivery.member_id, String),
        ),
        else_=channel_target,
    )
    written = 0
    now = utcnow()
    for item_id in items:
        rows = select(Delivery.id, literal(item_id), target, literal(now, UTCDateTime())).where(
            Delivery.message_id == message_id, Delivery.sealed_recipient.is_(None)
        )
        result = await session.execute(
            insert(ContentReceipt).from_select(
                ["delivery_id", "content_item_id", "target", "created_at"], rows
            )
        )
        written += max(result.rowcount or 0, 0)
    return written
