"""Browsing the ideas on the board a page at a time: newest or most voted first, the open ones,
one status or all. Newest first is the default, so that an idea nobody has voted for yet is
seen, and can get its first vote.

Chat shows everyone every idea on the board; the console shows a manager the ideas of the teams
below them, through ``where``. Ideas merged into another or hidden by a manager are never on it.
Nothing here reads an author: anonymity is the cards' business, as everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import SuggestionStatus, closest_choice, normalise_choice
from bot.errors import InvalidInput
from bot.i18n import _, ngettext
from bot.services.suggestion_evidence import EvidenceSummary, Scrub, evidence_summaries
from bot.services.suggestions import OPEN_STATUSES
from bot.storage.models import Suggestion, SuggestionResponse

NEWEST = "newest"
TOP = "top"
# Most customers first: the ideas customer voice says the same as
# (bot/services/suggestion_evidence.py).
EVIDENCE = "evidence"
SORTS = (NEWEST, TOP, EVIDENCE)
OPEN = "open"
ALL = "all"
# What a board may show: the open ideas, every idea, or the ideas of one status.
SHOWN = (OPEN, ALL, *(status.value for status in SuggestionStatus))
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class BoardQuery:
    sort: str = NEWEST
    status: str = OPEN
    page: int = 1

    @classmethod
    def of(cls, sort: str = NEWEST, status: str = OPEN, page: str | int = 1) -> BoardQuery:
        """A query from what a person or an address gave, each part checked: a mistake is
        refused, saying what is accepted (and what was most likely meant)."""
        sort = normalise_choice(sort) or NEWEST
        if sort not in SORTS:
            raise InvalidInput(_unknown("order", sort, SORTS))
        status = normalise_choice(status) or OPEN
        if status not in SHOWN:
            raise InvalidInput(_unknown("status", status, SHOWN))
        text = str(page).strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
            raise InvalidInput(
                _("'{text}' is not a page number; pages start at 1.").format(text=text)
            )
        return cls(sort, status, int(text))


def _unknown(what: str, value: str, choices: tuple[str, ...]) -> str:
    guess = closest_choice(value, choices)
    if what == "order":
        text = (
            _("Unknown order '{value}'. Did you mean {guess}? Use one of: {choices}.")
            if guess
            else _("Unknown order '{value}'. Use one of: {choices}.")
        )
    else:
        text = (
            _("Unknown status '{value}'. Did you mean {guess}? Use one of: {choices}.")
            if guess
            else _("Unknown status '{value}'. Use one of: {choices}.")
        )
    return text.format(value=value, guess=guess, choices=", ".join(choices))


@dataclass(frozen=True)
class BoardPage:
    """One page of the board; ``query.page`` is the page shown (a page past the end shows the
    last one)."""

    query: BoardQuery
    ideas: list[Suggestion]
    total: int
    pages: int
    asked_page: int = 1
    # The latest answer to each idea on the page: colleagues who did not vote see why too.
    answers: dict[int, str] = field(default_factory=dict)
    # What customers said that is similar, for the ideas that have some.
    evidence: dict[int, EvidenceSummary] = field(default_factory=dict)

    @property
    def past_the_end(self) -> str | None:
        """What to say when the page asked for does not exist (the last one is shown instead)."""
        if self.asked_page <= self.pages:
            return None
        return ngettext(
            "There is no page {asked}: these ideas fill {pages} page, so this is the last one.",
            "There is no page {asked}: these ideas fill {pages} pages, so this is the last one.",
            self.pages,
        ).format(asked=self.asked_page, pages=self.pages)

    @property
    def previous(self) -> BoardQuery | None:
        return replace(self.query, page=self.query.page - 1) if self.query.page > 1 else None

    @property
    def next(self) -> BoardQuery | None:
        more = self.query.page < self.pages
        return replace(self.query, page=self.query.page + 1) if more else None


async def browse(
    session: AsyncSession,
    query: BoardQuery,
    *,
    page_size: int,
    where: ColumnElement[bool] | None = None,
    scrub: Scrub | None = None,
) -> BoardPage:
    """One page; ``scrub`` masks personal data in customers' quotes (none shown without it)."""
    conditions = [Suggestion.duplicate_of_id.is_(None), Suggestion.hidden_at.is_(None)]
    if query.status == OPEN:
        conditions.append(Suggestion.status.in_(OPEN_STATUSES))
    elif query.status != ALL:
        conditions.append(Suggestion.status == query.status)
    if where is not None:
        conditions.append(where)
    total = int(await session.scalar(select(func.count(Suggestion.id)).where(*conditions)) or 0)
    pages = max(1, -(-total // page_size))
    shown = replace(query, page=min(query.page, pages))
    order = [Suggestion.created_at.desc(), Suggestion.id.desc()]
    if query.sort == TOP:
        order.insert(0, Suggestion.vote_count.desc())
    elif query.sort == EVIDENCE:
        order[:0] = [Suggestion.evidence_count.desc(), Suggestion.vote_count.desc()]
    ideas = await session.scalars(
        select(Suggestion)
        .where(*conditions)
        .order_by(*order)
        .offset((shown.page - 1) * page_size)
        .limit(page_size)
    )
    page = list(ideas)
    answers = await latest_answers(session, page)
    evidence = await evidence_summaries(session, page, scrub)
    return BoardPage(
        shown, page, total, pages, asked_page=query.page, answers=answers, evidence=evidence
    )


async def latest_answers(session: AsyncSession, ideas: list[Suggestion]) -> dict[int, str]:
    """Each idea's most recent answer text (ideas never answered are left out)."""
    if not ideas:
        return {}
    rows = await session.execute(
        select(SuggestionResponse.suggestion_id, SuggestionResponse.text)
        .where(SuggestionResponse.suggestion_id.in_([idea.id for idea in ideas]))
        .order_by(SuggestionResponse.created_at, SuggestionResponse.id)
    )
    return {idea_id: text for idea_id, text in rows if text.strip()}
