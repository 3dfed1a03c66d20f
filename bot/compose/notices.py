"""Notices the bot sends on its own: telling authors what became of their ideas.

Each is composed for one member: the caller speaks their language (``speaking(member.locale)``).
"""

from __future__ import annotations

from bot.compose.suggestion_cards import status_label, status_word
from bot.compose.text import truncate
from bot.i18n import _
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
    return Message(
        fallback=_("{title}. {name} answered: {answer}").format(
            title=title, name=responder_name, answer=truncate(response.text, 200)
        ),
        kind="suggestion_answer",
        cards=(
            Card(
                title=title,
                text=response.text,
                facts=(
                    Fact(idea_label, truncate(suggestion.text, 300)),
                    Fact(_("Status"), status_label(response.status_after)),
                    Fact(_("Answered by"), responder_name),
                ),
                subject=subject_key("suggestion", suggestion.id),
            ),
        ),
    )


def answer_notice(
    suggestion: Suggestion, response: SuggestionResponse, *, responder_name: str
) -> Message:
    """For the author: what became of their idea."""
    status = status_word(response.status_after)
    changed = response.status_after != response.status_before
    number = suggestion.id
    if suggestion.anonymous:
        title = (
            _("Your anonymous suggestion #{number} is now {status}")
            if changed
            else _("Your anonymous suggestion #{number} got an answer")
        )
    else:
        title = (
            _("Your suggestion #{number} is now {status}")
            if changed
            else _("Your suggestion #{number} got an answer")
        )
    return _answered(
        title.format(number=number, status=status),
        suggestion,
        response,
        responder_name=responder_name,
        idea_label=_("Your idea"),
    )


def voter_notice(
    suggestion: Suggestion, response: SuggestionResponse, *, responder_name: str
) -> Message:
    """For everyone who voted: the idea they backed moved (or got an answer)."""
    changed = response.status_after != response.status_before
    title = (
        _("An idea you voted for (#{number}) is now {status}")
        if changed
        else _("An idea you voted for (#{number}) got an answer")
    )
    return _answered(
        title.format(number=suggestion.id, status=status_word(response.status_after)),
        suggestion,
        response,
        responder_name=responder_name,
        idea_label=_("The idea"),
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
    changed = response.status_after != response.status_before
    if duplicate.anonymous:
        title = (
            _("The idea your anonymous suggestion #{number} joined (#{target}) is now {status}")
            if changed
            else _("The idea your anonymous suggestion #{number} joined (#{target}) got an answer")
        )
    else:
        title = (
            _("The idea your suggestion #{number} joined (#{target}) is now {status}")
            if changed
            else _("The idea your suggestion #{number} joined (#{target}) got an answer")
        )
    return _answered(
        title.format(
            number=duplicate.id, target=suggestion.id, status=status_word(response.status_after)
        ),
        suggestion,
        response,
        responder_name=responder_name,
        idea_label=_("The idea"),
    )


def merged_notice(duplicate: Suggestion, target: Suggestion) -> Message:
    """For a merged idea's author: where their idea (and its votes) went when a manager merged
    it (an author who folds her own idea is answered in chat instead)."""
    title = (
        _("Your anonymous suggestion #{number} joined #{target}")
        if duplicate.anonymous
        else _("Your suggestion #{number} joined #{target}")
    ).format(number=duplicate.id, target=target.id)
    why = _(
        "A manager found it was the same idea; its votes moved with it. You will hear when "
        "#{target} moves."
    ).format(target=target.id)
    return Message(
        fallback=f"{title}. {why}",
        kind="suggestion_merged",
        cards=(
            Card(
                title=title,
                text=why,
                facts=(
                    Fact(_("Your idea"), truncate(duplicate.text, 300)),
                    Fact(f"#{target.id}", truncate(target.text, 300)),
                ),
                subject=subject_key("suggestion", target.id),
            ),
        ),
    )


def hidden_notice(suggestion: Suggestion, reason: str) -> Message:
    title = (
        _("Your anonymous suggestion #{number} was hidden by a manager")
        if suggestion.anonymous
        else _("Your suggestion #{number} was hidden by a manager")
    ).format(number=suggestion.id)
    return Message(
        fallback=_("{title}. Reason: {reason}").format(title=title, reason=truncate(reason, 300)),
        kind="suggestion_hidden",
        cards=(
            Card(
                title=title,
                text=_("Reason: {reason}").format(reason=reason),
                facts=(Fact(_("Your idea"), truncate(suggestion.text, 300)),),
            ),
        ),
    )


def who_is_told(author: bool, others: int) -> str:
    """Who hears of an answer: the author, and the voters (and merged ideas' authors), who are
    told even when the author cannot be reached."""
    if author:
        return (
            _("The author and everyone who backed it will be told.")
            if others
            else _("The author will be told.")
        )
    if others:
        return _(
            "The author cannot be reached on any platform; everyone who backed it will be told."
        )
    return _("The author cannot be reached on any platform, so nobody was told.")
