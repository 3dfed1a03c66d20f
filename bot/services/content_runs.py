"""A content digest's run: each person (or channel) gets the best items they have not had yet,
from this digest or any other.

People with the same history get one message, composed once. Someone who already had every
item is sent nothing, as a customer-voice digest with nothing new sends nothing. A strategist
who wants items sent again says so (``include_sent``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.content_digest import compose_content_digest
from bot.compose.text import plural
from bot.i18n import normalize_locale, speaking
from bot.messages import Message
from bot.outbox.queue import Recipient
from bot.plugins import Composer, ContentComposer
from bot.services.content import deliverable_content
from bot.services.content_receipts import (
    content_ids_of,
    hold_receipts,
    items_received,
    receipt_target,
)
from bot.storage.models import Digest

# What one message is composed for: the items a reader had already, and their language.
HistoryKey = tuple[frozenset[int], str]


@dataclass(frozen=True)
class ContentSelection:
    batches: list[tuple[Message, list[Recipient]]]
    note: str

    @property
    def content_ids(self) -> list[int]:
        """Every item the run sends, in the order first sent."""
        ids = (i for message, _ in self.batches for i in content_ids_of(message))
        return list(dict.fromkeys(ids))


class ContentChooser:
    """Which message each reader of a content run gets, page after page of readers: one message
    per history and language, composed the first time a reader with that history and language
    comes up. Only the messages are kept, never the readers, so a run to 100,000 people holds
    a page of them at a time.

    The first page takes the receipts lock (``hold_receipts``); the caller records the
    receipts with the deliveries, in this transaction."""

    def __init__(
        self,
        session: AsyncSession,
        digest: Digest,
        run_id: int,
        now: datetime,
        composer: Composer | None,
        *,
        include_sent: bool = False,
    ) -> None:
        self.session = session
        self.digest = digest
        self.run_id = run_id
        self.now = now
        self.compose = cast(ContentComposer, composer or newest_content)
        self.include_sent = include_sent
        self.composed: dict[HistoryKey, Message | str] = {}
        self.had_all = 0  # readers who had every item already and get nothing
        self._held = False

    async def choose(self, targets: Sequence[Recipient]) -> list[tuple[HistoryKey, Message | None]]:
        """For each target, in order: its history key and its message (None: nothing new)."""
        if not self._held:
            await hold_receipts(self.session)
            self._held = True
        had = (
            {}
            if self.include_sent
            else await items_received(
                self.session, (receipt_target(t) for t in targets), deliverable_at=self.now
            )
        )
        chosen: list[tuple[HistoryKey, Message | None]] = []
        for target in targets:
            exclude = frozenset(had.get(receipt_target(target), ()))
            key = (exclude, normalize_locale(target.locale) or "")
            if key not in self.composed:
                with speaking(key[1] or None):
                    composed = await self.compose(
                        self.session, self.digest, self.run_id, None, self.now, exclude=exclude
                    )
                self.composed[key] = composed if isinstance(composed, str) else composed[0]
            message = self.composed[key]
            if isinstance(message, str):
                self.had_all += 1
                chosen.append((key, None))
            else:
                chosen.append((key, message))
        return chosen

    @property
    def reason(self) -> str:
        """Why nothing was sent, when every composition came back empty."""
        return next((m for m in self.composed.values() if isinstance(m, str)), "")

    def note(self, content_ids: Sequence[int]) -> str:
        note = plural(len(content_ids), "item")
        selections = len({exclude for exclude, _ in self.composed})
        if selections > 1:
            note += f" in {selections} selections (by what each recipient had already)"
        if self.include_sent:
            note += ", items already sent included"
        if self.had_all:
            note += f"; {plural(self.had_all, 'recipient')} had every item already and got nothing"
        return note


async def select_content(
    session: AsyncSession,
    digest: Digest,
    run_id: int,
    targets: list[Recipient],
    now: datetime,
    composer: Composer | None,
    *,
    include_sent: bool = False,
) -> ContentSelection | str:
    """The messages for ``targets`` (a few: a shared channel), or why there is nothing to send.
    The caller records the receipts with the deliveries, in this transaction, which holds the
    receipts lock."""
    chooser = ContentChooser(session, digest, run_id, now, composer, include_sent=include_sent)
    by_key: dict[HistoryKey, tuple[Message, list[Recipient]]] = {}
    for target, (key, message) in zip(targets, await chooser.choose(targets), strict=True):
        if message is not None:
            by_key.setdefault(key, (message, []))[1].append(target)
    if not by_key:
        return chooser.reason
    batches = list(by_key.values())
    selection = ContentSelection(batches, "")
    return ContentSelection(batches, chooser.note(selection.content_ids))


async def newest_content(
    session: AsyncSession,
    digest: Digest,
    run_id: int,
    since: datetime | None,
    now: datetime,
    *,
    exclude: frozenset[int] = frozenset(),
) -> tuple[Message, str] | str:
    """The newest approved items, when no plugin ranks them (content/ does)."""
    items = await deliverable_content(
        session, since=since, objective_id=digest.objective_id, exclude=exclude
    )
    if not items:
        return (
            "No approved content that the audience has not had yet; add some with: "
            "advocacy content add URL --title TITLE"
        )
    return compose_content_digest(digest.name, run_id, items), plural(len(items), "item")
