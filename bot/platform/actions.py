"""The core's action and form ids an adapter needs to know: what a message action opens, and
the button that opens a card's form (platforms without forms on cards open it on press)."""

from bot.compose.actions import (
    FORM_ANSWER,
    FORM_OPEN,
    FORM_SUGGEST,
    FORM_VOICE,
    SUGGEST_OPEN,
    VOICE_OPEN,
)

__all__ = ["FORM_ANSWER", "FORM_OPEN", "FORM_SUGGEST", "FORM_VOICE", "SUGGEST_OPEN", "VOICE_OPEN"]
