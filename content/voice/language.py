"""Which language a customer wrote in: py3langid (offline, deterministic), restricted to the
languages customers of our users commonly write in, and honest about what it cannot tell.

A few words ("Great!", "refund", "Merci") say too little to name a language, and a close call
between two languages is not an answer: both are "unknown" (None) rather than a guess, because
the language decides whether an item is scored (content/voice/sentiment.py).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError

from bot.i18n import _, current_locale

if TYPE_CHECKING:  # py3langid brings numpy: imported when a language is first detected
    from py3langid.langid import LanguageIdentifier

# The shipped languages first, then those a European, American or Asian customer base writes in.
# A short list keeps close relatives apart (a 97-language model calls short Spanish Galician).
LANGUAGES: tuple[str, ...] = (
    "en", "de", "fr", "es", "pt", "ja",
    "it", "nl", "sv", "da", "no", "fi", "pl", "cs", "ru", "uk", "tr", "zh", "ko", "ar", "he",
)  # fmt: skip
# Fewer words than this (or CJK characters, which have no spaces) and the text is too short.
MIN_WORDS = 3
MIN_CJK_CHARACTERS = 4
# The winner's probability among LANGUAGES must reach this, or the text reads as unknown.
MIN_CONFIDENCE = 0.6
# Longer texts add nothing to the answer, only time.
READ_CHARACTERS = 500

_WORDS = re.compile(r"[^\W\d_]{2,}")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def too_short(text: str) -> bool:
    if len(text) >= 40:  # three words or four CJK characters at least, without counting them
        return False
    return len(_WORDS.findall(text)) < MIN_WORDS and len(_CJK.findall(text)) < MIN_CJK_CHARACTERS


def detect(text: str | None) -> str | None:
    """An ISO 639-1 code from LANGUAGES, or None when the text is too short or ambiguous."""
    sample = (text or "").strip()[:READ_CHARACTERS]
    if not sample or too_short(sample):
        return None
    with _lock:  # imports detect in threads; the identifier is not documented as thread-safe
        language, confidence = _identifier().classify(sample)
    return language if confidence >= MIN_CONFIDENCE else None


def language_name(code: str | None) -> str:
    """``fr`` -> "French" / "Französisch" / "フランス語", in the language being spoken."""
    if not code:
        # Translators: the language of a customer's words could not be told (too short, ambiguous).
        return _("unknown")
    try:
        return Locale.parse(current_locale()).languages.get(code) or code
    except (UnknownLocaleError, ValueError):
        return code
