"""Finding phrases in customers' words, in any language: case and accents do not matter
("REMBOURSEMENT" is "remboursement", "Kündigung" "kundigung", "inaceitavel" "inaceitável"),
whole words with their plural ("invoice" finds "invoices", "Rechnung" "Rechnungen"), and in
Japanese or Chinese, which put no spaces between words, anywhere in the text ("返金").

Used by the themes (themes.yaml) and the urgent-alert phrases (alert_phrases.yaml).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

# Scripts written without spaces: a phrase in them is found as a substring.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Latin diacritics only: the marks Japanese kana carry (゛ ゜) change the word.
_ACCENTS = re.compile(r"[\u0300-\u036f]")
# Plural (and German case) endings a whole-word phrase may carry: -s -es -n -en -x.
_ENDINGS = r"(?:e?s|e?n|x)?"
_ENDING_TEXTS = ("", "s", "es", "n", "en", "x")
_WORD_RUN = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower case without accents (ß as ss), full-width letters as ASCII, kana untouched, and
    typographic apostrophes as plain ones (j’attends, j'attends)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return unicodedata.normalize("NFC", _ACCENTS.sub("", decomposed)).casefold()


def flatten(phrases: Any) -> list[str]:
    """A list, one phrase, or phrases per language (``{en: [...], fr: [...]}``) -> one list."""
    if phrases is None:
        return []
    if isinstance(phrases, str):
        return [phrases.strip()] if phrases.strip() else []
    if isinstance(phrases, Mapping):
        return [p for value in phrases.values() for p in flatten(value)]
    if isinstance(phrases, Iterable):
        return [p for value in phrases for p in flatten(value)]
    return flatten(str(phrases))


class PhraseFinder:
    """Which of ``phrases`` a text mentions (the first one listed that it does)."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = tuple(dict.fromkeys(p.strip() for p in phrases if p and p.strip()))
        self._by_folded: dict[str, str] = {}
        for phrase in self.phrases:
            self._by_folded.setdefault(fold(phrase), phrase)
        spaced = [f for f in self._by_folded if not _UNSPACED.search(f)]
        self._unspaced = [f for f in self._by_folded if _UNSPACED.search(f)]
        # Longest first, so "legal action" wins over "legal" when both are listed.
        alternatives = "|".join(re.escape(f) for f in sorted(spaced, key=len, reverse=True))
        self._pattern = (
            re.compile(r"\b(" + alternatives + r")" + _ENDINGS + r"\b") if spaced else None
        )
        self._order = {phrase: n for n, phrase in enumerate(self.phrases)}
        self._openings = _openings(spaced)

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def found(self, text: str) -> list[str]:
        """Every listed phrase the text mentions, in the order they are listed."""
        return self.found_in_folded(fold(text or ""))

    def found_in_folded(self, folded: str, words: set[str] | None = None) -> list[str]:
        """``found`` for a text already passed through ``fold`` (one fold for many finders);
        ``words``: its ``words_of``, when several finders read the same text."""
        hits = {f for f in self._unspaced if f in folded} if self._unspaced else set()
        if self._pattern is not None and self._may_match(folded, words):
            hits.update(match.group(1) for match in self._pattern.finditer(folded))
        return sorted({self._by_folded[f] for f in hits}, key=self._order.__getitem__)

    def _may_match(self, folded: str, words: set[str] | None) -> bool:
        """Whether the pattern can match at all: a match starts a word of the text, and that
        word is the phrase's first word, or the one-word phrase with one of its endings. A
        quick set lookup spares the regex (a long alternation, slow) for most texts."""
        if self._openings is None:
            return True
        return not self._openings.isdisjoint(words_of(folded) if words is None else words)

    def first(self, text: str) -> str | None:
        found = self.found(text)
        return found[0] if found else None

    def search(self, text: str) -> bool:
        return bool(self.found(text))


def words_of(folded: str) -> set[str]:
    """The runs of word characters of a folded text, as the patterns' ``\\b`` sees words."""
    return set(_WORD_RUN.findall(folded))


def _openings(phrases: Iterable[str]) -> frozenset[str] | None:
    """The words a text must hold for one of ``phrases`` (whole-word phrases) to be found in
    it: a phrase's first word, or a one-word phrase with each ending; None when a phrase does
    not start with a word character (then no word says it is absent)."""
    openings: set[str] = set()
    for phrase in phrases:
        first = _WORD_RUN.match(phrase)
        if first is None:
            return None
        if first.end() < len(phrase):
            openings.add(first.group())
        else:
            openings.update(phrase + ending for ending in _ENDING_TEXTS)
    return frozenset(openings)
