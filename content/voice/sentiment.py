"""Sentiment of a piece of customer voice: VADER on the text, blended with the customer's own
rating or score when the source has one (a 1-star review is negative whatever the words say).

VADER reads English only: a French complaint would score a neutral 0.0 that is not neutral at
all. So words are scored only in a language the analyser reads (``SCORED_LANGUAGES``); in any
other the item is not scored (None), unless the customer gave a rating, which says the same in
every language. Text whose language could not be told (too short: "Great!") is scored when VADER
knows one of its words, since then it has something to go on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.i18n import _, ngettext
from bot.i18n.formats import format_number, format_signed

# How much the rating counts against the text when both are known.
RATING_WEIGHT = 0.6
# The languages VADER's lexicon is written in.
SCORED_LANGUAGES = frozenset({"en"})
NEGATIVE, MIXED, POSITIVE, NOT_SCORED = "negative", "mixed", "positive", "not scored"
_TOKENS = re.compile(r"[\w'’]+|[^\w\s]+")

if TYPE_CHECKING:  # imported when a text is first scored, not by every process that starts
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def rating_to_score(rating: float, scale: tuple[float, float]) -> float:
    """Map a rating on ``scale`` (1-5 stars, 0-10 NPS...) to -1..1."""
    low, high = scale
    if high <= low:
        return 0.0
    position = (min(max(rating, low), high) - low) / (high - low)
    return round(position * 2 - 1, 4)


def guess_scale(rating: float) -> tuple[float, float]:
    """Stars (1-5) unless the value only fits a 0-10 score."""
    return (1.0, 5.0) if 0 < rating <= 5 else (0.0, 10.0)


def sentiment(
    text: str, rating: float | None = None, scale: tuple[float, float] | None = None
) -> float:
    """-1 (very negative) to 1 (very positive), reading ``text`` as English."""
    words = _analyzer().polarity_scores(text or "")["compound"] if text else 0.0
    if rating is None:
        return round(words, 4)
    stars = rating_to_score(rating, scale or guess_scale(rating))
    if not text:
        return stars
    return round(RATING_WEIGHT * stars + (1 - RATING_WEIGHT) * words, 4)


def knows_a_word(text: str) -> bool:
    """Whether VADER's lexicon holds any word of ``text`` (its evidence, in short texts)."""
    lexicon = _analyzer().lexicon
    return any(token.lower() in lexicon for token in _TOKENS.findall(text or ""))


def score(
    text: str,
    rating: float | None = None,
    scale: tuple[float, float] | None = None,
    language: str | None = None,
) -> float | None:
    """The sentiment of an item written in ``language`` (None: unknown), or None: not scored."""
    return blended(words_score(text, language), rating, scale)


def words_score(text: str, language: str | None) -> float | None:
    """VADER's compound score of ``text`` when it reads the text's ``language``, else None.
    It depends on the text alone, so an import reads each distinct text once (the rating is
    blended in afterwards by ``blended``)."""
    if not text:
        return None
    readable = language in SCORED_LANGUAGES or (language is None and knows_a_word(text))
    return _analyzer().polarity_scores(text)["compound"] if readable else None


def blended(
    words: float | None, rating: float | None, scale: tuple[float, float] | None
) -> float | None:
    """An item's sentiment from its ``words_score`` and its rating: the words alone, the rating
    alone (words VADER cannot read, or none), the two weighed, or None: nothing to go on."""
    if rating is None:
        return None if words is None else round(words, 4)
    stars = rating_to_score(rating, scale or guess_scale(rating))
    if words is None:
        return stars
    return round(RATING_WEIGHT * stars + (1 - RATING_WEIGHT) * words, 4)


def kind(value: float | None) -> str:
    """negative, mixed, positive, or not scored: what to count the item as."""
    if value is None:
        return NOT_SCORED
    if value <= -0.25:
        return NEGATIVE
    if value >= 0.25:
        return POSITIVE
    return MIXED


def label(value: float | None) -> str:
    """``kind``, in the language being spoken."""
    return {
        NEGATIVE: _("negative"),
        MIXED: _("mixed"),
        POSITIVE: _("positive"),
        # Translators: a customer's words in a language the sentiment analyser cannot read.
        NOT_SCORED: _("not scored"),
    }[kind(value)]


def described(value: float | None) -> str:
    """``negative (-0.62)``, or ``not scored``."""
    if value is None:
        return label(value)
    return _("{label} ({score})").format(label=label(value), score=format_signed(value))


def not_scored_note(values: Iterable[float | None]) -> str:
    """``3 not scored`` (items in a language the analyser cannot read), or "" when none."""
    missing = sum(1 for value in values if value is None)
    if not missing:
        return ""
    return ngettext("{count} not scored", "{count} not scored", missing).format(
        count=format_number(missing)
    )


def average(values: Iterable[float | None]) -> float | None:
    """The mean over scored items only (None when none is scored)."""
    scored = [value for value in values if value is not None]
    return sum(scored) / len(scored) if scored else None
