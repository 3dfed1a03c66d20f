"""/suggestions: the board in chat, a page at a time, newest or most voted first, by status.
Everyone sees every idea on the board here (the board is the company's); anonymous ideas show
no author and no team, as on every card."""

from __future__ import annotations

from sqlalchemy import select

from bot.chat.context import ChatContext
from bot.compose.board_cards import board_message
from bot.domain import closest_choice, normalise_choice
from bot.errors import InvalidInput
from bot.events import Reply
from bot.i18n import L_, _
from bot.messages import Message
from bot.services.suggestion_board import ALL, EVIDENCE, NEWEST, OPEN, TOP, BoardQuery, browse
from bot.storage.models import SuggestionVote

# Five ideas a page: a page of cards fits Slack's 50 blocks and a phone's screen.
CHAT_PAGE = 5
SORT_WORDS = {
    "newest": NEWEST,
    "new": NEWEST,
    "latest": NEWEST,
    "recent": NEWEST,
    "top": TOP,
    "votes": TOP,
    "most_voted": TOP,
    "popular": TOP,
    "evidence": EVIDENCE,
    "customers": EVIDENCE,
    "most_customers": EVIDENCE,
}
STATUS_WORDS = {
    "open": OPEN,
    "all": ALL,
    "unanswered": "new",
    "waiting": "new",
    "under_review": "under_review",
    "review": "under_review",
    "planned": "planned",
    "done": "done",
    "declined": "declined",
}
# The words people type stay English, like the command names.
USAGE = L_(
    "Write /suggestions [newest|top|evidence] "
    "[open|unanswered|under review|planned|done|declined|all] [page N], "
    "for example /suggestions top planned page 2."
)


def query_from_words(text: str) -> BoardQuery:
    """'/suggestions top planned page 2' -> BoardQuery('top', 'planned', 2); any order."""
    words = [normalise_choice(word) for word in text.split()]
    sort, status, page = NEWEST, OPEN, "1"
    index = 0
    while index < len(words):
        word, following = words[index], words[index + 1] if index + 1 < len(words) else ""
        if f"{word}_{following}" in SORT_WORDS or f"{word}_{following}" in STATUS_WORDS:
            word, index = f"{word}_{following}", index + 1  # "most voted", "under review"
        if word == "page":
            if not following:
                raise InvalidInput(_("Which page?") + f" {USAGE}")
            page, index = following, index + 1
        elif word.startswith("page") and word[4:].isdigit():
            page = word[4:]
        elif word in SORT_WORDS:
            sort = SORT_WORDS[word]
        elif word in STATUS_WORDS:
            status = STATUS_WORDS[word]
        else:
            guess = closest_choice(word, [*SORT_WORDS, *STATUS_WORDS, "page"])
            said = [_("'{word}' is not something I can show.").format(word=text.split()[index])]
            if guess:
                said.append(_("Did you mean {word}?").format(word=guess.replace("_", " ")))
            raise InvalidInput(" ".join([*said, str(USAGE)]))
        index += 1
    return BoardQuery.of(sort, status, page)


async def board(ctx: ChatContext, query: BoardQuery) -> Message:
    """One page of the board as this member sees it, with their own votes marked."""
    page = await browse(ctx.session, query, page_size=CHAT_PAGE, scrub=ctx.extensions.scrubber)
    voted = await ctx.session.scalars(
        select(SuggestionVote.suggestion_id).where(
            SuggestionVote.member_id == ctx.member.id,
            SuggestionVote.suggestion_id.in_([s.id for s in page.ideas]),
        )
    )
    return board_message(page, set(voted))


async def suggestions(ctx: ChatContext, text: str) -> Reply:
    return Reply(messages=[await board(ctx, query_from_words(text))])
