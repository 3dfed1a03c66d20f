"""Customer-voice items: plain storage and the queries digests need.

Import formats, sentiment and theming belong to the pipeline in content/; the core only keeps
what it is given, de-duplicated on (source, external id).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInput
from bot.i18n import _
from bot.storage.models import VoiceItem
from bot.storage.types import utcnow
from bot.storage.upsert import insert_ignore

MAX_VOICE_TEXT = 20_000


async def store_voice_item(
    session: AsyncSession,
    *,
    source: str,
    external_id: str,
    text: str,
    rating: float | None = None,
    segment: str | None = None,
    link: str | None = None,
    received_at: datetime | None = None,
    sentiment: float | None = None,
    themes: Sequence[str] = (),
    language: str | None = None,
    objective_id: int | None = None,
) -> bool:
    """Store one item; False when (source, external id) was already there."""
    source = source.strip()
    external_id = external_id.strip()
    text = text.strip()
    if not source or not external_id:
        raise InvalidInput(_("A customer-voice item needs a source and an id."))
    if not text:
        raise InvalidInput(_("A customer-voice item needs some text."))
    if sentiment is not None and not -1.0 <= sentiment <= 1.0:
        raise InvalidInput(_("Sentiment must lie between -1 (negative) and 1 (positive)."))
    return await insert_ignore(
        session,
        VoiceItem.__table__,
        {
            "source": source[:100],
            "external_id": external_id[:255],
            "text": text[:MAX_VOICE_TEXT],
            "rating": rating,
            "segment": (segment or "").strip()[:100] or None,
            "link": link,
            "received_at": received_at or utcnow(),
            "sentiment": sentiment,
            "language": (language or "").strip().lower()[:8] or None,
            "themes": [theme.strip().lower() for theme in themes if theme.strip()],
            "objective_id": objective_id,
            "created_at": utcnow(),
        },
    )
