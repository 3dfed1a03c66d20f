"""Customer voice that employees log from chat, through the same pipeline as imports.

Stored with source "employee", the colleague as ``logged_by_id`` and an id of its own; themes,
sentiment and urgent alerts as for any voice, then the spike check. Unlike an import, whose raw
text stays the customer's record in the source system, a chat message has no other record: its
personal data (an e-mail address, a phone number a colleague pasted) is masked before it is
stored. The customer field stays as written (who to call back), masked wherever it is shown.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.voice_commands import MAX_CUSTOMER_CHARS, MAX_VOICE_CHARS, too_long
from bot.domain import EMPLOYEE_VOICE_SOURCE
from bot.errors import InvalidInput
from bot.i18n import ENGLISH, _, current_locale
from bot.i18n.formats import format_date
from bot.plugins import EmployeeVoice, VoiceLogged, VoiceLogger
from bot.sealing import Sealer
from bot.services.suggestion_evidence import EvidenceMatcher, weigh_new_voice
from bot.storage.models import IdeaEvidence, Member, Objective, VoiceItem
from bot.storage.types import utcnow
from content.settings import ContentSettings
from content.voice.pipeline import VoicePipeline, VoiceRecord
from content.voice.scrub import scrub
from content.voice.sentiment import label
from content.voice.spikes import detect_spikes


async def log_employee_voice(
    session: AsyncSession,
    sealer: Sealer,
    member: Member,
    entry: EmployeeVoice,
    configured: ContentSettings,
    evidence: EvidenceMatcher | None = None,
) -> VoiceLogged:
    text = entry.text.strip()
    if not text:
        raise InvalidInput(_("Write what the customer said; it cannot be empty."))
    if len(text) > MAX_VOICE_CHARS:
        raise too_long(text)
    if entry.objective_key and not await session.scalar(
        select(Objective.id).where(Objective.key == entry.objective_key)
    ):
        raise InvalidInput(
            _("There is no objective '{key}'; /objectives lists them.").format(
                key=entry.objective_key
            )
        )
    said = scrub(text)
    customer = entry.customer.strip()[:MAX_CUSTOMER_CHARS] or None
    await refuse_repeat(session, said, customer)
    now = utcnow()
    record = VoiceRecord(
        line=0,
        source=EMPLOYEE_VOICE_SOURCE,
        external_id=f"{entry.platform or 'chat'}:{uuid.uuid4().hex}",
        text=said,
        customer=customer,
        link=entry.link,
        received_at=now,
        logged_by_id=member.id,
        objective=entry.objective_key,
    )
    pipeline = await VoicePipeline.load(session, configured.taxonomy(), configured.alerts)
    report = await pipeline.store(session, [record], sealer=sealer)
    [row] = report.stored
    item_id = await session.scalar(
        select(VoiceItem.id).where(
            VoiceItem.source == row["source"], VoiceItem.external_id == row["external_id"]
        )
    )
    ideas: tuple[int, ...] = ()
    # One item: the open ideas it says the same as are weighed in the same transaction, and the
    # colleague is told which.
    if (
        evidence is not None
        and item_id
        and await weigh_new_voice(session, evidence, [int(item_id)])
    ):
        ideas = tuple(
            await session.scalars(
                select(IdeaEvidence.suggestion_id)
                .where(IdeaEvidence.voice_item_id == int(item_id))
                .order_by(IdeaEvidence.score.desc(), IdeaEvidence.suggestion_id)
            )
        )
    spikes = await detect_spikes(
        session,
        rule=configured.spikes,
        channels=configured.alerts.channels,
        sealer=sealer,
        now=now,
    )
    return VoiceLogged(
        item_id=int(item_id or 0),
        themes=tuple(row["themes"]),
        sentiment=label(row["sentiment"]),
        urgent=configured.alerts.reason(row["text"], row["sentiment"]),
        alerted=bool(report.alerts),
        spikes=tuple(spike.theme for spike in spikes if spike.theme in row["themes"]),
        spikes_alerted=bool(spikes and configured.alerts.channels),
        ideas=ideas,
        text=str(row["text"]),
    )


async def refuse_repeat(session: AsyncSession, said: str, customer: str | None) -> None:
    """The same words (whatever their case) from the same customer, or from nobody named, logged
    again, by a second press or a second colleague who was on the call, are the same customer:
    counted twice, they would weigh an idea as two customers. The second is refused, saying
    where the first is."""
    same_customer = (
        func.lower(VoiceItem.customer) == customer.lower()
        if customer
        else VoiceItem.customer.is_(None)
    )
    earlier = (
        await session.execute(
            select(VoiceItem.id, VoiceItem.received_at)
            .where(
                VoiceItem.source == EMPLOYEE_VOICE_SOURCE,
                func.lower(VoiceItem.text) == said.lower(),
                same_customer,
            )
            .order_by(VoiceItem.id)
            .limit(1)
        )
    ).first()
    if earlier is not None:
        item_id, received = earlier
        # English keeps the day as it always read ("06 Dec 2026").
        on = received.strftime("%d %b %Y") if current_locale() == ENGLISH else format_date(received)
        if customer:
            message = _(
                "These words from {customer} were already logged as customer voice #{number} on "
                "{day}; they count once."
            ).format(customer=customer, number=item_id, day=on)
        else:
            message = _(
                "These words were already logged as customer voice #{number} on {day}; they "
                "count once."
            ).format(number=item_id, day=on)
        raise InvalidInput(message)


def employee_voice_logger(
    configured: ContentSettings, evidence: EvidenceMatcher | None = None
) -> VoiceLogger:
    """The logger the content plugin gives the core's /voice and message actions; with
    ``evidence``, what a colleague logs weighs the open ideas that say the same."""

    async def log(
        session: AsyncSession, sealer: Sealer, member: Member, entry: EmployeeVoice
    ) -> VoiceLogged:
        return await log_employee_voice(session, sealer, member, entry, configured, evidence)

    return log
