"""Show a member what they already answered on a card, so a pressed button visibly counted;
and the form a comment on a card is written in."""

from __future__ import annotations

from dataclasses import replace

from bot.compose import actions
from bot.domain import FeedbackKind
from bot.i18n import N_, _, ngettext
from bot.i18n.formats import format_number
from bot.messages import Button, Card, FieldKind, Form, FormField, Message

BUTTON_KINDS = {
    actions.FEEDBACK_USEFUL: FeedbackKind.USEFUL,
    actions.FEEDBACK_NOT_RELEVANT: FeedbackKind.NOT_RELEVANT,
}
NOTES = {
    FeedbackKind.USEFUL: N_("✓ You found this useful. Thanks!"),
    FeedbackKind.NOT_RELEVANT: N_("✓ Noted: not relevant for you. We'll send better picks."),
}


def card_subjects(message: Message) -> list[tuple[str, int]]:
    subjects = []
    for card in message.cards:
        if card.subject:
            subject_type, _, raw_id = card.subject.partition(":")
            subjects.append((subject_type, int(raw_id)))
    return subjects


def with_feedback(message: Message, given: dict[str, set[str]]) -> Message:
    """A copy of ``message`` whose cards show the feedback this member gave."""
    return replace(
        message,
        cards=tuple(
            _annotate(card, given.get(card.subject or "", set())) for card in message.cards
        ),
    )


def _annotate(card: Card, kinds: set[str]) -> Card:
    if not kinds:
        return card
    buttons = tuple(
        replace(button, selected=BUTTON_KINDS.get(button.action_id) in kinds)
        if isinstance(button, Button) and button.action_id in BUTTON_KINDS
        else button
        for button in card.buttons
    )
    notes = [
        _(NOTES[kind]) for kind in (FeedbackKind.USEFUL, FeedbackKind.NOT_RELEVANT) if kind in kinds
    ]
    return replace(card, buttons=buttons, footer=" ".join(notes) or card.footer)


def with_feedback_counts(message: Message, counts: dict[str, dict[str, int]]) -> Message:
    """A copy of a card posted in a channel, showing how many people answered (not who)."""
    return replace(
        message,
        cards=tuple(_count(card, counts.get(card.subject or "", {})) for card in message.cards),
    )


def _count(card: Card, kinds: dict[str, int]) -> Card:
    useful = kinds.get(FeedbackKind.USEFUL, 0)
    not_relevant = kinds.get(FeedbackKind.NOT_RELEVANT, 0)
    if not (useful or not_relevant):
        return card
    parts = []
    if useful:
        parts.append(
            ngettext("{count} found this useful", "{count} found this useful", useful).format(
                count=format_number(useful)
            )
        )
    if not_relevant:
        parts.append(
            ngettext("{count} not relevant", "{count} not relevant", not_relevant).format(
                count=format_number(not_relevant)
            )
        )
    return replace(card, footer=" · ".join(parts))


def comment_form(subject: str, message_ref: str | None) -> Form:
    """``subject`` is what the comment is about; ``message_ref`` the card it was written on."""
    return Form(
        form_id=actions.FORM_COMMENT,
        title=_("Comment"),
        submit_label=_("Send"),
        context={"subject": subject, "message_ref": message_ref or ""},
        fields=(
            FormField(
                "text", _("Your comment"), FieldKind.MULTILINE, required=True, max_length=3000
            ),
        ),
    )
