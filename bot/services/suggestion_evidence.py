"""Customer evidence for ideas: the customer voice that says what an idea says, found when the
idea is filed and as new voice arrives, stored as IdeaEvidence rows with the idea's count and
main theme kept on the idea (so waiting ideas can be sorted by it).

Matching is the matcher's business (lexical here; content/ may plug in sentence embeddings);
this module stores what it finds, keeps counts right and reads it back for cards. Nothing here
reads an idea's author: evidence depends on the idea's words only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.compose.text import truncate
from bot.domain import OPEN_SUGGESTION_STATUSES
from bot.i18n import ngettext
from bot.i18n.formats import format_number
from bot.services.similar import term_counts, terms
from bot.services.suggestion_index import index_for
from bot.services.voice_index import WINDOW, voice_index_for
from bot.storage.models import IdeaEvidence, Suggestion, VoiceItem
from bot.storage.types import utcnow

# Chosen on benchmarks/data/evidence_pairs.csv (benchmarks/evidence_quality.py prints the
# figures, with --cross each idea against every text): precision first, since two of the matched
# items are quoted to managers. An item sharing a theme with the idea needs fewer shared words.
SHARED_THEME_THRESHOLD = 0.2
NO_THEME_THRESHOLD = 0.3
# The most items kept per idea (the best); the count is of distinct customers among them.
MAX_EVIDENCE = 500
QUOTES = 2
QUOTE_LENGTH = 240

ThemesOf = Callable[[str], Sequence[str]]
Scrub = Callable[[str], str]


@dataclass(frozen=True)
class Match:
    voice_item_id: int
    score: float
    theme: str | None


class EvidenceMatcher(Protocol):
    """Finds the voice items that say what a text says."""

    name: str

    async def for_idea(self, session: AsyncSession, text: str, now: datetime) -> list[Match]:
        """Items of the last WINDOW that say what ``text`` says, best first."""
        ...

    async def for_items(
        self, session: AsyncSession, item_ids: Sequence[int], now: datetime
    ) -> dict[int, list[Match]]:
        """For new items: the open ideas each says the same as, as {idea id: matches}."""
        ...


def uncached_terms(text: str) -> tuple[str, ...]:
    """similar.terms without its cache: voice items are read once, and 100,000 of them would
    push the board's ideas out of it."""
    return terms.__wrapped__(text)


