"""Theme watch: once an idea that customers backed (it has customer evidence) is done, did
customers stop saying it? For each such idea, its main theme's volume and sentiment in equal
windows either side of the day it was done: the report's period, or less when the idea was done
more recently than that (so the two windows stay the same length).

Nothing here reads an idea's author; the idea is named by number and words, as on the board.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import SuggestionStatus
from bot.storage.models import Suggestion, SuggestionResponse, VoiceItem
from bot.storage.types import UTCDateTime

# Ideas done longer ago than this are no longer watched.
HORIZON = timedelta(days=180)
MAX_WATCHED = 10


@dataclass(frozen=True)
class ThemeSide:
    count: int
    sentiment: float | None


@dataclass(frozen=True)
class ThemeWatch:
    suggestion_id: int
    idea: str
    theme: str
    done_at: datetime
    window: timedelta
    before: ThemeSide
    after: ThemeSide

    @property
    def too_early(self) -> bool:
        return self.window < timedelta(days=1)

    @property
    def change(self) -> int:
        return self.after.count - self.before.count

    def as_dict(self) -> dict[str, object]:
        def rounded(value: float | None) -> float | None:
            return round(value, 3) if value is not None else None

        return {
            "suggestion": self.suggestion_id,
            "idea": self.idea,
            "theme": self.theme,
            "done_at": self.done_at.isoformat(),
            "window_days": round(self.window.total_seconds() / 86_400, 2),
            "items_before": self.before.count,
            "items_after": self.after.count,
            "sentiment_before": rounded(self.before.sentiment),
            "sentiment_after": rounded(self.after.sentiment),
        }


async def watch_themes(session: AsyncSession, period: timedelta, now: datetime) -> list[ThemeWatch]:
    """The watched themes of ideas done in the last HORIZON, most recently done first."""
    done_at = (
        select(
            SuggestionResponse.suggestion_id,
            func.max(SuggestionResponse.created_at, type_=UTCDateTime()).label("done_at"),
        )
        .where(SuggestionResponse.status_after == SuggestionStatus.DONE)
        .group_by(SuggestionResponse.suggestion_id)
        .subquery()
    )
    ideas = (
        await session.execute(
            select(Suggestion.id, Suggestion.text, Suggestion.evidence_theme, done_at.c.done_at)
            .join(done_at, done_at.c.suggestion_id == Suggestion.id)
            .where(
                Suggestion.status == SuggestionStatus.DONE,
                Suggestion.evidence_count > 0,
                Suggestion.evidence_theme.is_not(None),
                Suggestion.duplicate_of_id.is_(None),
                Suggestion.hidden_at.is_(None),
                done_at.c.done_at >= now - HORIZON,
            )
            .order_by(done_at.c.done_at.desc(), Suggestion.id.desc())
            .limit(MAX_WATCHED)
        )
    ).all()
    watched = []
    for idea_id, text, theme, done in ideas:
        window = max(timedelta(0), min(period, now - done))
        before, after = await _sides(session, theme, done, window)
        watched.append(ThemeWatch(idea_id, text, theme, done, window, before, after))
    return watched


async def _sides(
    session: AsyncSession, theme: str, done: datetime, window: timedelta
) -> tuple[ThemeSide, ThemeSide]:
    if not window:
        return ThemeSide(0, None), ThemeSide(0, None)
    # The JSON list's text holds the theme as json.dumps writes it: the database narrows the
    # rows down, and each row's list is checked here (a theme may be part of another's name).
    rows = await session.execute(
        select(VoiceItem.received_at, VoiceItem.sentiment, VoiceItem.themes).where(
            VoiceItem.received_at >= done - window,
            VoiceItem.received_at < done + window,
            cast(VoiceItem.themes, String).contains(json.dumps(theme), autoescape=True),
        )
    )
    sides: dict[bool, list[float | None]] = {False: [], True: []}
    for received_at, sentiment, themes in rows:
        if theme in (themes or ()):
            sides[received_at >= done].append(sentiment)
    return _side(sides[False]), _side(sides[True])


def _side(sentiments: list[float | None]) -> ThemeSide:
    known = [s for s in sentiments if s is not None]
    return ThemeSide(len(sentiments), sum(known) / len(known) if known else None)
