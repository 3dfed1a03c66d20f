"""The outbox: every message the bot sends is first written here, in the same transaction as the
change that caused it, and then drained by the delivery worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ChannelRef
from bot.domain import DeliveryStatus
from bot.i18n import normalize_locale, speaking
from bot.messages import Message
from bot.sealing import Sealer
from bot.services.preferences import quiet_until
from bot.storage.models import Delivery, Member, OutboundMessage
from bot.storage.types import utcnow


@dataclass(frozen=True)
class Recipient:
    """A conversation to deliver to. ``sealed`` hides who it is from the database."""

    platform: str
    user_id: str
    workspace: str = ""
    member_id: int | None = None
    sealed: bool = False
    # A shared channel rather than a person: cards there show everyone's answers, not one's.
    channel: bool = False
    # Not before this time (the end of the member's quiet hours); None means now.
    not_before: datetime | None = None
    # The language to compose in (the member's; None: the workspace's default). Not stored.
    locale: str | None = None

    @classmethod
    def for_channel(cls, channel: ChannelRef) -> Recipient:
        return cls(channel.platform, channel.channel_id, channel.workspace, channel=True)


def member_recipient(member: Member, now: datetime | None = None) -> Recipient | None:
    """Where a member gets direct messages: their first platform identity, after their quiet
    hours if they are in them."""
    if not member.identities:
        return None
    identity = min(member.identities, key=lambda i: i.id)
    return Recipient(
        platform=identity.platform,
        workspace=identity.workspace,
        user_id=identity.user_id,
        member_id=member.id,
        not_before=quiet_until(member, now or utcnow()),
        locale=member.locale,
    )


async def enqueue_in_their_languages(
    session: AsyncSession,
    compose: Callable[[], Message],
    recipients: Sequence[Recipient],
    *,
    sealer: Sealer,
    dedupe_prefix: str | None = None,
) -> int:
    """Compose the message once for each language among ``recipients``, each time in that
    language (``compose`` calls ``_()``), and queue each to the recipients who speak it; how
    many deliveries were queued."""
    groups: dict[str | None, list[Recipient]] = {}
    for recipient in recipients:
        # A sealed recipient is not told in their own language: it would say who they are.
        locale = None if recipient.sealed else normalize_locale(recipient.locale)
        groups.setdefault(locale, []).append(recipient)
    queued = 0
    for locale, group in groups.items():
        with speaking(locale):
            message = compose()
        queued += await enqueue(session, message, group, sealer=sealer, dedupe_prefix=dedupe_prefix)
    return queued


async def enqueue(
    session: AsyncSession,
    message: Message,
    recipients: Sequence[Recipient],
    *,
    sealer: Sealer,
    run_id: int | None = None,
    dedupe_prefix: str | None = None,
) -> int:
    """Write one message and a delivery per recipient; returns how many deliveries were queued.

    With ``dedupe_prefix``, enqueueing the same recipients again (a restarted run) adds nothing.
    """
    _, queued = await enqueue_message(
        session, message, recipients, sealer=sealer, run_id=run_id, dedupe_prefix=dedupe_prefix
    )
    return queued


async def enqueue_message(
    session: AsyncSession,
    message: Message,
    recipients: Sequence[Recipient],
    *,
    sealer: Sealer,
    run_id: int | None = None,
    dedupe_prefix: str | None = None,
) -> tuple[int, int]:
    """``enqueue``, also giving the outbound message's id (what its deliveries share)."""
    message_id = await add_message(session, message, run_id=run_id)
    now = utcnow()
    rows = [
        delivery_row(message_id, recipient, sealer, now, run_id=run_id, dedupe_prefix=dedupe_prefix)
        for recipient in recipients
    ]
    if not rows:
        return message_id, 0
    await insert_deliveries(session, rows)
    queued = await session.scalar(
        select(func.count(Delivery.id)).where(Delivery.message_id == message_id)
    )
    return message_id, int(queued or 0)


async def add_message(session: AsyncSession, message: Message, *, run_id: int | None = None) -> int:
    """Write the one copy of a message its deliveries share; returns its id."""
    outbound = OutboundMessage(kind=message.kind, run_id=run_id, payload=message.to_dict())
    session.add(outbound)
    await session.flush()
    return outbound.id


def delivery_row(
    message_id: int,
    recipient: Recipient,
    sealer: Sealer,
    now: datetime,
    *,
    run_id: int | None = None,
    dedupe_prefix: str | None = None,
) -> dict[str, object]:
    """The outbox row delivering ``message_id`` to ``recipient`` (for ``insert_deliveries``)."""
    row: dict[str, object] = {
        "message_id": message_id,
        "run_id": run_id,
        "platform": recipient.platform,
        "workspace": recipient.workspace,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": recipient.not_before or now,
        "created_at": now,
        "member_id": None,
        "recipient": "",
        "channel": recipient.channel,
        "sealed_recipient": None,
        "dedupe_key": None,
    }
    if recipient.sealed:
        row["sealed_recipient"] = sealer.seal(
            {
                "platform": recipient.platform,
                "workspace": recipient.workspace,
                "user_id": recipient.user_id,
            }
        )
    else:
        row["recipient"] = recipient.user_id
        row["member_id"] = recipient.member_id
        if dedupe_prefix:
            row["dedupe_key"] = f"{dedupe_prefix}:{recipient.platform}:{recipient.user_id}"
    return row


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Insert outbox rows; one whose dedupe key is already queued is skipped (a restarted run)."""
    if not rows:
        return
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    # One statement, executed for many rows: compiled once, however large the audience.
    await session.execute(insert(Delivery).on_conflict_do_nothing(), list(rows))


async def queue_depth(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Deliveries per (platform, status), for metrics and the CLI."""
    rows = await session.execute(
        select(Delivery.platform, Delivery.status, func.count(Delivery.id)).group_by(
            Delivery.platform, Delivery.status
        )
    )
    return {(platform, status): count for platform, status, count in rows}


async def deliveries_in_flight(
    session: AsyncSession, platform: str, member_id: int, limit: int = 20
) -> list[Delivery]:
    """This member's deliveries the platform may already show but whose outcome (and so their
    message reference) the outbox has not written yet: it writes a batch's outcomes together."""
    return list(
        await session.scalars(
            select(Delivery)
            .where(
                Delivery.platform == platform,
                Delivery.member_id == member_id,
                Delivery.status == DeliveryStatus.SENDING,
                Delivery.platform_ref.is_(None),
            )
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
    )


async def hold_delivery(session: AsyncSession, delivery_id: int) -> None:
    """Lock a delivery's row until commit (PostgreSQL; SQLite writers are serial anyway), so
    concurrent presses on one channel card each count the others' committed feedback."""
    await session.execute(select(Delivery.id).where(Delivery.id == delivery_id).with_for_update())


async def find_delivery_by_ref(
    session: AsyncSession, platform: str, platform_ref: str
) -> Delivery | None:
    return (
        await session.scalars(
            select(Delivery).where(
                Delivery.platform == platform, Delivery.platform_ref == platform_ref
            )
        )
    ).first()