class LexicalMatcher:
    """TF-IDF cosine over recent voice (the similar-ideas weighing, run against customers'
    words), with a lower bar for an item that shares a theme with the idea."""

    name = "lexical"

    def __init__(
        self,
        themes_of: ThemesOf | None = None,
        *,
        shared_theme: float = SHARED_THEME_THRESHOLD,
        no_theme: float = NO_THEME_THRESHOLD,
    ) -> None:
        self.themes_of = themes_of or (lambda text: ())
        self.shared_theme = shared_theme
        self.no_theme = no_theme

    def verdict(self, score: float, shared: frozenset[str] | set[str]) -> bool:
        return score >= (self.shared_theme if shared else self.no_theme)

    async def for_idea(self, session: AsyncSession, text: str, now: datetime) -> list[Match]:
        index = voice_index_for(session, uncached_terms)
        await index.refresh(session, now)
        themes = set(self.themes_of(text))
        found = []
        for item_id, score in index.scores(index.vector(term_counts(text)), now - WINDOW).items():
            shared = themes & index.themes[item_id]
            if self.verdict(score, shared):
                found.append(Match(item_id, score, min(shared) if shared else None))
        return sorted(found, key=lambda m: (-m.score, -m.voice_item_id))

    async def for_items(
        self, session: AsyncSession, item_ids: Sequence[int], now: datetime
    ) -> dict[int, list[Match]]:
        voice = voice_index_for(session, uncached_terms)
        await voice.refresh(session, now)
        ideas = index_for(session, term_counts)
        await ideas.refresh(session)
        items = (
            await session.execute(
                select(VoiceItem.id, VoiceItem.text, VoiceItem.themes).where(
                    VoiceItem.id.in_(item_ids), VoiceItem.received_at >= now - WINDOW
                )
            )
        ).all()
        vectors: dict[int, dict[str, float]] = {}
        themes: dict[int, set[str]] = {}
        found: dict[int, list[Match]] = {}
        for item_id, text, item_themes in items:
            mine = voice.vector(voice.count_terms(text))
            # Dot products through the ideas' postings: only (idea, shared word) pairs are read.
            dots: dict[int, float] = {}
            for word, weight in mine.items():
                for idea_id in ideas.postings.get(word, ()):
                    theirs = vectors.get(idea_id)
                    if theirs is None:
                        theirs = vectors[idea_id] = voice.vector(ideas.documents[idea_id])
                    dots[idea_id] = dots.get(idea_id, 0.0) + weight * theirs[word]
            near = [
                i for i, score in dots.items() if score >= min(self.shared_theme, self.no_theme)
            ]
            missing = [i for i in near if i not in themes]
            if missing:
                rows = await session.execute(
                    select(Suggestion.id, Suggestion.text).where(Suggestion.id.in_(missing))
                )
                themes.update((i, set(self.themes_of(t))) for i, t in rows)
            for idea_id in near:
                shared = themes.get(idea_id, set()) & set(item_themes or ())
                if idea_id in themes and self.verdict(dots[idea_id], shared):
                    theme = min(shared) if shared else None
                    found.setdefault(idea_id, []).append(Match(item_id, dots[idea_id], theme))
        return found


# ----- storing --------------------------------------------------------------------------------


async def record_evidence(
    session: AsyncSession, suggestion_id: int, matches: Sequence[Match], *, replace: bool = False
) -> int:
    """Store ``matches`` for an idea (those already stored stay), then recount; ``replace``
    drops what was stored before (a fresh look). Returns the idea's new count."""
    if replace:
        await session.execute(
            delete(IdeaEvidence).where(IdeaEvidence.suggestion_id == suggestion_id)
        )
    return (await record_many(session, {suggestion_id: matches}))[suggestion_id]


async def record_many(
    session: AsyncSession, found: Mapping[int, Sequence[Match]]
) -> dict[int, int]:
    """Store matches for many ideas in a few statements (a voice batch can touch a thousand
    ideas), each idea keeping at most MAX_EVIDENCE items; then recount them all."""
    ideas = list(found)
    voice_ids = {m.voice_item_id for matches in found.values() for m in matches}
    stored: dict[int, set[int]] = {idea_id: set() for idea_id in ideas}
    existing: set[int] = set()
    for chunk in _chunks(sorted(voice_ids)):
        # Items deleted since the index read them are left out (a foreign key would refuse them).
        existing.update(await session.scalars(select(VoiceItem.id).where(VoiceItem.id.in_(chunk))))
    for chunk in _chunks(ideas):
        rows = await session.execute(
            select(IdeaEvidence.suggestion_id, IdeaEvidence.voice_item_id).where(
                IdeaEvidence.suggestion_id.in_(chunk)
            )
        )
        for idea_id, item_id in rows:
            stored[idea_id].add(item_id)
    now = utcnow()
    rows_to_add = []
    for idea_id, matches in found.items():
        room = MAX_EVIDENCE - len(stored[idea_id])
        new = [
            m
            for m in sorted(matches, key=lambda m: -m.score)
            if m.voice_item_id in existing and m.voice_item_id not in stored[idea_id]
        ]
        rows_to_add += [
            {
                "suggestion_id": idea_id,
                "voice_item_id": m.voice_item_id,
                "score": round(m.score, 4),
                "theme": m.theme,
                "created_at": now,
            }
            for m in list({m.voice_item_id: m for m in new}.values())[: max(room, 0)]
        ]
    if rows_to_add:
        await session.execute(IdeaEvidence.__table__.insert(), rows_to_add)
    return await recount(session, ideas)


