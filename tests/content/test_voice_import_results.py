"""What an import stores is exact: a mixed file (several languages, a short text, one text with
different ratings, duplicates, malformed rows, quoted line breaks) gives the same languages,
sentiment scores and themes as the analysis read row by row did before imports read each
distinct text once. The expected values were produced by that earlier code."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import Application
from bot.config import Settings
from bot.services.suggestion_evidence import uncached_terms
from bot.services.voice_index import voice_index_for
from bot.storage.models import VoiceItem
from content.voice.evidence import evidence_matcher, weigh_stored
from content.voice.language import detect
from content.voice.phrases import PhraseFinder
from content.voice.pipeline import AlertRules, VoicePipeline, VoiceRecord
from content.voice.reading import CACHED_TEXT, TextReader
from content.voice.sentiment import blended, score, words_score
from content.voice.themes import Taxonomy
from tests.content.test_import_streaming import engine_cli, invoke, stored  # noqa: F401

MIXED = """id,created_at,score,comment,customer
M1,2026-11-02 09:00,2,"The invoice doubled this month
and nobody answered my ticket.",Acme
M2,2026-11-02 09:05,,"Je veux un remboursement immédiat. Votre service ne fonctionne plus depuis trois jours et personne ne répond.",Bistro
M3,2026-11-02 09:10,1,"Die Rechnung ist falsch und ich warte seit Tagen auf eine Antwort vom Support.",Kunde
M4,2026-11-02 09:15,,"El soporte es muy lento, llevo una semana esperando una respuesta sobre mi factura.",Cliente
M5,2026-11-02 09:20,4,"返金してください。対応が遅いです。請求書が二重になっています。",顧客
M6,2026-11-02 09:25,,Great!,Shortie
M7,2026-11-02 09:30,5,"Support answered in ten minutes and fixed it, thank you",Acme
M8,2026-11-02 09:35,1,"Support answered in ten minutes and fixed it, thank you",Acme
M9,2026-11-02 09:40,,"Support answered in ten minutes and fixed it, thank you",Acme
M1,2026-11-02 09:45,3,"A second row with the same id is already there",Acme
M10,not-a-date,3,"The dashboard loads slowly every afternoon",Acme
M11,2026-11-02 09:50,7,"Setup took two weeks because the SSO step is missing",Acme
M12,2026-11-02 09:55,3,"too many",fields,here
,2026-11-02 10:00,,"No id here, the export is broken again since Monday",Anon
,2026-11-02 10:00,,"No id here, the export is broken again since Monday",Anon
M13,2026-11-02 10:05,,"Quoted ""words"" and a line
break, then: we are thinking about cancelling our contract",Acme
M14,2026-11-02 10:10,2,"O aplicativo trava toda vez que tento pagar a fatura, quero um estorno.",Cliente
"""  # noqa: E501
TAXONOMY = Taxonomy.load()
RULES = AlertRules()
NO_ID = "sha1:ab3763519487d124415dbe945d8b25016ea10edb"
# external id: (language, sentiment, themes), as stored by the row-by-row analysis.
EXPECTED = {
    "M1": ("en", -0.3, ["billing"]),
    "M2": ("fr", None, ["billing"]),
    "M3": ("de", -1.0, ["response time", "billing"]),
    "M4": ("es", None, ["response time", "billing"]),
    "M5": ("ja", 0.5, ["response time", "billing"]),
    "M6": (None, 0.6588, []),
    "M7": ("en", 0.8548, []),
    "M8": ("en", -0.3452, []),
    "M9": ("en", 0.6369, []),
    "M11": ("en", 0.1216, ["onboarding"]),
    NO_ID: ("en", -0.6486, ["reliability", "reporting"]),
    "M13": ("en", -0.2023, []),
    "M14": ("pt", -0.5, ["billing", "reliability"]),
}


def test_a_mixed_file_stores_the_same_languages_scores_and_themes(
    engine_cli: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED, encoding="utf-8")
    code, report = invoke("voice", "import", str(path))
    assert code == 2
    assert (report["rows"], report["imported"], report["already_there"], report["rejected"]) == (
        17,
        13,
        2,
        2,
    )
    assert report["problems"] == [
        {"line": 13, "reason": "'not-a-date' is not a date"},
        {"line": 15, "reason": "6 fields, the header has 5"},
    ]
    rows = stored(
        engine_cli,
        select(VoiceItem.external_id, VoiceItem.language, VoiceItem.sentiment, VoiceItem.themes),
    )
    assert {row[0]: (row[1], row[2], row[3]) for row in rows} == EXPECTED
    assert stored(engine_cli, select(VoiceItem.text).where(VoiceItem.external_id == "M13")) == [
        ('Quoted "words" and a line\nbreak, then: we are thinking about cancelling our contract',)
    ]

    again_code, again = invoke("voice", "import", str(path))
    assert again_code == 2
    assert (again["imported"], again["already_there"]) == (0, 15)


TEXTS = [
    "Support answered in ten minutes and fixed it, thank you",
    "Je veux un remboursement immédiat, personne ne répond.",
    "返金してください。対応が遅いです。",
    "Great!",
    "ok",
    "The invoice doubled and nobody answered my ticket",
]


def test_a_text_read_again_reads_the_same_as_read_alone() -> None:
    taxonomy = Taxonomy.load()
    reader = TextReader(taxonomy, cached=3)
    for _ in range(3):  # first reads, cached reads, reads after eviction
        for text in TEXTS:
            reading = reader.read(text)
            language = detect(text)
            assert reading.language == language
            assert reading.words == words_score(text, language)
            assert list(reading.themes) == [theme.name for theme in taxonomy.match(text)]
    assert len(reader._readings) == 3


def test_a_cached_words_score_blends_with_each_rating_as_score_does() -> None:
    reader = TextReader(Taxonomy.load())
    for text in [*TEXTS, ""]:
        language = detect(text)
        for rating, scale in [(None, None), (1.0, None), (4.0, (1.0, 5.0)), (9.0, (0.0, 10.0))]:
            expected = score(text, rating, scale, language)
            assert blended(words_score(text, language), rating, scale) == expected
            if text:
                assert blended(reader.read(text).words, rating, scale) == expected


def test_long_texts_are_not_kept() -> None:
    reader = TextReader(Taxonomy.load())
    reader.read("word " * CACHED_TEXT)
    reader.read("a short one, kept")
    assert list(reader._readings) == ["a short one, kept"]


PIECES = [
    "invoice", "invoices", "invoicex", "set up", "setup", "no answer", "no", "answer", "refund",
    "rückerstattung", "j'attends", "add-on costs", "add", "sso step", "返金", "Rechnungen", "É",
    " ", ", ", "-", "'", "_", "x", "es", "n", "2", "\n",
]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), max_size=12))
@hypothesis_settings(max_examples=400, deadline=None)
def test_skipping_the_regex_for_texts_without_an_opening_word_finds_the_same(
    pieces: list[str],
) -> None:
    """A theme's regex is skipped when no word of the text can start one of its phrases; it
    finds the same phrases as running the regex on every text."""
    text = "".join(pieces)
    for finder in [*(f for _, f in TAXONOMY._finders), RULES.finder]:
        always = PhraseFinder(finder.phrases)
        always._openings = None
        assert finder.found(text) == always.found(text)


async def test_new_voice_is_not_indexed_for_evidence_while_no_idea_is_open(
    app: Application,
) -> None:
    """With no open idea there is nothing to weigh: an import keeps no index of its items
    (it grew with the file), and says no idea gained evidence."""
    records = [
        VoiceRecord(line=n, source="helpdesk", external_id=f"E{n}", text=f"{text} {n}")
        for n, text in enumerate(TEXTS)
    ]
    async with app.db.transaction() as session:
        pipeline = await VoicePipeline.load(session, TAXONOMY, RULES)
        report = await pipeline.store(session, records, sealer=app.sealer)
    matcher = evidence_matcher(TAXONOMY, embeddings=False)
    assert await weigh_stored(app.db, matcher, report.stored) == 0
    assert voice_index_for(app.db, uncached_terms).norms == {}
