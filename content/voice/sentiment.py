"""Sentiment of a piece of customer voice: VADER on the text, blended with the customer's own
rating or score when the source has one (a 1-star review is negative whatever the words say)."""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# How much the rating counts against the text when both are known.
RATING_WEIGHT = 0.6


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
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
    """-1 (very negative) to 1 (very positive)."""
    words = _analyzer().polarity_scores(text or "")["compound"] if text else 0.0
    if rating is None:
        return round(words, 4)
    stars = rating_to_score(rating, scale or guess_scale(rating))
    if not text:
        return stars
    return round(RATING_WEIGHT * stars + (1 - RATING_WEIGHT) * words, 4)


def label(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value <= -0.25:
        return "negative"
    if value >= 0.25:
        return "positive"
    return "mixed"
