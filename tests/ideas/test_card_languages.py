"""Cards and digests' chrome in the reader's language (German and Japanese here): the content
digest, the idea's receipt and voting card, the rollup, a notice and the charts. Strategists'
titles and summaries and people's ideas are shown as they wrote them, never translated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import Application
from bot.charts import (
    CJK_FONTS,
    chart_language,
    cjk_font,
    kpi_chart,
    objectives_chart,
    objectives_figure,
)
from bot.compose import actions
from bot.compose.content_digest import compose_content_digest
from bot.compose.notices import answer_notice
from bot.domain import Role
from bot.events import CommandInvoked, HomeOpened
from bot.i18n import speaking
from bot.messages import Button, LinkButton, Message
from bot.services.content import add_content
from bot.services.kpi_readings import record_reading
from bot.services.members import get_member
from bot.services.objectives import add_objective
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.suggestions import answer_suggestion
from bot.storage.types import utcnow
from bot.web import build_web_app
from tests.conftest import actor, make_member

SENT_ON = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
IDEA = "Weniger Meetings am Freitag / 金曜日の会議を減らす"
TITLE = "Why customers stay"
SUMMARY = "Three habits of teams whose customers renew."

# What each language says where English says "Useful", "Vote", "Suggestion rollup"...
WORDS = {
    "de": {
        "picks": "1 Empfehlung von Ihrem Strategieteam",
        "date": "7. Dezember 2026",
        "buttons": ["Nützlich", "Nicht relevant", "Lesen", "Auf LinkedIn teilen"],
        "objective": "Ziel",
        "filed": "Vorschlag #1 eingereicht",
        "status": "Neu",
        "vote": "Abstimmen",
        "board": "Offene Ideen, neueste zuerst",
        "rollup": "Übersicht der Vorschläge",
        "period": "letzte 30 Tage",
        "new_ideas": "Neue Ideen",
        "by_team": "Nach Team",
        "notice": "Ihr Vorschlag #1 ist jetzt geplant",
        "answered_by": "Beantwortet von",
        "chart": "Ziele, letzte 30 Tage (bis ",
        "chart_date": "07.12.2026",
        "chart_panel": "Vorschläge",
    },
    "ja": {
        "picks": "戦略担当者のおすすめ 1 件です",
        "date": "2026年12月7日",
        "buttons": ["役に立った", "関係ない", "読む", "LinkedIn で共有"],
        "objective": "目標",
        "filed": "提案 #1 を受け付けました",
        "status": "新規",
        "vote": "投票する",
        "board": "受付中のアイデア（新しい順）",
        "rollup": "提案のまとめ",
        "period": "過去 30",
        "new_ideas": "新しいアイデア",
        "by_team": "チーム別",
        "notice": "あなたの提案 #1 は予定になりました",
        "answered_by": "回答者",
        "chart": "目標、過去 30 日間（",
        "chart_date": "2026/12/07",
        "chart_panel": "提案",
    },
}


async def speaker(app: Application, user: str, locale: str, **details) -> None:
    """A member who reads ``locale`` (as if chosen with /prefs language)."""
    await make_member(app, user, **details)
    async with app.db.transaction() as session:
        member = await get_member(session, "remote", user)
        member.locale = locale
        member.locale_chosen = True


def labels(message: Message, card: int = 0) -> list[str]:
    return [button.label for button in message.cards[card].buttons]


@pytest.mark.parametrize("locale", ["de", "ja"])
async def test_the_content_digest_speaks_the_readers_language_not_the_strategists(
    app: Application, locale: str
) -> None:
    words = WORDS[locale]
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "renew", "Keep customers")
        item = await add_content(
            session,
            OPERATOR,
            "https://example.com/stay",
            title=TITLE,
            summary=SUMMARY,
            share_text="We keep our customers.",
            objective_key="renew",
        )
        await session.refresh(item, attribute_names=["objective"])
        with speaking(locale):
            digest = compose_content_digest("Monday picks", 7, [item], sent_on=SENT_ON, zone="UTC")
    header, card = digest.cards
    assert header.title == "Monday picks"  # the strategist's name for it
    assert header.text.startswith(words["picks"])
    assert header.footer == words["date"]
    assert card.title == TITLE and card.text == SUMMARY
    assert labels(digest, 1)[:4] == words["buttons"]
    assert card.facts[0].label == words["objective"] and card.facts[0].value == "Keep customers"
    useful = card.buttons[0]
    assert isinstance(useful, Button) and useful.action_id == actions.FEEDBACK_USEFUL
    assert useful.value == {"subject": f"content:{item.id}"}
    share = card.buttons[3]
    assert isinstance(share, LinkButton) and share.url.startswith("https://www.linkedin.com/")
    assert "Useful" not in labels(digest, 1) and "Tell us" not in header.text
    with speaking("en"):  # the same item for an English reader
        english = compose_content_digest("Monday picks", 7, [item], sent_on=SENT_ON, zone="UTC")
    assert english.cards[0].footer == "December 7, 2026"
    assert labels(english, 1)[:2] == ["Useful", "Not relevant"]


@pytest.mark.parametrize("locale", ["de", "ja"])
async def test_an_idea_its_vote_button_the_rollup_and_the_answer_notice_in_the_readers_language(
    app: Application, locale: str
) -> None:
    words = WORDS[locale]
    await speaker(app, "boss", locale, role=Role.MANAGER)
    await speaker(app, "alice", locale, manager="boss")
    await speaker(app, "bob", locale, manager="boss")

    filed = await app.router.handle(CommandInvoked(actor("alice"), command="suggest", text=IDEA))
    [receipt] = [m for m in filed.messages if m.kind == "suggestion_receipt"]
    assert receipt.cards[0].title == words["filed"]
    assert receipt.cards[0].facts[0].value == words["status"]

    board = await app.router.handle(CommandInvoked(actor("bob"), command="suggestions"))
    [listing] = [m for m in board.messages if m.kind == "suggestion_list"]
    assert listing.cards[0].title == words["board"]
    [idea_card] = [c for c in listing.cards if c.subject == "suggestion:1"]
    assert idea_card.text == IDEA  # people's own words, untranslated
    [vote] = idea_card.buttons
    assert isinstance(vote, Button) and vote.label == words["vote"] and vote.label != "Vote"
    assert vote.action_id == actions.SUGGESTION_VOTE and vote.value == {"suggestion": 1}

    rolled = await app.router.handle(CommandInvoked(actor("boss"), command="rollup"))
    [rollup] = [m for m in rolled.messages if m.kind == "rollup"]
    summary = rollup.cards[0]
    assert summary.title.startswith(words["rollup"])
    assert words["period"] in summary.title and "30d" not in summary.title
    home = await app.router.handle(HomeOpened(actor("boss")))
    [titles] = [[card.title for card in m.cards] for m in home.messages]
    [home_rollup] = [t for t in titles if t and t.startswith(words["rollup"])]
    assert words["period"] in home_rollup and "30d" not in home_rollup
    assert summary.facts[0].label == words["new_ideas"]
    switch = {b.label: b for b in rollup.cards[1].buttons if isinstance(b, Button)}
    assert switch[words["by_team"]].value == {"by": "team", "since": "30d"}
    assert switch[words["by_team"]].action_id == actions.ROLLUP_SHOW

    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        outcome = await answer_suggestion(
            session, app.sealer, boss, 1, "Ab Januar / 1月から", status="planned"
        )
        with speaking(locale):
            notice = answer_notice(outcome.suggestion, outcome.response, responder_name="Boss")
    card = notice.cards[0]
    assert card.title == words["notice"]
    assert card.text == "Ab Januar / 1月から"  # the manager's answer, as written
    facts = {fact.label: fact.value for fact in card.facts}
    assert facts[words["answered_by"]] == "Boss"
    assert IDEA in facts.values()


async def objectives_report(app: Application):
    async with app.db.transaction() as session:
        reply = await add_objective(
            session, OPERATOR, "reply", "Answer fast", unit="minutes", target_value=60
        )
        await record_reading(session, OPERATOR, reply, 74, utcnow() - timedelta(days=20))
        await record_reading(session, OPERATOR, reply, 52, utcnow() - timedelta(days=2))
        return await build_objectives_report(session, OPERATOR, app.sealer, timedelta(days=30))


async def test_a_chart_in_german_says_its_titles_in_german(app: Application) -> None:
    report = await objectives_report(app)
    with speaking("de"):
        with chart_language() as drawn_in:
            figure = objectives_figure(report)
        png = objectives_chart(report)
        kpis = kpi_chart(report)
    assert drawn_in == "de"
    title = figure.get_suptitle()
    assert title.startswith(WORDS["de"]["chart"])
    assert f"(bis {report.until.astimezone(UTC):%d.%m.%Y})" in title
    assert [axes.get_title() for axes in figure.axes][1] == WORDS["de"]["chart_panel"]
    assert png.startswith(b"\x89PNG") and kpis.startswith(b"\x89PNG")


async def test_a_chart_for_a_japanese_reader_is_drawn_whatever_fonts_are_installed(
    app: Application,
) -> None:
    """With a Japanese font installed the chart speaks Japanese; without one it is drawn in
    English (matplotlib would draw empty boxes), never an error."""
    report = await objectives_report(app)
    with speaking("ja"):
        with chart_language() as drawn_in:
            figure = objectives_figure(report)
        png = objectives_chart(report)
        kpis = kpi_chart(report)
    assert png.startswith(b"\x89PNG") and kpis.startswith(b"\x89PNG")
    if cjk_font() is None:
        assert drawn_in == "en"
        assert figure.get_suptitle().startswith("Objectives, last 30 days (to ")
    else:
        assert drawn_in == "ja"
        assert figure.get_suptitle().startswith(WORDS["ja"]["chart"])


@pytest.mark.parametrize(
    ("accept", "heading", "lang"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "<h1>Datenschutz</h1>", 'lang="de"'),
        ("ja", "<h1>プライバシー</h1>", 'lang="ja"'),
        ("ko-KR", "<h1>Privacy</h1>", 'lang="en"'),
    ],
)
async def test_the_privacy_page_is_in_the_language_the_browser_asks_for(
    app: Application, accept: str, heading: str, lang: str
) -> None:
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{server.port}/privacy"
            async with http.get(url, headers={"Accept-Language": accept}) as answer:
                assert answer.status == 200
                page = await answer.text()
    finally:
        await server.close()
    assert heading in page and lang in page
    assert "<strong>" in page and "<li>" in page


def test_a_japanese_font_installed_after_matplotlib_listed_its_fonts_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """matplotlib keeps its font list in a cache written the first time it ran: a font package
    installed afterwards (fonts-noto-cjk, fonts-ipafont) was never seen, and every chart for a
    Japanese reader stayed English. Simulated with a font list that lacks the installed fonts."""
    from matplotlib import font_manager

    installed = [
        path
        for path in font_manager.findSystemFonts()
        if font_manager.FontProperties(fname=path).get_name() in CJK_FONTS
    ]
    if not installed:
        pytest.skip("no Japanese font installed on this machine")
    stale = [f for f in font_manager.fontManager.ttflist if f.name not in CJK_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    cjk_font.cache_clear()
    try:
        assert cjk_font() in CJK_FONTS
    finally:
        cjk_font.cache_clear()
