"""Themes of customer voice: a taxonomy strategists edit (YAML), and emerging themes found in
what the taxonomy does not cover, so that a new problem shows up before anyone names it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import yaml

from bot.errors import InvalidInput
from bot.i18n import _
from content.voice.phrases import PhraseFinder, flatten, fold, words_of

DEFAULT_TAXONOMY = Path(__file__).with_name("themes.yaml")
UNTHEMED = "other"
EMERGING_PREFIX = "emerging: "
_WORD = re.compile(r"[a-zà-ÿ][a-zà-ÿ'-]{2,}")
STOPWORDS = frozenset(
    word
    for line in Path(__file__).with_name("stopwords.txt").read_text(encoding="utf-8").splitlines()
    if not line.startswith("#")
    for word in line.split()
)


@dataclass(frozen=True)
class Theme:
    name: str
    phrases: tuple[str, ...]
    objective: str | None = None


class Taxonomy:
    def __init__(self, themes: Sequence[Theme]) -> None:
        self.themes = list(themes)
        # Built once, not per item (objective_for runs for every row an import stores).
        self._by_name = {theme.name: theme for theme in self.themes}
        # Whole words and their plurals ("invoice" finds "invoices", "Rechnung" "Rechnungen"),
        # whatever the case and accents; Japanese phrases anywhere (content/voice/phrases.py).
        self._finders = [
            (theme, PhraseFinder(theme.phrases)) for theme in self.themes if theme.phrases
        ]
        self.phrase_words = {
            word
            for theme in self.themes
            for phrase in theme.phrases
            for word in _WORD.findall(phrase.lower())
        }

    @classmethod
    def load(cls, path: Path | None = None) -> Taxonomy:
        """Read a taxonomy file, or say in one line what is wrong with it."""
        source = path or DEFAULT_TAXONOMY
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise InvalidInput(
                _("Cannot read the themes file {path}: {error}").format(path=source, error=error)
            ) from None
        themes = []
        for number, entry in enumerate(data.get("themes") or [], start=1):
            if not isinstance(entry, dict) or not str(entry.get("theme") or "").strip():
                raise InvalidInput(
                    _("{path}: theme {number} needs a 'theme' name.").format(
                        path=source, number=number
                    )
                )
            # A list in any language(s), one phrase, or lists per language ({en: [...], fr: [...]}).
            phrases = flatten(entry.get("phrases") or entry.get("keywords") or [])
            themes.append(
                Theme(
                    name=str(entry["theme"]).strip().lower(),
                    phrases=tuple(dict.fromkeys(str(p).strip() for p in phrases if str(p).strip())),
                    objective=str(entry["objective"]).strip() if entry.get("objective") else None,
                )
            )
        return cls(themes)

    def match(self, text: str) -> list[Theme]:
        folded = fold(text or "")
        words = words_of(folded)
        return [theme for theme, finder in self._finders if finder.found_in_folded(folded, words)]

    def objective_for(self, themes: Iterable[str]) -> str | None:
        by_name = self._by_name
        return next(
            (
                by_name[name].objective
                for name in themes
                if name in by_name and by_name[name].objective
            ),
            None,
        )


def keywords(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


def _terms(text: str, covered: set[str]) -> set[str]:
    """Words, and pairs of words that stand next to each other, worth naming a theme after."""
    words = _WORD.findall(text.lower())
    useful = [w not in STOPWORDS and w not in covered for w in words]
    singles = {w for w, keep in zip(words, useful, strict=True) if keep}
    pairs = {
        f"{a} {b}"
        for (a, keep_a), (b, keep_b) in pairwise(zip(words, useful, strict=True))
        if keep_a and keep_b
    }
    return singles | pairs


def emerging_themes(
    uncovered: Sequence[str],
    baseline: Sequence[str],
    taxonomy: Taxonomy,
    *,
    limit: int = 3,
    min_count: int = 3,
) -> list[tuple[str, int]]:
    """Words (and word pairs) that recur in texts no theme covers, more often than in the
    earlier baseline: candidates for a theme nobody has named yet."""
    counts: Counter[str] = Counter()
    for text in uncovered:
        counts.update(_terms(text, taxonomy.phrase_words))
    before: Counter[str] = Counter()
    for text in baseline:
        before.update(set(keywords(text)))
    scored = []
    for term, count in counts.items():
        if count < min_count:
            continue
        # Rate now against the baseline's, smoothed: new words score high, everyday ones low.
        lift = (count / max(1, len(uncovered))) / ((before[term] + 1) / (len(baseline) + 1))
        scored.append((lift * count, term, count))
    scored.sort(reverse=True)
    chosen: list[tuple[str, int]] = []
    for _lift, term, count in scored:
        if any(set(term.split()) & set(other.split()) for other, _count in chosen):
            continue  # "export" and "export broken" are one theme
        chosen.append((term, count))
        if len(chosen) == limit:
            break
    return chosen
