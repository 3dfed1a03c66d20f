"""The core's action and form ids an adapter needs to know: what a message action opens
(``SUGGEST_OPEN``, ``VOICE_OPEN``: ``value`` may carry the message's ``text`` and its
``source_url``), and the button that opens a card's form: platforms without forms on cards
render ``Card.form`` as ``Button(form.title, FORM_OPEN, {"card": INDEX})`` (INDEX: the card's
position in ``Message.cards``), and the core answers its press (with the message's
``message_ref``) with that form."""

from bot.compose.actions import (
    FORM_ANSWER,
    FORM_OPEN,
    FORM_SUGGEST,
    FORM_VOICE,
    SUGGEST_OPEN,
    VOICE_OPEN,
)

__all__ = ["FORM_ANSWER", "FORM_OPEN", "FORM_SUGGEST", "FORM_VOICE", "SUGGEST_OPEN", "VOICE_OPEN"]
