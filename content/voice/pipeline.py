"""The customer-voice pipeline: analyse each item (sentiment, themes, objective), store it once
per (source, external id), and raise urgent alerts.

Raw text is stored as received; quotes are scrubbed of personal data whenever they are shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.text import truncate
from bot.config import ChannelRef, Settings, env_number, parse_channel_list
from bot.i18n import _, speaking
from bot.messages import Card, Fact, Link, Message
from bot.outbox.queue import Recipient, enqueue
from bot.sealing import Sealer
from bot.storage.models import Member, Objective, VoiceItem
from bot.storage.types import utcnow
from content.voice.language import language_name
from content.voice.phrases import PhraseFinder, flatten
from content.voice.reading import TextReader
from content.voice.scrub import scrub
from content.voice.sentiment import blended, described
from content.voice.themes import Taxonomy

log = logging.getLogger(__name__)

MAX_TEXT = 20_000
BATCH = 1_000
ALERT_PHRASES_FILE = Path(__file__).with_name("alert_phrases.yaml")
# Every shipped language's phrases ("refund", "remboursement", "Rückerstattung", "返金"...).
DEFAULT_ALERT_PHRASES: tuple[str, ...] = tuple(
    dict.fromkeys(flatten(yaml.safe_load(ALERT_PHRASES_FILE.read_text(encoding="utf-8"))))
)
DEFAULT_ALERT_SENTIMENT = -0.6
# Imported history is not news: only items this recent can raise an alert.
ALERT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class VoiceRecord:
    """One item as read from a file or a webhook, before analysis."""

    line: int
    source: str
    external_id: str
    text: str
    rating: float | None = None
    rating_scale: tuple[float, float] | None = None
    segment: str | None = None
    customer: str | None = None
    link: str | None = None
    received_at: datetime | None = None
    # Logged from chat by a colleague (source "employee"): who, and the objective they chose.
    logged_by_id: int | None = None
    objective: str | None = None


@dataclass(frozen=True)
class AlertRules:
    channels: tuple[ChannelRef, ...] = ()
    phrases: tuple[str, ...] = DEFAULT_ALERT_PHRASES
    threshold: float = DEFAULT_ALERT_SENTIMENT

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertRules:
        env = settings.env
        phrases = (
            tuple(p.strip() for p in (env.get("VOICE_ALERT_PHRASES") or "").split(",") if p.strip())
            or DEFAULT_ALERT_PHRASES
        )
        threshold = env_number(
            env, "VOICE_ALERT_SENTIMENT", DEFAULT_ALERT_SENTIMENT, low=-1.0, high=1.0
        )
        return cls(parse_channel_list(env.get("VOICE_ALERT_CHANNELS") or ""), phrases, threshold)

    @cached_property
    def finder(self) -> PhraseFinder:
        return PhraseFinder(self.phrases)

    def reason(self, text: str, score: float | None) -> str | None:
        """Why an item is urgent, or None (an item not scored is urgent only by its words)."""
        if phrase := self.finder.first(text):
            # Translators: why a customer's words were posted as urgent; {phrase} is in their words.
            return _("mentions “{phrase}”").format(phrase=phrase)
        if score is not None and score <= self.threshold:
            return _("very negative")
        return None


@dataclass
class StoreReport:
    imported: int = 0
    duplicates: int = 0
    alerts: int = 0
    # Themes found spiking after the import (content/voice/spikes.py).
    spikes: list[str] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list, repr=False)


class VoicePipeline:
    def __init__(
        self, taxonomy: Taxonomy, objectives: Mapping[str, int], rules: AlertRules
    ) -> None:
        self.taxonomy = taxonomy
        self.objectives = objectives
        self.rules = rules
        self.reader = TextReader(taxonomy)

    @classmethod
    async def load(
        cls, session: AsyncSession, taxonomy: Taxonomy, rules: AlertRules
    ) -> VoicePipeline:
        rows = await session.execute(select(Objective.key, Objective.id))
        return cls(taxonomy, {key: objective_id for key, objective_id in rows}, rules)

    def analyse(self, record: VoiceRecord, now: datetime) -> dict[str, Any]:
        """The row to store: the record plus its language, sentiment (None: not scored, in a
        language the analyser cannot read), themes and the objective they serve."""
        reading = self.reader.read(record.text)
        themes = list(reading.themes)
        objective_key = record.objective or self.taxonomy.objective_for(themes)
        return {
            "source": record.source[:100],
            "external_id": record.external_id[:255],
            "text": record.text[:MAX_TEXT],
            "rating": record.rating,
            "segment": (record.segment or "")[:100] or None,
            "customer": (record.customer or "")[:200] or None,
            "link": record.link,
            "received_at": record.received_at or now,
            "language": reading.language,
            "sentiment": blended(reading.words, record.rating, record.rating_scale),
            "themes": themes,
            "objective_id": self.objectives.get(objective_key) if objective_key else None,
            "created_at": now,
            "logged_by_id": record.logged_by_id,
        }

    async def store(
        self,
        session: AsyncSession,
        records: Sequence[VoiceRecord],
        *,
        sealer: Sealer,
        dry_run: bool = False,
    ) -> StoreReport:
        """Store new records (those already there, by source and id, are counted as such),
        and queue alerts for recent urgent ones."""
        report = StoreReport()
        now = utcnow()
        for start in range(0, len(records), BATCH):
            batch = records[start : start + BATCH]
            existing = await _existing_ids(session, batch)
            rows: dict[tuple[str, str], dict[str, Any]] = {}
            for record in batch:
                key = (record.source[:100], record.external_id[:255])
                if key in existing or key in rows:
                    report.duplicates += 1
                    continue
                rows[key] = self.analyse(record, now)
            if rows and not dry_run:
                insert = (
                    postgresql_insert
                    if session.bind.dialect.name == "postgresql"
                    else sqlite_insert
                )
                await session.execute(
                    insert(VoiceItem.__table__).on_conflict_do_nothing(), list(rows.values())
                )
            report.imported += len(rows)
            report.stored.extend(rows.values())
        if not dry_run:
            report.alerts = await self.alert(session, report.stored, sealer=sealer, now=now)
        return report

    async def alert(
        self,
        session: AsyncSession,
        rows: Sequence[dict[str, Any]],
        *,
        sealer: Sealer,
        now: datetime,
    ) -> int:
        if not self.rules.channels:
            return 0
        # Alert channels hear the workspace's language, whoever's words raised the alert.
        with speaking(None):
            return await self._alert(session, rows, sealer=sealer, now=now)

    async def _alert(
        self,
        session: AsyncSession,
        rows: Sequence[dict[str, Any]],
        *,
        sealer: Sealer,
        now: datetime,
    ) -> int:
        urgent = [
            (row, reason)
            for row in rows
            if now - row["received_at"] <= ALERT_WINDOW
            and (reason := self.rules.reason(row["text"], row["sentiment"]))
        ]
        if not urgent:
            return 0
        titles = {o.id: o.title for o in await session.scalars(select(Objective))}
        # Voice colleagues logged names them, so the alert channel knows whom to ask.
        loggers = {row["logged_by_id"] for row, _ in urgent if row.get("logged_by_id")}
        names: dict[int, str] = {}
        if loggers:
            found = await session.execute(
                select(Member.id, Member.display_name).where(Member.id.in_(loggers))
            )
            names = {member_id: name for member_id, name in found}
        recipients = [Recipient.for_channel(channel) for channel in self.rules.channels]
        for row, reason in urgent:
            message = alert_message(
                row,
                reason,
                titles.get(row["objective_id"]),
                logged_by=names.get(row.get("logged_by_id")),
            )
            await enqueue(
                session,
                message,
                recipients,
                sealer=sealer,
                dedupe_prefix=f"voice-alert:{row['source']}:{row['external_id']}",
            )
            await session.execute(
                update(VoiceItem)
                .where(
                    VoiceItem.source == row["source"], VoiceItem.external_id == row["external_id"]
                )
                .values(alerted_at=now)
            )
        log.info("%d urgent customer-voice alert(s) queued", len(urgent))
        return len(urgent)


async def _existing_ids(
    session: AsyncSession, batch: Sequence[VoiceRecord]
) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    by_source: dict[str, list[str]] = {}
    for record in batch:
        by_source.setdefault(record.source[:100], []).append(record.external_id[:255])
    for source, ids in by_source.items():
        rows = await session.scalars(
            select(VoiceItem.external_id).where(
                VoiceItem.source == source, VoiceItem.external_id.in_(ids)
            )
        )
        found.update((source, external_id) for external_id in rows)
    return found


def alert_message(
    row: Mapping[str, Any], reason: str, objective: str | None, *, logged_by: str | None = None
) -> Message:
    """An urgent customer voice, for the alert channel: the scrubbed quote and its context
    (``logged_by``: the colleague who logged it from chat)."""
    quote = truncate(scrub(row["text"]), 1200)
    themes = ", ".join(row["themes"]) or _("none yet")
    source = _("logged in chat by {name}").format(name=logged_by) if logged_by else row["source"]
    facts = [
        Fact(_("Why now"), reason),
        Fact(_("Theme"), themes),
        Fact(_("Objective"), objective or _("not linked")),
        Fact(_("Sentiment"), described(row.get("sentiment"))),
        Fact(_("Language"), language_name(row.get("language"))),
        Fact(_("Source"), source),
    ]
    # Who to call back: the account, scrubbed like the quote in case it is an e-mail address.
    if row.get("customer"):
        facts.insert(1, Fact(_("Customer"), scrub(row["customer"])))
    if row.get("segment"):
        facts.append(Fact(_("Segment"), row["segment"]))
    links = (Link(_("Open the original"), row["link"]),) if row.get("link") else ()
    return Message(
        fallback=_("Urgent customer voice ({reason}): {quote}").format(
            reason=reason, quote=truncate(scrub(row["text"]), 200)
        ),
        kind="voice_alert",
        cards=(
            Card(
                title=_("Urgent: a customer needs us"),
                text=_("“{quote}”").format(quote=quote),
                facts=tuple(facts),
                links=links,
            ),
        ),
    )
