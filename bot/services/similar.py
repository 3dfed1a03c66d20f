"""Finding ideas already on the board that say the same thing, as a new one is filed, so its
author can back the existing idea instead of splitting the votes.

TF-IDF over the open ideas' words (lower-cased, common words dropped, a light stemming), compared
by cosine similarity. The board holds hundreds of open ideas, not millions: this is quick enough
in Python and needs no model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import SuggestionStatus
from bot.storage.models import Suggestion

THRESHOLD = 0.35
OPEN = (SuggestionStatus.NEW, SuggestionStatus.UNDER_REVIEW, SuggestionStatus.PLANNED)
LIMIT = 3
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


def terms(text: str) -> list[str]:
    return [stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 2]


def _vectors(documents: list[list[str]]) -> list[dict[str, float]]:
    frequency = Counter(term for document in documents for term in set(document))
    count = len(documents)
    vectors = []
    for document in documents:
        weights = {
            term: n * (math.log((1 + count) / (1 + frequency[term])) + 1)
            for term, n in Counter(document).items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({term: w / norm for term, w in weights.items()})
    return vectors


def similarity(first: str, second: str, corpus: Sequence[str] = ()) -> float:
    """Cosine similarity of two texts, with word weights taken from them and ``corpus``."""
    vectors = _vectors([terms(first), terms(second), *(terms(t) for t in corpus)])
    return sum(w * vectors[1].get(term, 0.0) for term, w in vectors[0].items())


async def similar_ideas(
    session: AsyncSession, idea: Suggestion, *, limit: int = LIMIT, threshold: float = THRESHOLD
) -> list[tuple[Suggestion, float]]:
    """Open, visible ideas most like ``idea`` (best first), above ``threshold``."""
    others = list(
        await session.scalars(
            select(Suggestion).where(
                Suggestion.id != idea.id,
                Suggestion.duplicate_of_id.is_(None),
                Suggestion.hidden_at.is_(None),
                Suggestion.status.in_(OPEN),
            )
        )
    )
    if not others:
        return []
    vectors = _vectors([terms(idea.text), *(terms(o.text) for o in others)])
    mine = vectors[0]
    scored = [
        (other, sum(w * vector.get(term, 0.0) for term, w in mine.items()))
        for other, vector in zip(others, vectors[1:], strict=True)
    ]
    found = sorted((pair for pair in scored if pair[1] >= threshold), key=lambda p: -p[1])
    return found[:limit]
