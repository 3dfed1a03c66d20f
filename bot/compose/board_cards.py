"""The board in chat: one page of ideas to vote on, between a card that turns pages and changes
the order and one that changes which ideas are shown. Every button carries the whole query, so
a press shows the page it names, whatever happened to the board meanwhile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from bot.compose import actions
from bot.compose.suggestion_cards import ideas_text, status_label, votes_text, voting_card
from bot.compose.text import truncate
from bot.domain import SuggestionStatus
from bot.i18n import L_, N_, _, ngettext
from bot.i18n.formats import format_number
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
from bot.storage.models import Suggestion

# Translated when shown (the console shows them too); ``str()`` them onto a card.
SORT_LABELS = {NEWEST: L_("Newest"), TOP: L_("Most voted"), EVIDENCE: L_("Most customers")}
SORT_TITLES = {
    NEWEST: L_("newest first"),
    TOP: L_("most voted first"),
    EVIDENCE: L_("most customer evidence first"),
}
# The board's title per filter and order: one whole phrase each for translators.
BOARD_TITLES = {
    "open": N_("Open ideas, {order}"),
    "all": N_("All ideas, {order}"),
    SuggestionStatus.NEW: N_("Unanswered ideas, {order}"),
    SuggestionStatus.UNDER_REVIEW: N_("Under review ideas, {order}"),
    SuggestionStatus.PLANNED: N_("Planned ideas, {order}"),
    SuggestionStatus.DONE: N_("Done ideas, {order}"),
    SuggestionStatus.DECLINED: N_("Declined ideas, {order}"),
}
NONE_SHOWN = {
    "all": N_("No all ideas. Choose other ideas below."),
    SuggestionStatus.NEW: N_("No unanswered ideas. Choose other ideas below."),
    SuggestionStatus.UNDER_REVIEW: N_("No under review ideas. Choose other ideas below."),
    SuggestionStatus.PLANNED: N_("No planned ideas. Choose other ideas below."),
    SuggestionStatus.DONE: N_("No done ideas. Choose other ideas below."),
    SuggestionStatus.DECLINED: N_("No declined ideas. Choose other ideas below."),
}
# Teams shows six buttons a card before folding the rest away: six filters.
FILTERS = (OPEN, "under_review", "planned", "done", "declined", ALL)


def shown_label(status: str) -> str:
    """'open' -> 'Open', 'under_review' -> 'Under review', 'new' -> 'Unanswered'."""
    if status == SuggestionStatus.NEW:
        return _("Unanswered")
    if status == OPEN:
        return _("Open")
    if status == ALL:
        return _("All")
    return status_label(status)


def _browse(label: str, query: BoardQuery, *, selected: bool = False) -> Button:
    return Button(label, actions.SUGGESTIONS_BROWSE, asdict(query), selected=selected)


def board_title(status: str, sort: str) -> str:
    """'Open ideas, most voted first', in the language being spoken."""
    return _(BOARD_TITLES.get(status, BOARD_TITLES["all"])).format(order=SORT_TITLES[sort])


def _fallback_line(idea: Suggestion) -> str:
    if not idea.evidence_count:
        return _("#{number} ({votes}): {text}").format(
            number=idea.id, votes=votes_text(idea.vote_count), text=truncate(idea.text, 80)
        )
    customers = ngettext("{count} customer", "{count} customers", idea.evidence_count).format(
        count=format_number(idea.evidence_count)
    )
    return _("#{number} ({votes}, {customers}): {text}").format(
        number=idea.id,
        votes=votes_text(idea.vote_count),
        customers=customers,
        text=truncate(idea.text, 80),
    )


def board_message(page: BoardPage, voted: Iterable[int] = ()) -> Message:
    query = page.query
    voted_ids = set(voted)
    title = board_title(query.status, query.sort)
    if page.total:
        closed = query.status in (SuggestionStatus.DONE, SuggestionStatus.DECLINED)
        invitation = (
            _("Votes on them are closed.")
            if closed
            else _("Vote for the ones you back: each person votes once.")
        )
        text = _("Page {page} of {pages}, {ideas}.").format(
            page=format_number(query.page),
            pages=format_number(page.pages),
            ideas=ideas_text(page.total),
        )
        text = f"{text} {invitation}"
    elif query.status == OPEN:
        text = _("No open ideas yet. Send the first with /suggest YOUR IDEA.")
    else:
        text = _(NONE_SHOWN.get(query.status, NONE_SHOWN["all"]))
    if page.past_the_end and page.total:
        text = f"{page.past_the_end} {text}"
    turns = [
        _browse(str(SORT_LABELS[sort]), BoardQuery(sort, query.status), selected=sort == query.sort)
        for sort in SORTS
    ]
    if page.previous is not None:
        turns.append(_browse(_("◀ Previous page"), page.previous))
    if page.next is not None:
        turns.append(_browse(_("Next page ▶"), page.next))
    header = Card(title=title, text=text, buttons=tuple(turns))
    filters = Card(
        title=_("Show ideas that are"),
        text=_(
            "Or type /suggestions top, /suggestions evidence, /suggestions planned, "
            "/suggestions unanswered, /suggestions page 2."
        ),
        buttons=tuple(
            _browse(shown_label(s), BoardQuery(query.sort, s), selected=s == query.status)
            for s in FILTERS
        ),
    )
    lines = [_fallback_line(s) for s in page.ideas]
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
