"""Finding ideas already on the board that say the same thing, as a new one is filed, so its
author can back the existing idea instead of splitting the votes.

TF-IDF over the open ideas' words (lower-cased, common words dropped, a light stemming), compared
by cosine similarity, against the open ideas in an in-memory word index (suggestion_index.py); quick
enough in Python, no model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.suggestion_index import OPEN, index_for
from bot.storage.models import Suggestion

THRESHOLD = 0.35
LIMIT = 3
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
    """TF-IDF weights over a corpus of ``count`` ideas, each word's IDF worked out once."""

    def __init__(self, frequency: Mapping[str, int], count: int) -> None:
        self.frequency = frequency
        self.count = count
        self._idf: dict[str, float] = {}

    @classmethod
    def of(cls, documents: Sequence[dict[str, int]]) -> _Weights:
        frequency: Counter[str] = Counter()
        for document in documents:
            frequency.update(document.keys())
        return cls(frequency, len(documents))

    def idf(self, term: str) -> float:
        if (known := self._idf.get(term)) is None:
            known = math.log((1 + self.count) / (1 + self.frequency.get(term, 0))) + 1
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
    weights = _Weights.of([term_counts(t) for t in (first, second, *corpus)])
    return weights.cosine(weights.vector(term_counts(first)), term_counts(second))


async def similar_ideas(
    session: AsyncSession, idea: Suggestion, *, limit: int = LIMIT, threshold: float = THRESHOLD
) -> list[tuple[Suggestion, float]]:
    """Open, visible ideas most like ``idea`` (best first), above ``threshold``."""
    index = index_for(session, term_counts)
    await index.refresh(session)
    mine_counts = term_counts(idea.text)
    others = index.candidates(mine_counts) - {idea.id}
    if not others:
        return []
    # The corpus is the board with the new idea in it, whether or not the index has it yet.
    count = len(index.documents) + (idea.id not in index.documents)
    frequency = (
        index.frequency
        if idea.id in index.documents
        else index.frequency + Counter(mine_counts.keys())
    )
    weights = _Weights(frequency, count)
    mine = weights.vector(mine_counts)
    scored = []
    for suggestion_id in others:
        document = index.documents[suggestion_id]
        # The other's unit vector weighs each shared word at most 1: ideas whose shared words
        # cannot reach the threshold even so are skipped without weighing them.
        if sum(mine[term] for term in mine.keys() & document.keys()) < threshold:
            continue
        score = weights.cosine(mine, document)
        if score >= threshold:
            scored.append((suggestion_id, score))
    best = sorted(scored, key=lambda pair: (-pair[1], -pair[0]))[: limit * 2]
    if not best:
        return []
    # The index may be a minute behind on ideas closed, merged or hidden: check the few shown.
    still_open = {
        s.id: s
        for s in await session.scalars(
            select(Suggestion).where(
                Suggestion.id.in_([i for i, _ in best]),
                Suggestion.duplicate_of_id.is_(None),
                Suggestion.hidden_at.is_(None),
                Suggestion.status.in_(OPEN),
            )
        )
    }
    return [(still_open[i], score) for i, score in best if i in still_open][:limit]
