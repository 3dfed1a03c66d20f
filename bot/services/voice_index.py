"""Recent customer voice's words, kept in memory per database, so that finding what customers
said about a new idea reads only the items that share its words, however much voice there is.

A company can hold 100,000 items: the index keeps those received in the last WINDOW (at most
INDEXED of them) as postings (word -> item ids and counts, in compact arrays) with each item's
norm, themes and time. It is read once, then only the items added since (higher ids); the whole
window is read again every RESYNC_SECONDS, which drops items that aged out or were deleted
(callers check the few they store still exist).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import Database
from bot.storage.models import VoiceItem
from bot.storage.types import utcnow

WINDOW = timedelta(days=180)
INDEXED = 100_000
RESYNC_SECONDS = 6 * 3600.0
# Long tickets: their first words say what they are about, and weighing 20,000 characters of a
# pasted log would cost more than all the rest.
READ_CHARACTERS = 2_000


@dataclass
class Posting:
    ids: array = field(default_factory=lambda: array("q"))
    counts: array = field(default_factory=lambda: array("H"))


class VoiceIndex:
    def __init__(self, words_of: Callable[[str], Iterable[str]]) -> None:
        self.words_of = words_of
        self.postings: dict[str, Posting] = {}
        self.frequency: Counter[str] = Counter()  # items holding each word
        self.norms: dict[int, float] = {}
        self.themes: dict[int, frozenset[str]] = {}
        self.received: dict[int, datetime] = {}
        self.count = 0  # items in the window, as word frequencies count them
        self.newest = 0
        self.synced_at = float("-inf")

    def idf(self, term: str) -> float:
        return math.log((1 + self.count) / (1 + self.frequency.get(term, 0))) + 1

    async def refresh(self, session: AsyncSession, now: datetime | None = None) -> None:
        """Catch up with the database: the whole window now and then, else what is new."""
        if time.monotonic() - self.synced_at > RESYNC_SECONDS:
            self._rebuild(await self._window(session, now))
            self.synced_at = time.monotonic()
            return
        rows = await session.execute(
            _recent(now).where(VoiceItem.id > self.newest).order_by(VoiceItem.id)
        )
        for row in rows:
            self._add(*row, self.count_terms(row[1]))

    async def warm(self, db: Database) -> None:
        """Read the whole window again, outside any request: the database is read in a short
        transaction, the words weighed in a thread, and the new index swapped in at once (a
        cold build of 50,000 items takes seconds, which a filing's transaction must not)."""
        async with db.transaction() as session:
            rows = await self._window(session, None)
        fresh = VoiceIndex(self.words_of)
        await asyncio.to_thread(fresh._rebuild, rows)
        async with db.transaction() as session:
            # Items stored while the thread worked are added here, then the state is swapped.
            for row in await session.execute(
                _recent(None).where(VoiceItem.id > fresh.newest).order_by(VoiceItem.id)
            ):
                fresh._add(*row, fresh.count_terms(row[1]))
        self.__dict__.update(fresh.__dict__)
        self.synced_at = time.monotonic()

    async def _window(self, session: AsyncSession, now: datetime | None) -> list:
        rows = await session.execute(_recent(now).order_by(VoiceItem.id.desc()).limit(INDEXED))
        return list(rows.all())

    def count_terms(self, text: str) -> Counter[str]:
        return Counter(self.words_of(text[:READ_CHARACTERS]))

    def _rebuild(self, rows: list) -> None:
        self.postings.clear()
        self.frequency.clear()
        self.norms.clear()
        self.themes.clear()
        self.received.clear()
        self.newest = 0
        self.count = len(rows)
        documents = [(row, self.count_terms(row[1])) for row in rows]
        # Word frequencies first, so that every item's norm is weighed against the whole window.
        for _, words in documents:
            self.frequency.update(words.keys())
        for row, words in reversed(documents):  # oldest first: ids grow in each posting
            self._add(*row, words, counted=True)

    def _add(
        self,
        item_id: int,
        text: str,
        themes: list[str] | None,
        received_at: datetime,
        words: Counter[str],
        *,
        counted: bool = False,
    ) -> None:
        if item_id in self.norms:
            return
        if not counted:
            self.frequency.update(words.keys())
            self.count += 1
        norm = 0.0
        for word, n in words.items():
            posting = self.postings.get(word)
            if posting is None:
                posting = self.postings[word] = Posting()
            posting.ids.append(item_id)
            posting.counts.append(min(n, 65_535))
            norm += (n * self.idf(word)) ** 2
        self.norms[item_id] = math.sqrt(norm) or 1.0
        self.themes[item_id] = frozenset(themes or ())
        self.received[item_id] = received_at
        self.newest = max(self.newest, item_id)

    def vector(self, words: Counter[str] | dict[str, int]) -> dict[str, float]:
        """A text's unit vector of word weights, against this window's word frequencies."""
        weights = {word: n * self.idf(word) for word, n in words.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {word: w / norm for word, w in weights.items()}

    def scores(self, vector: dict[str, float], since: datetime) -> dict[int, float]:
        """Cosine similarity of ``vector`` with every item received since ``since`` that shares
        a word with it (the others score 0); reads only those items' postings."""
        dots: dict[int, float] = {}
        for word, weight in vector.items():
            posting = self.postings.get(word)
            if posting is None:
                continue
            factor = weight * self.idf(word)
            for item_id, n in zip(posting.ids, posting.counts, strict=True):
                dots[item_id] = dots.get(item_id, 0.0) + factor * n
        received = self.received
        return {
            item_id: dot / self.norms[item_id]
            for item_id, dot in dots.items()
            if received[item_id] >= since
        }


def _recent(now: datetime | None) -> Select:
    return select(VoiceItem.id, VoiceItem.text, VoiceItem.themes, VoiceItem.received_at).where(
        VoiceItem.received_at >= (now or utcnow()) - WINDOW
    )


_indexes: weakref.WeakKeyDictionary[object, VoiceIndex] = weakref.WeakKeyDictionary()


def voice_index_for(
    session: AsyncSession | Database, words_of: Callable[[str], Iterable[str]]
) -> VoiceIndex:
    """This database's index (one per engine, dropped with it)."""
    engine = session.engine.sync_engine if isinstance(session, Database) else session.get_bind()
    if engine not in _indexes:
        _indexes[engine] = VoiceIndex(words_of)
    return _indexes[engine]
