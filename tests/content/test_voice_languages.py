"""Customer voice in other languages: each item's language is detected and stored; only English
(what VADER reads) is scored, the rest are "not scored" (never a false 0.0) and left out of
averages; urgent-alert phrases and themes work in every shipped language."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text

from adapters.shell import ShellAdapterFactory
from adapters.shell.mailbox import Mailbox
from adapters.shell.session import ShellSession
from bot.app import Application, open_application
from bot.config import Settings
from bot.platform import AdapterRegistry
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.permissions import OPERATOR
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Member, VoiceItem
from bot.storage.types import utcnow
from content.settings import content_settings
from content.voice.file_import import resolve_columns
from content.voice.language import detect
from content.voice.pipeline import ALERT_PHRASES_FILE, AlertRules, VoicePipeline, VoiceRecord
from content.voice.sentiment import average, label, sentiment
from content.voice.themes import Taxonomy
from tests.conftest import make_member
from tests.fakes import RemoteAdapterFactory, RemotePlatform

FRENCH_COMPLAINT = (
    "Je veux un remboursement immédiat. Votre service ne fonctionne plus depuis trois jours "
    "et personne ne répond."
)


@pytest.fixture
async def alerting(settings: Settings, remote: RemotePlatform) -> AsyncIterator[Application]:
    configured = Settings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        env={"VOICE_ALERT_CHANNELS": "remote:CALERTS"},
    )
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    async with open_application(configured, registry=registry) as app:
        yield app


async def store(app: Application, *records: VoiceRecord) -> None:
    async with app.db.transaction() as session:
        rules = content_settings(app.settings).alerts
        pipeline = await VoicePipeline.load(session, Taxonomy.load(), rules)
        await pipeline.store(session, list(records), sealer=app.sealer)


async def stored(app: Application, external_id: str) -> VoiceItem:
    async with app.db.transaction() as session:
        item = await session.scalar(select(VoiceItem).where(VoiceItem.external_id == external_id))
    assert item is not None
    return item


def test_the_language_is_told_only_when_there_is_enough_to_tell() -> None:
    assert detect(FRENCH_COMPLAINT) == "fr"
    assert detect("Ich möchte meinen Vertrag sofort kündigen, die Rechnung ist falsch.") == "de"
    assert detect("返金してください。サービスが三日間止まっています。") == "ja"
    assert detect("Quiero cancelar mi suscripción y un reembolso") == "es"
    assert detect("Quero cancelar minha assinatura hoje mesmo") == "pt"
    assert detect("Support never answered my ticket after three days") == "en"
    # A word or two says nothing about the language: unknown, not a guess.
    for short in ("Great!", "Merci", "ok", "refund", "返金"):
        assert detect(short) is None, short


async def test_a_french_complaint_is_stored_as_french_not_scored_and_raises_the_refund_alert(
    alerting: Application, remote: RemotePlatform
) -> None:
    await store(alerting, VoiceRecord(1, "helpdesk", "fr-1", FRENCH_COMPLAINT, customer="Acme"))
    item = await stored(alerting, "fr-1")
    assert item.language == "fr"
    assert item.sentiment is None  # not the 0.0 VADER gives words it cannot read
    assert sentiment(FRENCH_COMPLAINT) == 0.0  # ...which is what it used to store
    assert alerting.worker is not None
    await alerting.worker.drain()
    [alert] = remote.sent
    facts = {fact.label: fact.value for fact in alert.message.cards[0].facts}
    assert facts["Why now"] == "mentions “remboursement”"
    assert facts["Sentiment"] == "not scored"
    assert facts["Language"] == "French"
    assert "remboursement immédiat" in alert.message.cards[0].text  # the customer's own words


async def test_a_german_and_a_japanese_item_find_their_themes_and_alerts(
    alerting: Application, remote: RemotePlatform
) -> None:
    now = utcnow()
    await store(
        alerting,
        VoiceRecord(
            1,
            "helpdesk",
            "de-1",
            "Die Rechnungen sind seit Monaten falsch und niemand antwortet auf meine Mails.",
            received_at=now,
        ),
        VoiceRecord(
            2,
            "reviews",
            "ja-1",
            "アプリが毎朝クラッシュします。請求書も間違っています。",
            received_at=now,
        ),
        VoiceRecord(3, "helpdesk", "ja-2", "至急返金してください。", received_at=now),
    )
    german, japanese, refund = [await stored(alerting, i) for i in ("de-1", "ja-1", "ja-2")]
    assert (german.language, japanese.language) == ("de", "ja")
    assert german.themes == ["billing"]  # "Rechnungen": a plural of "Rechnung"
    assert japanese.themes == ["billing", "reliability"]  # found inside unspaced text
    assert german.sentiment is None and japanese.sentiment is None
    assert refund.themes == ["billing"]
    assert alerting.worker is not None
    await alerting.worker.drain()
    reasons = sorted(
        {f.label: f.value for f in sent.message.cards[0].facts}["Why now"] for sent in remote.sent
    )
    assert reasons == ["mentions “返金”"]


def test_alert_phrases_ignore_case_and_accents_in_every_shipped_language() -> None:
    rules = AlertRules()
    for said, phrase in [
        ("REMBOURSEMENT IMMEDIAT SVP", "remboursement"),
        ("Ich will meine Rueckerstattung, sonst Kündigung", "Kündigung"),
        ("ich will die RÜCKERSTATTUNG", "Rückerstattung"),
        ("Exijo un reembolso ya", "reembolso"),
        ("Vou registrar no procon e quero o estorno", "estorno"),
        ("Cancel my plan", "cancel"),
        ("データが消えました", "データが消え"),
        ("ｒｅｆｕｎｄ please", "refund"),  # full-width letters, as Japanese keyboards type them
    ]:
        assert rules.reason(said, None) == f"mentions “{phrase}”", said
    assert rules.reason("ダウンロードが速い", None) is None  # not "down" inside "download"
    assert rules.reason("Bonjour", None) is None  # not scored is never "very negative"
    assert rules.reason("Awful", -0.9) == "very negative"


def test_themes_may_list_phrases_per_language_or_as_one_list(tmp_path: Path) -> None:
    mixed = tmp_path / "themes.yaml"
    mixed.write_text(
        "themes:\n"
        "  - theme: billing\n"
        "    phrases: [invoice, Rechnung, facture]\n"  # the old format, in any languages
        "  - theme: delivery\n"
        "    phrases:\n"
        "      en: [late delivery]\n"
        "      fr: [livraison en retard]\n"
        "      ja: [配送遅延]\n"
        "  - theme: legacy\n"
        "    keywords: single phrase\n",
        encoding="utf-8",
    )
    taxonomy = Taxonomy.load(mixed)
    assert [t.name for t in taxonomy.match("Deux FACTURES erronées")] == ["billing"]
    assert [t.name for t in taxonomy.match("Encore une LIVRAISON EN RETARD")] == ["delivery"]
    assert [t.name for t in taxonomy.match("また配送遅延です")] == ["delivery"]
    assert [t.name for t in taxonomy.match("a single phrase here")] == ["legacy"]


async def test_an_english_item_still_scores_as_before(alerting: Application) -> None:
    said = "The support team was wonderful and fast, thank you"
    await store(
        alerting,
        VoiceRecord(1, "helpdesk", "en-1", said),
        VoiceRecord(2, "helpdesk", "en-2", "Great!"),  # too short to tell; VADER knows "great"
        VoiceRecord(3, "reviews", "fr-2", FRENCH_COMPLAINT, rating=1, rating_scale=(1, 5)),
    )
    english, short, rated = [await stored(alerting, i) for i in ("en-1", "en-2", "fr-2")]
    assert english.language == "en" and english.sentiment == sentiment(said) > 0.5
    assert short.language is None and short.sentiment == sentiment("Great!") > 0
    # A rating says the same in every language: a 1-star French review is negative.
    assert rated.language == "fr" and rated.sentiment == -1.0


def test_averages_count_scored_items_only() -> None:
    assert average([0.5, None, -0.1, None]) == pytest.approx(0.2)
    assert average([None, None]) is None
    assert label(None) == "not scored"


async def test_the_digest_averages_over_scored_voices_and_says_how_many_were_not(
    alerting: Application, remote: RemotePlatform
) -> None:
    await make_member(alerting, "alice")
    now = utcnow()
    english = [
        "Terrible support, nobody ever answers, I am furious",
        "Awful billing: the invoice doubled and nobody explains why, terrible",
    ]
    french = [
        "La facture est fausse depuis trois mois et personne ne répond",
        "Le service est en panne depuis ce matin, c'est très gênant",
        "Merci pour la nouvelle fonction d'export, elle nous fait gagner du temps",
    ]
    await store(
        alerting,
        *(
            VoiceRecord(n, "helpdesk", f"v-{n}", said, received_at=now - timedelta(days=1))
            for n, said in enumerate(english + french)
        ),
    )
    async with alerting.db.transaction() as session:
        scores = [i.sentiment for i in await session.scalars(select(VoiceItem))]
        digest = await add_digest(
            session,
            OPERATOR,
            "Voices",
            kind="voice",
            audience="all",
            cron="0 9 * * mon",
            timezone="UTC",
        )
        await start_run(
            session,
            alerting.sealer,
            digest,
            actor=OPERATOR,
            composers=alerting.extensions.composers,
        )
    assert sorted(s is None for s in scores) == [False, False, True, True, True]
    assert alerting.worker is not None
    await alerting.worker.drain()
    [digest_message] = [s.message for s in remote.sent if s.message.kind == "voice_digest"]
    header = {fact.label: fact.value for fact in digest_message.cards[0].facts}
    # Two English voices, both negative: 100% of the scored, and the three French said apart.
    assert header["Sentiment"] == "negative: 100% negative (3 not scored)"
    assert header["Languages"] == "French 3, English 2"
    billing = next(c for c in digest_message.cards if c.title.startswith("Billing"))
    assert ("Sentiment", "negative (1 not scored)") in [(f.label, f.value) for f in billing.facts]
    outage = next(c for c in digest_message.cards if c.title.startswith("Reliability"))
    assert ("Sentiment", "not scored") in [(f.label, f.value) for f in outage.facts]


async def test_upgrading_detects_the_language_of_stored_voice(settings: Settings) -> None:
    db = Database(settings.database_url, search_path=settings.database_schema)
    try:
        await migrate.upgrade(db, "0014")
        rows = [
            (1, "Still waiting for a refund after two weeks", None, -0.3),
            (2, FRENCH_COMPLAINT, None, 0.0),
            (3, FRENCH_COMPLAINT, 1.0, -0.6),
            (4, "Merci", None, 0.0),
        ]
        async with db.engine.begin() as connection:
            for number, said, rating, score in rows:
                await connection.execute(
                    text(
                        "INSERT INTO voice_items (source, external_id, text, rating, sentiment, "
                        "themes, received_at, created_at) VALUES ('helpdesk', :id, :text, "
                        ":rating, :score, '[]', '2026-11-01', '2026-11-01')"
                    ),
                    {"id": str(number), "text": said, "rating": rating, "score": score},
                )
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            found = (
                await connection.execute(
                    text("SELECT external_id, language, sentiment FROM voice_items ORDER BY id")
                )
            ).all()
        assert [tuple(row) for row in found] == [
            ("1", "en", -0.3),
            ("2", "fr", None),  # the false 0.0 is gone
            ("3", "fr", -0.6),  # the rating led this one
            ("4", None, 0.0),  # too short to tell: left as it was
        ]
    finally:
        await db.dispose()


def test_the_shipped_alert_phrases_cover_every_shipped_language() -> None:
    phrases = yaml.safe_load(ALERT_PHRASES_FILE.read_text(encoding="utf-8"))
    assert set(phrases) == {"en", "de", "fr", "es", "pt", "ja"}
    assert all(len(listed) >= 10 for listed in phrases.values())
    assert json.dumps(phrases, ensure_ascii=False).count("返金") == 1


# ----- spoken to in their own language ---------------------------------------------------------


async def speaker(app: Application, user_id: str, locale: str) -> None:
    member = await make_member(app, user_id, platform="shell")
    async with app.db.transaction() as session:
        stored_member = await session.get(Member, member.id)
        assert stored_member is not None
        stored_member.locale, stored_member.locale_chosen = locale, True


async def shell(app: Application, user_id: str, script: str, mailbox: Path) -> tuple[int, str]:
    out = io.StringIO()
    session = ShellSession(
        app, Mailbox(mailbox), user_id, stdin=io.StringIO(script), stdout=out, interactive=False
    )
    status = await session.run()
    return status, " ".join(out.getvalue().replace("│", " ").split())


async def test_a_german_and_a_japanese_colleague_hear_about_their_voice_in_their_language(
    alerting: Application, remote: RemotePlatform, tmp_path: Path
) -> None:
    await speaker(alerting, "jonas", "de")
    await speaker(alerting, "yui", "ja")
    said = "Der Kunde will sofort eine Rückerstattung, die Rechnung ist seit Monaten falsch."
    status, shown = await shell(alerting, "jonas", f"/voice {said}\n\nAcme\n\n", tmp_path)
    assert status == 0, shown
    assert "nicht bewertet" in shown  # German is not scored, and says so in German
    # The alert channel hears the workspace's language, not the German colleague's.
    assert alerting.worker is not None
    await alerting.worker.drain()
    [alert] = [s.message for s in remote.sent if s.message.kind == "voice_alert"]
    facts = {fact.label: fact.value for fact in alert.cards[0].facts}
    assert facts["Why now"] == "mentions “Rückerstattung”" and facts["Language"] == "German"
    # The same words again: refused, in German, with a German date.
    status, shown = await shell(alerting, "jonas", f"/voice {said}\n\nacme\n\n", tmp_path)
    assert status == 1
    assert "wurden bereits am" in shown and "als Kundenstimme #1 erfasst" in shown
    assert re.search(r"\d{2}\.\d{2}\.\d{4}", shown)  # 06.12.2026, not 06 Dec 2026

    japanese = "お客様から、毎朝アプリがクラッシュするので至急返金してほしいと連絡がありました。"
    status, shown = await shell(alerting, "yui", f"/voice {japanese}\n\n\n\n", tmp_path)
    assert status == 0, shown
    assert "未評価" in shown
    status, shown = await shell(alerting, "yui", f"/voice {japanese}\n\n\n\n", tmp_path)
    assert status == 1 and "として記録済みです" in shown


async def test_a_voice_digest_run_speaks_each_readers_language_and_keeps_customers_words(
    alerting: Application, remote: RemotePlatform
) -> None:
    for user_id, locale in (("anna", "de"), ("chie", "ja")):
        member = await make_member(alerting, user_id)
        async with alerting.db.transaction() as session:
            reader = await session.get(Member, member.id)
            assert reader is not None
            reader.locale = locale
    now = utcnow()
    await store(
        alerting,
        VoiceRecord(
            1,
            "helpdesk",
            "en-1",
            "Awful billing: the invoice doubled and nobody explains why, terrible",
            received_at=now - timedelta(days=1),
        ),
        VoiceRecord(
            2,
            "helpdesk",
            "fr-1",
            "La facture est fausse depuis trois mois et personne ne répond",
            received_at=now - timedelta(days=1),
        ),
    )
    async with alerting.db.transaction() as session:
        digest = await add_digest(
            session,
            OPERATOR,
            "Voices",
            kind="voice",
            audience="all",
            cron="0 9 * * mon",
            timezone="UTC",
        )
        outcome = await start_run(
            session,
            alerting.sealer,
            digest,
            actor=OPERATOR,
            composers=alerting.extensions.composers,
        )
    assert outcome is not None and outcome.queued == 2
    assert alerting.worker is not None
    await alerting.worker.drain()
    # One message per language among the readers (bot/services/digest_runs.py).
    sent = [s.message for s in remote.sent if s.message.kind == "voice_digest"]
    [german] = [m for m in sent if "Stimmung" in json.dumps(m.to_dict(), ensure_ascii=False)]
    [japanese] = [m for m in sent if "感情" in json.dumps(m.to_dict(), ensure_ascii=False)]
    header = {fact.label: fact.value.replace("\xa0", " ") for fact in german.cards[0].facts}
    assert german.cards[0].text == "Was Kunden uns im Lauf der letzten 7 Tage gesagt haben."
    assert header["Stimmung"] == "negativ: 100 % negativ (1 nicht bewertet)"
    assert header["Sprachen"] == "Englisch 1, Französisch 1"
    billing = german.cards[1]
    assert billing.title == "Billing: 2 Stimmen"  # the strategists' theme name stays as written
    assert "„La facture est fausse depuis trois mois et personne ne répond“" in billing.text
    assert japanese.cards[0].text == "過去7日間にお客様から寄せられた声です。"
    header = {fact.label: fact.value.replace("\xa0", " ") for fact in japanese.cards[0].facts}
    assert header["感情"] == "ネガティブ: ネガティブ 100%（1 件は未評価）"
    assert header["言語"] == "英語 1, フランス語 1"
    assert japanese.cards[0].buttons[0].label == "役に立った"


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            ["ID", "Texte", "Client", "Date", "Note"],  # a French survey; a "note" may be words
            {"id": "ID", "text": "Texte", "customer": "Client", "created_at": "Date"},
        ),
        (
            ["Betreff", "Kommentar", "Kunde", "Datum", "Sterne"],
            {
                "title": "Betreff",
                "text": "Kommentar",
                "customer": "Kunde",
                "created_at": "Datum",
                "rating": "Sterne",
            },
        ),
        (
            ["Comentario", "Cliente", "Fecha", "País"],
            {"text": "Comentario", "customer": "Cliente", "created_at": "Fecha", "segment": "País"},
        ),
        (
            ["件名", "コメント", "顧客", "日付", "評価"],
            {
                "title": "件名",
                "text": "コメント",
                "customer": "顧客",
                "created_at": "日付",
                "rating": "評価",
            },
        ),
    ],
)
def test_an_export_with_columns_named_in_another_language_just_works(
    columns: list[str], expected: dict[str, str]
) -> None:
    """A French export ("texte", "client") was refused: no column holds the customer's words."""
    assert resolve_columns(columns, None, {}) == expected
