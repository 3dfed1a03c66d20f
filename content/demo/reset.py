"""Removing the demo: only from a database that holds nothing but the demo and play with it.

What the demo loads is known (its files), and what people do with it happens in the shell, whose
members are not real people (the customer voice they log with /voice too). Anything else (a Slack
or Teams member, an article or a customer voice that is not the demo's, a content feed, an
import, an installation) is someone's real data: then nothing is removed, and the reason is
given, so nothing is ever deleted silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import delete, exists, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.text import plural
from bot.domain import EMPLOYEE_VOICE_SOURCE, KpiSource
from bot.services.content import normalise_url
from bot.storage.models import (
    AdapterRecord,
    Base,
    ContentFeed,
    ContentItem,
    Delivery,
    Digest,
    InboxEvent,
    KpiReading,
    Member,
    MemberIdentity,
    Objective,
    VoiceImport,
    VoiceItem,
)
from content.demo.loader import DATA, HISTORY_DIGEST, PLATFORM, demo_file


def demo_keys() -> dict[str, set]:
    """What the demo's files name: objectives, content, voice items and digests."""
    voice = set()
    for line in (DATA / "voice.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            voice.add((record["source"], record["id"]))
    return {
        "objectives": {o["key"] for o in demo_file("objectives.json")},
        "content": {normalise_url(c["url"]) for c in demo_file("content.json")},
        "voice": voice,
        "digests": {d["name"] for d in demo_file("digests.json")} | {HISTORY_DIGEST},
    }


async def _count(session: AsyncSession, statement: object) -> int:
    return int(await session.scalar(statement) or 0)  # type: ignore[arg-type]


async def not_the_demos(session: AsyncSession) -> list[str]:
    """What the database holds that is not the demo's, in words; empty when it is all demo."""
    keys = demo_keys()
    elsewhere = exists().where(
        MemberIdentity.member_id == Member.id, MemberIdentity.platform != PLATFORM
    )
    unknown_member = ~exists().where(MemberIdentity.member_id == Member.id) | elsewhere
    found = {
        "member on Slack, Teams or without a shell identity": await _count(
            session, select(func.count(Member.id)).where(unknown_member)
        ),
        "objective": await _count(
            session,
            select(func.count(Objective.id)).where(Objective.key.not_in(keys["objectives"])),
        ),
        "article": await _count(
            session,
            select(func.count(ContentItem.id)).where(ContentItem.url_key.not_in(keys["content"])),
        ),
        "customer voice": await _count(
            session,
            select(func.count(VoiceItem.id)).where(
                tuple_(VoiceItem.source, VoiceItem.external_id).not_in(list(keys["voice"])),
                # What people logged with /voice in the shell is play with the demo.
                ~(
                    (VoiceItem.source == EMPLOYEE_VOICE_SOURCE)
                    & VoiceItem.external_id.startswith(f"{PLATFORM}:")
                ),
            ),
        ),
        "digest": await _count(
            session, select(func.count(Digest.id)).where(Digest.name.not_in(keys["digests"]))
        ),
        "KPI reading not the demo's": await _count(
            session,
            select(func.count(KpiReading.id)).where(KpiReading.source != KpiSource.DEMO),
        ),
        "content feed": await _count(session, select(func.count(ContentFeed.id))),
        "customer-voice import": await _count(session, select(func.count(VoiceImport.id))),
        "platform installation or conversation": await _count(
            session, select(func.count(AdapterRecord.id))
        ),
        "message to Slack or Teams": await _count(
            session, select(func.count(Delivery.id)).where(Delivery.platform != PLATFORM)
        ),
        "event from Slack or Teams": await _count(
            session, select(func.count(InboxEvent.id)).where(InboxEvent.platform != PLATFORM)
        ),
    }
    return [plural(count, what) for what, count in found.items() if count]


async def remove_everything(session: AsyncSession) -> None:
    """Empty every table (the schema stays); ids start again from 1, so a fresh demo is the
    same demo every time (the tour answers idea #36). Only after ``not_the_demos`` is empty."""
    tables: Iterable = reversed(Base.metadata.sorted_tables)
    if session.bind.dialect.name == "postgresql":
        names = ", ".join(f'"{table.name}"' for table in tables)
        await session.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        return
    for table in tables:
        await session.execute(delete(table))
