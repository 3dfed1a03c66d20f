"""The open ideas' words, kept in memory and in step with the database by reading only what is
new, so that comparing a new idea with the board costs the same however big the board is.

Profiled under load: re-reading and re-weighing the board at every /suggest was most of the
server's work. The index is per process and per database; ideas filed by other instances are
read on the next use (they have higher ids), and the whole board is re-read every RESYNC_SECONDS
to drop ideas closed, merged or hidden since (callers check the few they show are still open)."""

from __future__ import annotations

import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import SuggestionStatus
from bot.storage.models import Suggestion

OPEN = (SuggestionStatus.NEW, SuggestionStatus.UNDER_REVIEW, SuggestionStatus.PLANNED)
RESYNC_SECONDS = 60.0
INDEXED = 5_000  # the most recent open ideas kept; older ones are not compared


class IdeaIndex:
    def __init__(self, words_of: Callable[[str], dict[str, int]]) -> None:
        self.words_of = words_of
        self.documents: dict[int, dict[str, int]] = {}
        self.postings: defaultdict[str, set[int]] = defaultdict(set)
        self.frequency: Counter[str] = Counter()  # ideas holding each word
        self.newest = 0
        self.synced_at = float("-inf")

    async def refresh(self, session: AsyncSession) -> None:
        if time.monotonic() - self.synced_at > RESYNC_SECONDS:
            await self._resync(session)
            return
        rows = await session.execute(_open_ideas().where(Suggestion.id > self.newest))
        for suggestion_id, text in rows:
            self._add(suggestion_id, text)
        while len(self.documents) > INDEXED:
            self._remove(min(self.documents))

    def candidates(self, words: dict[str, int]) -> set[int]:
        """Ideas sharing at least one word with ``words``."""
        found: set[int] = set()
        for word in words:
            found |= self.postings.get(word, set())
        return found

    async def _resync(self, session: AsyncSession) -> None:
        rows = (
            await session.execute(_open_ideas().order_by(Suggestion.id.desc()).limit(INDEXED))
        ).all()
        self.documents.clear()
        self.postings.clear()
        self.frequency.clear()
        self.newest = 0
        for suggestion_id, text in rows:
            self._add(suggestion_id, text)
        self.synced_at = time.monotonic()

    def _add(self, suggestion_id: int, text: str) -> None:
        if suggestion_id in self.documents:
            return
        words = self.words_of(text)
        self.documents[suggestion_id] = words
        for word in words:
            self.postings[word].add(suggestion_id)
        self.frequency.update(words.keys())
        self.newest = max(self.newest, suggestion_id)

    def _remove(self, suggestion_id: int) -> None:
        words = self.documents.pop(suggestion_id)
        for word in words:
            holders = self.postings[word]
            holders.discard(suggestion_id)
            if not holders:
                del self.postings[word]
        self.frequency.subtract(words.keys())


def _open_ideas() -> Select[tuple[int, str]]:
    return select(Suggestion.id, Suggestion.text).where(
        Suggestion.duplicate_of_id.is_(None),
        Suggestion.hidden_at.is_(None),
        Suggestion.status.in_(OPEN),
    )


_indexes: weakref.WeakKeyDictionary[object, IdeaIndex] = weakref.WeakKeyDictionary()


def index_for(session: AsyncSession, words_of: Callable[[str], dict[str, int]]) -> IdeaIndex:
    """This database's index (one per engine, dropped with it)."""
    engine = session.get_bind()
    if engine not in _indexes:
        _indexes[engine] = IdeaIndex(words_of)
    return _indexes[engine]
