"""How well customer evidence is matched: precision, recall and F1 of the lexical matcher and,
when the ``embeddings`` extra is installed, of the embeddings matcher, on a labelled set of
idea / customer-text pairs (benchmarks/data/evidence_pairs.csv: same meaning or not, with
paraphrases that share no word with the idea).

Scores come from the matchers' own code: the voice index (TF-IDF over the set's customer texts
and the demo's voice as background) and the taxonomy's themes. It prints the figures at the
thresholds the code uses, and the best thresholds on this set (which is small and was written
by one person: a guide to choosing, not a promise).

    python benchmarks/evidence_quality.py
    python benchmarks/evidence_quality.py --cross   # also each idea against every other text
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.services.similar import term_counts  # noqa: E402
from bot.services.suggestion_evidence import (  # noqa: E402
    NO_THEME_THRESHOLD,
    SHARED_THEME_THRESHOLD,
    uncached_terms,
)
from bot.services.voice_index import VoiceIndex  # noqa: E402
from bot.storage.types import utcnow  # noqa: E402
from content.voice.evidence import (  # noqa: E402
    EMBEDDING_THRESHOLD,
    EmbeddingMatcher,
    embeddings_installed,
    themes_of,
)
from content.voice.themes import Taxonomy  # noqa: E402

PAIRS = ROOT / "benchmarks" / "data" / "evidence_pairs.csv"
DEMO_VOICE = ROOT / "content" / "demo" / "voice.jsonl"


def load_pairs(cross: bool) -> list[tuple[str, str, bool, str]]:
    with PAIRS.open(newline="", encoding="utf-8") as handle:
        rows = [
            (r["idea"], r["customer_text"], r["same"] == "1", r["kind"])
            for r in csv.DictReader(handle)
        ]
    if not cross:
        return rows
    # Every idea against the texts listed under the other ideas, as "not the same" (a few may
    # in truth be: the figures are a floor for precision).
    ideas = sorted({idea for idea, *_ in rows})
    listed = {(idea, text) for idea, text, *_ in rows}
    extra = [
        (idea, text, False, "other idea's text")
        for idea in ideas
        for _, text, _, _ in rows
        if (idea, text) not in listed
    ]
    return rows + extra


def build_index(texts: list[str], themes: object) -> tuple[VoiceIndex, dict[str, int]]:
    background = [
        json.loads(line)["text"]
        for line in DEMO_VOICE.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    corpus = list(dict.fromkeys([*texts, *background]))
    now = utcnow()
    index = VoiceIndex(uncached_terms)
    rows = [(n, text, themes(text), now) for n, text in enumerate(corpus, start=1)]  # type: ignore[operator]
    index._rebuild(list(reversed(rows)))
    return index, {text: n for n, text in enumerate(corpus, start=1)}


def figures(predicted: list[bool], truth: list[bool]) -> tuple[float, float, float]:
    hits = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision = hits / sum(predicted) if any(predicted) else 0.0
    recall = hits / sum(truth) if any(truth) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cross", action="store_true", help="Add every idea x other text pair.")
    args = parser.parse_args()
    console = Console()
    taxonomy = Taxonomy.load()
    themes = themes_of(taxonomy)
    pairs = load_pairs(args.cross)
    index, ids = build_index([text for _, text, _, _ in pairs], themes)
    since = utcnow() - timedelta(days=1)
    lexical: list[tuple[float, bool]] = []
    scores_of: dict[str, dict[int, float]] = {}
    for idea, text, _, _ in pairs:
        if idea not in scores_of:
            scores_of[idea] = index.scores(index.vector(term_counts(idea)), since)
        item = ids[text]
        shared = bool(set(themes(idea)) & index.themes[item])
        lexical.append((scores_of[idea].get(item, 0.0), shared))
    truth = [same for _, _, same, _ in pairs]

    def lexical_verdicts(shared_t: float, alone_t: float) -> list[bool]:
        return [score >= (shared_t if shared else alone_t) for score, shared in lexical]

    table = Table(
        title=f"Customer evidence matching, {len(pairs)} labelled pairs ({sum(truth)} the same)"
    )
    for column in ("Matcher", "Thresholds", "Precision", "Recall", "F1", "Paraphrases found"):
        table.add_column(column)
    paraphrase = [kind == "paraphrase" for _, _, _, kind in pairs]

    def add(name: str, thresholds: str, verdicts: list[bool]) -> None:
        p, r, f = figures(verdicts, truth)
        found = sum(v and k for v, k in zip(verdicts, paraphrase, strict=True))
        table.add_row(
            name, thresholds, f"{p:.2f}", f"{r:.2f}", f"{f:.2f}", f"{found}/{sum(paraphrase)}"
        )

    add(
        "lexical (in use)",
        f"theme {SHARED_THEME_THRESHOLD}, none {NO_THEME_THRESHOLD}",
        lexical_verdicts(SHARED_THEME_THRESHOLD, NO_THEME_THRESHOLD),
    )
    grid = [round(0.05 * n, 2) for n in range(1, 13)]
    best = max(
        ((a, b) for a in grid for b in grid if a <= b),
        key=lambda ab: (figures(lexical_verdicts(*ab), truth)[2], -ab[0]),
    )
    add("lexical (best here)", f"theme {best[0]}, none {best[1]}", lexical_verdicts(*best))

    if embeddings_installed():
        matcher = EmbeddingMatcher(themes)
        texts = list(dict.fromkeys(text for _, text, _, _ in pairs))
        ideas = list(dict.fromkeys(idea for idea, _, _, _ in pairs))
        grid_scores = matcher.similarity(ideas, texts)
        row = {idea: n for n, idea in enumerate(ideas)}
        column = {text: n for n, text in enumerate(texts)}
        semantic = [grid_scores[row[idea]][column[text]] for idea, text, _, _ in pairs]
        # Here every item is a candidate (in the matcher: those sharing a word or a theme, and
        # the most recent ones, which on a set this small is all of them).

        def embedding_verdicts(threshold: float) -> list[bool]:
            words = lexical_verdicts(SHARED_THEME_THRESHOLD, NO_THEME_THRESHOLD)
            return [w or s >= threshold for w, s in zip(words, semantic, strict=True)]

        add(
            "embeddings (in use)",
            f"cosine {EMBEDDING_THRESHOLD}",
            embedding_verdicts(EMBEDDING_THRESHOLD),
        )
        steps = [round(0.25 + 0.05 * n, 2) for n in range(10)]
        chosen = max(steps, key=lambda t: figures(embedding_verdicts(t), truth)[2])
        add("embeddings (best here)", f"cosine {chosen}", embedding_verdicts(chosen))
    else:
        console.print(
            "The embeddings extra is not installed (pip install -e '.[embeddings]'): lexical only."
        )
    console.print(table)


if __name__ == "__main__":
    main()
