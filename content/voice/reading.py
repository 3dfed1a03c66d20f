"""What a text says, read once: its language, VADER's score of its words and its themes.

The three depend on the text alone (the rating is blended in per item), and helpdesk exports
repeat texts (canned replies, "Thanks!", survey comments pasted by macros), so an import reads
each distinct text once and remembers the last CACHED of them. Texts longer than CACHED_TEXT
characters are read every time, which keeps the memory held bounded whatever the file.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from content.voice.language import detect
from content.voice.sentiment import words_score
from content.voice.themes import Taxonomy

CACHED = 8_192
CACHED_TEXT = 2_000


@dataclass(frozen=True, slots=True)
class Reading:
    language: str | None
    # VADER's compound score, or None when it cannot read the language (content/voice/sentiment).
    words: float | None
    themes: tuple[str, ...]


class TextReader:
    """Reads texts with one taxonomy, each distinct (short enough) text once."""

    def __init__(self, taxonomy: Taxonomy, *, cached: int = CACHED) -> None:
        self.taxonomy = taxonomy
        self.cached = cached
        self._readings: OrderedDict[str, Reading] = OrderedDict()

    def read(self, text: str) -> Reading:
        reading = self._readings.get(text)
        if reading is not None:
            self._readings.move_to_end(text)
            return reading
        language = detect(text)
        reading = Reading(
            language=language,
            words=words_score(text, language),
            themes=tuple(theme.name for theme in self.taxonomy.match(text)),
        )
        if len(text) <= CACHED_TEXT and self.cached > 0:
            self._readings[text] = reading
            if len(self._readings) > self.cached:
                self._readings.popitem(last=False)
        return reading