def _chunks(values: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


async def recount(session: AsyncSession, suggestion_ids: Sequence[int]) -> dict[int, int]:
    """Each idea's count (distinct customers: an account that wrote three tickets is one
    customer; items with no customer named count one each) and main theme, from its rows."""
    rows_of: dict[int, list[tuple[int, str | None, list[str] | None, str | None]]] = {
        idea_id: [] for idea_id in suggestion_ids
    }
    for chunk in _chunks(list(suggestion_ids)):
        rows = await session.execute(
            select(
                IdeaEvidence.suggestion_id,
                VoiceItem.id,
                VoiceItem.customer,
                VoiceItem.themes,
                IdeaEvidence.theme,
            )
            .join(IdeaEvidence, IdeaEvidence.voice_item_id == VoiceItem.id)
            .where(IdeaEvidence.suggestion_id.in_(chunk))
        )
        for idea_id, *row in rows:
            rows_of[idea_id].append(tuple(row))  # type: ignore[arg-type]
    changes = []
    for idea_id, rows in rows_of.items():
        customers = {
            customer.strip().lower() if customer and customer.strip() else f"#{item_id}"
            for item_id, customer, _, _ in rows
        }
        shared = Counter(theme for _, _, _, theme in rows if theme)
        themes = shared or Counter(t for _, _, item_themes, _ in rows for t in item_themes or ())
        main = min(themes, key=lambda t: (-themes[t], t)) if themes else None
        changes.append({"key": idea_id, "count": len(customers), "theme": main})
    table = Suggestion.__table__
    if changes:
        # A core UPDATE naming updated_at: evidence is not a change to the idea, and an
        # anonymous idea's time stays to the hour.
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("key"))
            .values(
                evidence_count=bindparam("count"),
                evidence_theme=bindparam("theme"),
                updated_at=table.c.updated_at,
            ),
            changes,
        )
    for change in changes:
        idea = session.identity_map.get((Suggestion, (change["key"],), None))
        if idea is not None:
            set_committed_value(idea, "evidence_count", change["count"])
            set_committed_value(idea, "evidence_theme", change["theme"])
    return {change["key"]: change["count"] for change in changes}


async def find_evidence(
    session: AsyncSession, matcher: EvidenceMatcher, suggestion: Suggestion, *, fresh: bool = False
) -> int:
    """Look for the customer voice that says what ``suggestion`` says, and store it."""
    matches = await matcher.for_idea(session, suggestion.text, utcnow())
    return await record_evidence(session, suggestion.id, matches, replace=fresh)


async def weigh_new_voice(
    session: AsyncSession, matcher: EvidenceMatcher, item_ids: Sequence[int]
) -> int:
    """New customer voice arrived: the open ideas it says the same as get it as evidence.
    Returns how many ideas gained some."""
    if not item_ids:
        return 0
    found = await matcher.for_items(session, item_ids, utcnow())
    if not found:
        return 0
    still_open = set(
        await session.scalars(
            select(Suggestion.id).where(
                Suggestion.id.in_(list(found)),
                Suggestion.status.in_(OPEN_SUGGESTION_STATUSES),
                Suggestion.duplicate_of_id.is_(None),
                Suggestion.hidden_at.is_(None),
            )
        )
    )
    await record_many(session, {idea_id: found[idea_id] for idea_id in sorted(still_open)})
    return len(still_open)


async def adopt_evidence(session: AsyncSession, duplicate_id: int, target_id: int) -> None:
    """A merged idea's evidence weighs the idea it joined (each item once)."""
    theirs = (
        await session.execute(
            select(IdeaEvidence.voice_item_id, IdeaEvidence.score, IdeaEvidence.theme).where(
                IdeaEvidence.suggestion_id == duplicate_id
            )
        )
    ).all()
    if theirs:
        await record_evidence(session, target_id, [Match(*row) for row in theirs])


