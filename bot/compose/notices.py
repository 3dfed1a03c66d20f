"""Notices the bot sends on its own: telling authors what became of their ideas."""

from __future__ import annotations

from bot.compose.text import truncate
from bot.domain import SuggestionStatus
from bot.messages import Card, Fact, Message, subject_key
from bot.storage.models import Suggestion, SuggestionResponse


def _answered(
    title: str,
    suggestion: Suggestion,
    response: SuggestionResponse,
    *,
    responder_name: str,
    idea_label: str,
) -> Message:
    status = SuggestionStatus(response.status_after).label
    return Message(
        fallback=f"{title}. {responder_name} answered: {truncate(response.text, 200)}",
        kind="suggestion_answer",
        cards=(
            Card(
                title=title,
                text=response.text,
                facts=(
                    Fact(idea_label, truncate(suggestion.text, 300)),
                    Fact("Status", status.capitalize()),
                    Fact("Answered by", responder_name),
                ),
                subject=subject_key("suggestion", suggestion.id),
            ),
        ),
    )


def answer_notice(
    suggestion: Suggestion, response: SuggestionResponse, *, responder_name: str
) -> Message:
    """For the author: what became of their idea."""
    status = SuggestionStatus(response.status_after).label
    which = "anonymous suggestion" if suggestion.anonymous else "suggestion"
    changed = response.status_after != response.status_before
    title = (
        f"Your {which} #{suggestion.id} is now {status}"
        if changed
        else f"Your {which} #{suggestion.id} got an answer"
    )
    return _answered(
        title, suggestion, response, responder_name=responder_name, idea_label="Your idea"
    )


def voter_notice(
    suggestion: Suggestion, response: SuggestionResponse, *, responder_name: str
) -> Message:
    """For everyone who voted: the idea they backed moved (or got an answer)."""
    status = SuggestionStatus(response.status_after).label
    changed = response.status_after != response.status_before
    title = (
        f"An idea you voted for (#{suggestion.id}) is now {status}"
        if changed
        else f"An idea you voted for (#{suggestion.id}) got an answer"
    )
    return _answered(
        title, suggestion, response, responder_name=responder_name, idea_label="The idea"
    )


def merged_author_notice(
    suggestion: Suggestion,
    duplicate: Suggestion,
    response: SuggestionResponse,
    *,
    responder_name: str,
) -> Message:
    """For the author of an idea merged into the one answered: it is their idea that moved (they
    did not vote for it, so the voters' words would be wrong)."""
    status = SuggestionStatus(response.status_after).label
    which = "anonymous suggestion" if duplicate.anonymous else "suggestion"
    changed = response.status_after != response.status_before
    what = f"is now {status}" if changed else "got an answer"
    title = f"The idea your {which} #{duplicate.id} joined (#{suggestion.id}) {what}"
    return _answered(
        title, suggestion, response, responder_name=responder_name, idea_label="The idea"
    )


def merged_notice(duplicate: Suggestion, target: Suggestion) -> Message:
    """For a merged idea's author: where their idea (and its votes) went when a manager merged
    it (an author who folds her own idea is answered in chat instead)."""
    which = "anonymous suggestion" if duplicate.anonymous else "suggestion"
    title = f"Your {which} #{duplicate.id} joined #{target.id}"
    why = "A manager found it was the same idea; its votes moved with it."
    return Message(
        fallback=f"{title}. {why} You will hear when #{target.id} moves.",
        kind="suggestion_merged",
        cards=(
            Card(
                title=title,
                text=f"{why} You will hear when #{target.id} moves.",
                facts=(
                    Fact("Your idea", truncate(duplicate.text, 300)),
                    Fact(f"#{target.id}", truncate(target.text, 300)),
                ),
                subject=subject_key("suggestion", target.id),
            ),
        ),
    )


def hidden_notice(suggestion: Suggestion, reason: str) -> Message:
    which = "anonymous suggestion" if suggestion.anonymous else "suggestion"
    title = f"Your {which} #{suggestion.id} was hidden by a manager"
    return Message(
        fallback=f"{title}. Reason: {truncate(reason, 300)}",
        kind="suggestion_hidden",
        cards=(
            Card(
                title=title,
                text=f"Reason: {reason}",
                facts=(Fact("Your idea", truncate(suggestion.text, 300)),),
            ),
        ),
    )


def who_is_told(author: bool, others: int) -> str:
    """Who hears of an answer: the author, and the voters (and merged ideas' authors), who are
    told even when the author cannot be reached."""
    if author:
        return (
            "The author and everyone who backed it will be told."
            if others
            else "The author will be told."
        )
    if others:
        return "The author cannot be reached on any platform; everyone who backed it will be told."
    return "The author cannot be reached on any platform, so nobody was told."
