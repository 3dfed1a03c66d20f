"""The board in chat: one page of ideas to vote on, between a card that turns pages and changes
the order and one that changes which ideas are shown. Every button carries the whole query, so
a press shows the page it names, whatever happened to the board meanwhile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from bot.compose import actions
from bot.compose.suggestion_cards import voting_card
from bot.compose.text import plural, truncate
from bot.domain import SuggestionStatus
from bot.messages import Button, Card, Message
from bot.services.suggestion_board import (
    ALL,
    EVIDENCE,
    NEWEST,
    OPEN,
    SORTS,
    TOP,
    BoardPage,
    BoardQuery,
)

SORT_LABELS = {NEWEST: "Newest", TOP: "Most voted", EVIDENCE: "Most customers"}
SORT_TITLES = {
    NEWEST: "newest first",
    TOP: "most voted first",
    EVIDENCE: "most customer evidence first",
}
# Teams shows six buttons a card before folding the rest away: six filters.
FILTERS = (OPEN, "under_review", "planned", "done", "declined", ALL)


def shown_label(status: str) -> str:
    """'open' -> 'Open', 'under_review' -> 'Under review', 'new' -> 'Unanswered'."""
    if status == SuggestionStatus.NEW:
        return "Unanswered"
    if status in (OPEN, ALL):
        return status.capitalize()
    return SuggestionStatus(status).label.capitalize()


def _browse(label: str, query: BoardQuery, *, selected: bool = False) -> Button:
    return Button(label, actions.SUGGESTIONS_BROWSE, asdict(query), selected=selected)


def board_message(page: BoardPage, voted: Iterable[int] = ()) -> Message:
    query = page.query
    voted_ids = set(voted)
    title = f"{shown_label(query.status)} ideas, {SORT_TITLES[query.sort]}"
    if page.total:
        closed = query.status in (SuggestionStatus.DONE, SuggestionStatus.DECLINED)
        invitation = (
            "Votes on them are closed."
            if closed
            else "Vote for the ones you back: each person votes once."
        )
        text = f"Page {query.page} of {page.pages}, {plural(page.total, 'idea')}. {invitation}"
    elif query.status == OPEN:
        text = "No open ideas yet. Send the first with /suggest YOUR IDEA."
    else:
        text = f"No {shown_label(query.status).lower()} ideas. Choose other ideas below."
    if page.past_the_end and page.total:
        text = f"{page.past_the_end} {text}"
    turns = [
        _browse(SORT_LABELS[sort], BoardQuery(sort, query.status), selected=sort == query.sort)
        for sort in SORTS
    ]
    if page.previous is not None:
        turns.append(_browse("◀ Previous page", page.previous))
    if page.next is not None:
        turns.append(_browse("Next page ▶", page.next))
    header = Card(title=title, text=text, buttons=tuple(turns))
    filters = Card(
        title="Show ideas that are",
        text="Or type /suggestions top, /suggestions evidence, /suggestions planned, "
        "/suggestions unanswered, /suggestions page 2.",
        buttons=tuple(
            _browse(shown_label(s), BoardQuery(query.sort, s), selected=s == query.status)
            for s in FILTERS
        ),
    )
    lines = [
        f"#{s.id} ({plural(s.vote_count, 'vote')}"
        + (f", {plural(s.evidence_count, 'customer')}" if s.evidence_count else "")
        + f"): {truncate(s.text, 80)}"
        for s in page.ideas
    ]
    return Message(
        fallback="\n".join([f"{title}. {text}", *lines]),
        kind="suggestion_list",
        cards=(
            header,
            *(
                voting_card(
                    s,
                    voted=s.id in voted_ids,
                    answer=page.answers.get(s.id),
                    evidence=page.evidence.get(s.id),
                )
                for s in page.ideas
            ),
            filters,
        ),
    )