async def open_ideas(session: AsyncSession) -> list[Suggestion]:
    return list(
        await session.scalars(
            select(Suggestion)
            .where(
                Suggestion.status.in_(OPEN_SUGGESTION_STATUSES),
                Suggestion.duplicate_of_id.is_(None),
                Suggestion.hidden_at.is_(None),
            )
            .order_by(Suggestion.id)
        )
    )


# ----- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceSummary:
    """What a card shows: how many customers, about what, and two of them in their words
    (scrubbed of personal data; each platform's renderer escapes them as all people's text)."""

    count: int
    theme: str | None
    quotes: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        if self.theme:
            return ngettext(
                "{count} customer said something similar (theme: {theme})",
                "{count} customers said something similar (theme: {theme})",
                self.count,
            ).format(count=format_number(self.count), theme=self.theme)
        return ngettext(
            "{count} customer said something similar",
            "{count} customers said something similar",
            self.count,
        ).format(count=format_number(self.count))


async def evidence_summaries(
    session: AsyncSession, ideas: Sequence[Suggestion], scrub: Scrub | None
) -> dict[int, EvidenceSummary]:
    """Each idea with evidence, with its two best quotes; without a scrubber (no content
    plugin), no quotes: customers' words are never shown unscrubbed."""
    if not any(idea.evidence_count for idea in ideas):
        return {}
    return await session.run_sync(evidence_summaries_in, ideas, scrub)


def evidence_summaries_in(
    session: Session, ideas: Sequence[Suggestion], scrub: Scrub | None
) -> dict[int, EvidenceSummary]:
    """``evidence_summaries`` in a synchronous session (a batch of votes writes in one)."""
    weighed = [idea for idea in ideas if idea.evidence_count]
    if not weighed:
        return {}
    quotes: dict[int, list[str]] = {}
    if scrub is not None:
        best = (
            select(
                IdeaEvidence.suggestion_id,
                VoiceItem.text,
                func.row_number()
                .over(
                    partition_by=IdeaEvidence.suggestion_id,
                    order_by=(IdeaEvidence.score.desc(), IdeaEvidence.voice_item_id.desc()),
                )
                .label("rank"),
            )
            .join(VoiceItem, VoiceItem.id == IdeaEvidence.voice_item_id)
            .where(IdeaEvidence.suggestion_id.in_([idea.id for idea in weighed]))
            .subquery()
        )
        # A few more than shown: the same words twice (a ticket and a colleague's note of it,
        # say) are quoted once.
        rows = session.execute(
            select(best.c.suggestion_id, best.c.text)
            .where(best.c.rank <= QUOTES * 3)
            .order_by(best.c.suggestion_id, best.c.rank)
        )
        for idea_id, text in rows:
            shown = quotes.setdefault(idea_id, [])
            said = quote(text, scrub)
            if len(shown) < QUOTES and said.casefold() not in {q.casefold() for q in shown}:
                shown.append(said)
    return {
        idea.id: EvidenceSummary(
            idea.evidence_count, idea.evidence_theme, tuple(quotes.get(idea.id, ()))
        )
        for idea in weighed
    }


def quote(text: str, scrub: Scrub) -> str:
    return truncate(" ".join(scrub(text).split()), QUOTE_LENGTH)


async def evidence_items(
    session: AsyncSession, suggestion_id: int, limit: int = 20
) -> list[tuple[VoiceItem, IdeaEvidence]]:
    """An idea's evidence, best first (for the CLI's detail)."""
    rows = await session.execute(
        select(VoiceItem, IdeaEvidence)
        .join(IdeaEvidence, IdeaEvidence.voice_item_id == VoiceItem.id)
        .where(IdeaEvidence.suggestion_id == suggestion_id)
        .order_by(IdeaEvidence.score.desc(), IdeaEvidence.voice_item_id.desc())
        .limit(limit)
    )
    return [(item, evidence) for item, evidence in rows]
