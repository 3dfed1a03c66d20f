"""The customer-voice digest: themes with volume, sentiment, trend and representative quotes.

The full pipeline (import, sentiment, theming, scrubbing) lives in content/; this composer works
from what is stored, so a digest can be sent before the pipeline runs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import mean

from bot.compose import actions
from bot.compose.text import plural, truncate
from bot.messages import Button, ButtonStyle, Card, Fact, Message, subject_key
from bot.storage.models import VoiceItem

MAX_THEMES = 5
QUOTES_PER_THEME = 2
UNTHEMED = "other"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d(?!\w)")


def scrub(text: str) -> str:
    """Mask e-mail addresses, card numbers and phone numbers before employees see a quote."""
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub("[card number]", text)
    return _PHONE.sub("[phone]", text)


def sentiment_label(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value <= -0.25:
        return "negative"
    if value >= 0.25:
        return "positive"
    return "mixed"


@dataclass(frozen=True)
class ThemeSummary:
    theme: str
    count: int
    previous: int
    sentiment: float | None
    quotes: tuple[str, ...]

    @property
    def trend(self) -> str:
        if self.previous == 0:
            return "new" if self.count else "–"
        change = round(100 * (self.count - self.previous) / self.previous)
        return f"{change:+d}% vs previous period"


def summarise_themes(
    current: Sequence[VoiceItem], previous: Sequence[VoiceItem]
) -> list[ThemeSummary]:
    by_theme: dict[str, list[VoiceItem]] = defaultdict(list)
    for item in current:
        for theme in item.themes or [UNTHEMED]:
            by_theme[theme].append(item)
    before: dict[str, int] = defaultdict(int)
    for item in previous:
        for theme in item.themes or [UNTHEMED]:
            before[theme] += 1
    summaries = []
    for theme, items in by_theme.items():
        scored = [i.sentiment for i in items if i.sentiment is not None]
        # The most negative voices first: they are the ones that need hearing.
        ordered = sorted(items, key=lambda i: i.sentiment if i.sentiment is not None else 0.0)
        quotes = tuple(truncate(scrub(i.text), 280) for i in ordered[:QUOTES_PER_THEME])
        summaries.append(
            ThemeSummary(theme, len(items), before[theme], mean(scored) if scored else None, quotes)
        )
    summaries.sort(key=lambda s: (-s.count, s.theme))
    return summaries[:MAX_THEMES]


def compose_voice_digest(
    digest_name: str,
    run_id: int,
    current: Sequence[VoiceItem],
    previous: Sequence[VoiceItem],
    period_label: str,
) -> Message:
    subject = subject_key("digest_run", run_id)
    scored = [i.sentiment for i in current if i.sentiment is not None]
    header = Card(
        title=digest_name,
        text=f"What customers told us {period_label}: {plural(len(current), 'voice')}, "
        f"overall {sentiment_label(mean(scored) if scored else None)}.",
        buttons=(
            Button("Useful", actions.FEEDBACK_USEFUL, {"subject": subject}, ButtonStyle.PRIMARY),
            Button("Not relevant", actions.FEEDBACK_NOT_RELEVANT, {"subject": subject}),
            Button("Suggest an idea", actions.SUGGEST_OPEN, {"subject": subject}),
        ),
        subject=subject,
    )
    cards = [header]
    for summary in summarise_themes(current, previous):
        cards.append(
            Card(
                title=f"{summary.theme.capitalize()}: {plural(summary.count, 'voice')}",
                text="\n".join(f"“{quote}”" for quote in summary.quotes),
                facts=(
                    Fact("Sentiment", sentiment_label(summary.sentiment)),
                    Fact("Trend", summary.trend),
                ),
            )
        )
    fallback = f"{digest_name}: {plural(len(current), 'customer voice')} {period_label}"
    return Message(fallback=fallback, cards=tuple(cards), kind="voice_digest", subject=subject)
