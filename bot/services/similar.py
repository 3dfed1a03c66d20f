"""Finding ideas already on the board that say the same thing, as a new one is filed, so its
author can back the existing idea instead of splitting the votes.

TF-IDF over the open ideas' words (lower-cased, common words dropped, a light stemming), compared
by cosine similarity, against the most recent open ideas; quick enough in Python, no model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import SuggestionStatus
from bot.storage.models import Suggestion

THRESHOLD = 0.35
OPEN = (SuggestionStatus.NEW, SuggestionStatus.UNDER_REVIEW, SuggestionStatus.PLANNED)
LIMIT = 3
COMPARED = 2_000  # the most recent open ideas a new one is compared with
CACHED_TEXTS = 20_000
WORD = re.compile(r"[a-zà-ÿ0-9]+")
STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "let",
        "make",
        "more",
        "most",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "out",
        "over",
        "so",
        "some",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "all",
        "any",
        "every",
        "each",
        "also",
        "just",
        "only",
        "very",
        "should",
        "must",
        "may",
        "might",
        "new",
        "get",
        "gets",
    )
)


def stem(word: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ers", "er", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@lru_cache(maxsize=CACHED_TEXTS)
def terms(text: str) -> tuple[str, ...]:
    """An idea's weighed words. Cached: the board's texts are read again at every new idea, and
    stemming them each time was most of the cost of filing one (profiled under load)."""
    return tuple(stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 2)


@lru_cache(maxsize=CACHED_TEXTS)
def term_counts(text: str) -> dict[str, int]:
    return dict(Counter(terms(text)))


class _Weights:
    """TF-IDF weights over one corpus, each word's IDF worked out once."""

    def __init__(self, documents: Sequence[dict[str, int]]) -> None:
        self.count = len(documents)
        self.frequency: Counter[str] = Counter()
        for document in documents:
            self.frequency.update(document.keys())
        self._idf: dict[str, float] = {}

    def idf(self, term: str) -> float:
        if (known := self._idf.get(term)) is None:
            known = math.log((1 + self.count) / (1 + self.frequency[term])) + 1
            self._idf[term] = known
        return known

    def vector(self, document: dict[str, int]) -> dict[str, float]:
        weights = {term: n * self.idf(term) for term, n in document.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {term: w / norm for term, w in weights.items()}

    def cosine(self, mine: dict[str, float], document: dict[str, int]) -> float:
        """``mine`` (a unit vector) against a document, building no vector for it."""
        dot = norm = 0.0
        for term, n in document.items():
            weight = n * self.idf(term)
            norm += weight * weight
            if term in mine:
                dot += weight * mine[term]
        return dot / math.sqrt(norm) if norm else 0.0


def similarity(first: str, second: str, corpus: Sequence[str] = ()) -> float:
    """Cosine similarity of two texts, with word weights taken from them and ``corpus``."""
    weights = _Weights([term_counts(t) for t in (first, second, *corpus)])
    return weights.cosine(weights.vector(term_counts(first)), term_counts(second))


async def similar_ideas(
    session: AsyncSession, idea: Suggestion, *, limit: int = LIMIT, threshold: float = THRESHOLD
) -> list[tuple[Suggestion, float]]:
    """Open, visible ideas most like ``idea`` (best first), above ``threshold``. Compared with
    the most recent COMPARED open ideas: a bounded cost for each new idea, however big the
    board grows."""
    rows = (
        await session.execute(
            select(Suggestion.id, Suggestion.text)
            .where(
                Suggestion.id != idea.id,
                Suggestion.duplicate_of_id.is_(None),
                Suggestion.hidden_at.is_(None),
                Suggestion.status.in_(OPEN),
            )
            .order_by(Suggestion.id.desc())
            .limit(COMPARED)
        )
    ).all()
    if not rows:
        return []
    mine_counts = term_counts(idea.text)
    documents = [term_counts(text) for _, text in rows]
    weights = _Weights([mine_counts, *documents])
    mine = weights.vector(mine_counts)
    scored = []
    for (suggestion_id, _), document in zip(rows, documents, strict=True):
        # The other's unit vector weighs each shared word at most 1: ideas whose shared words
        # cannot reach the threshold even so are skipped without weighing them.
        shared = mine.keys() & document.keys()
        if sum(mine[term] for term in shared) < threshold:
            continue
        score = weights.cosine(mine, document)
        if score >= threshold:
            scored.append((suggestion_id, score))
    best = sorted(scored, key=lambda pair: -pair[1])[:limit]
    if not best:
        return []
    loaded = {
        s.id: s
        for s in await session.scalars(
            select(Suggestion).where(Suggestion.id.in_([i for i, _ in best]))
        )
    }
    return [(loaded[i], score) for i, score in best]
