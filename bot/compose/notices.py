"""Notices the bot sends on its own: telling authors what became of their ideas."""

from __future__ import annotations

from bot.compose.text import truncate
from bot.domain import SuggestionStatus
from bot.messages import Card, Fact, Message, subject_key
from bot.storage.models import Suggestion, SuggestionResponse


def answer_notice(
    suggestion: Suggestion, response: SuggestionResponse, *, responder_name: str
) -> Message:
    status = SuggestionStatus(response.status_after).label
    which = "anonymous suggestion" if suggestion.anonymous else "suggestion"
    changed = response.status_after != response.status_before
    title = (
        f"Your {which} #{suggestion.id} is now {status}"
        if changed
        else f"Your {which} #{suggestion.id} got an answer"
    )
    return Message(
        fallback=f"{title}. {responder_name} answered: {truncate(response.text, 200)}",
        kind="suggestion_answer",
        cards=(
            Card(
                title=title,
                text=response.text,
                facts=(
                    Fact("Your idea", truncate(suggestion.text, 300)),
                    Fact("Status", status.capitalize()),
                    Fact("Answered by", responder_name),
                ),
                subject=subject_key("suggestion", suggestion.id),
            ),
        ),
    )
