"""The core's actions whose answer is a form: platforms that must know before a press whether
it opens a dialog (Google Chat's ``OPEN_DIALOG`` interaction) mark their buttons with these."""

from bot.compose.actions import (
    COMMENT_OPEN,
    CONTENT_ADD_OPEN,
    CONTENT_EDIT,
    DIGEST_ADD_OPEN,
    FORM_OPEN,
    SUGGEST_OPEN,
    SUGGESTION_ANSWER,
    VOICE_OPEN,
)

FORM_OPENING_ACTIONS = frozenset(
    {
        COMMENT_OPEN,
        CONTENT_ADD_OPEN,
        CONTENT_EDIT,
        DIGEST_ADD_OPEN,
        FORM_OPEN,
        SUGGEST_OPEN,
        SUGGESTION_ANSWER,
        VOICE_OPEN,
    }
)

__all__ = ["FORM_OPENING_ACTIONS"]
