"""The console speaks each person's language over real HTTP: the signed-in member's own, else
what their browser asks for (Accept-Language), else the workspace's; the settings page keeps a
member's choice. People's own words are shown as they wrote them, whatever the language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from babel import dates

from bot.app import Application
from bot.console.language import accepted_locale
from bot.console.sections import PAGES
from bot.domain import Role
from bot.events import CommandInvoked
from bot.i18n import SUPPORTED
from bot.services.members import get_member, note_platform_locale
from bot.services.suggestions import file_suggestion
from content.demo.loader import load_demo
from tests.browser_support import chromium_page, requires_chromium, screenshot
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform
from tests.operations.test_console import Browser, link, server  # noqa: F401 (a fixture)
from tests.operations.test_console_browser import console, sign_in_path  # noqa: F401

IDEA = "Faster refunds, please"
PAGES_SHOWN = ["", "settings", *(slug for slug, _title, _roles in PAGES)]


@pytest.fixture
async def browser_for(server: str) -> AsyncIterator:  # noqa: F811
    """A browser whose every request says which languages it prefers."""
    sessions: list[aiohttp.ClientSession] = []

    def open_browser(accept_language: str | None = None) -> Browser:
        headers = {"Accept-Language": accept_language} if accept_language else {}
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)
        sessions.append(http)
        return Browser(server, http)

    try:
        yield open_browser
    finally:
        for http in sessions:
            await http.close()


async def speaks(app: Application, user: str, locale: str) -> None:
    """The member's language as the platform told it (Slack's user locale, say)."""
    async with app.db.transaction() as session:
        assert note_platform_locale(await get_member(session, "remote", user), locale)


async def sign_in(app: Application, browser: Browser, user: str) -> None:
    assert (await browser.open_link(await link(app, user))).status == 303


def html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', html)
    assert match, html[:200]
    return match.group(1)


async def test_a_german_member_sees_german_headings_buttons_and_dates(
    app: Application, browser_for
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, ann, IDEA, platform="remote")
    await speaks(app, "boss", "de")
    browser = browser_for("ja")  # the member's own language wins over the browser's
    await sign_in(app, browser, "boss")

    status, html = await browser.get("/console/suggestions")
    assert status == 200 and html_lang(html) == "de"
    assert "<h1>Vorschläge</h1>" in html and "Vorschläge · advocacy-Konsole" in html
    assert ">Antwort senden</button>" in html and ">Abmelden</button>" in html
    assert "Sprache: Deutsch" in html and "(Manager)" in html
    german_day = dates.format_date(idea.created_at, "medium", locale="de")  # 06.12.2026
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", german_day)
    assert f"eingereicht am {german_day}" in html
    # People's own words are theirs: the idea reads as Ann wrote it.
    assert f'<p dir="auto">{IDEA}</p>' in html
    for english in ("Send answer", "Sign out", "Answer or change status", ">Suggestions<"):
        assert english not in html, english

    # A notice after a form speaks German too.
    csrf = await browser.csrf("/console/suggestions")
    status, location, _ = await browser.post(
        f"/console/suggestions/{idea.id}/answer",
        {"csrf": csrf, "status": "planned", "text": "Im nächsten Sprint."},
    )
    assert status == 303
    _, html = await browser.get(location)
    assert f"Antwort gespeichert: #{idea.id} ist " in html
    # A refusal by the console itself (a role's page) is German as well.
    status, html = await browser.get("/console/content")
    assert status == 403 and "Nicht für Ihre Rolle" in html and "Strategen" in html


async def test_accept_language_chooses_for_a_member_without_a_language(
    app: Application, browser_for
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    browser = browser_for("ko-KR,ja;q=0.9,en;q=0.5")  # no Korean: the next one we speak
    # Not signed in yet: the sign-in pages already speak Japanese.
    status, html = await browser.get("/console/objectives")
    assert status == 401 and html_lang(html) == "ja" and "サインインしてください" in html
    assert "/advocacy console" in html  # the command people type stays as it is
    await sign_in(app, browser, "dana")
    status, html = await browser.get("/console/objectives")
    assert status == 200 and html_lang(html) == "ja"
    assert "<h1>目標</h1>" in html and ">サインアウト</button>" in html
    assert "KPI の測定値を記録" in html and "目標はまだありません。" in html
    assert ">表示</button>" in html and "過去 30 日" in html  # the period form, in words
    status, html = await browser.get("/console/digests")
    assert "ダイジェストをスケジュール" in html and "ストラテジスト" in html
    # Another browser asking for nothing gets the workspace's language, English.
    plain = browser_for()
    await sign_in(app, plain, "dana")
    status, html = await plain.get("/console/objectives")
    assert html_lang(html) == "en" and "<h1>Objectives</h1>" in html


async def test_choosing_a_language_in_the_settings_persists(
    app: Application, browser_for, remote: RemotePlatform
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    browser = browser_for()
    await sign_in(app, browser, "dana")
    status, html = await browser.get("/console/settings")
    assert status == 200 and '<option value="fr">Français</option>' in html
    csrf = await browser.csrf("/console/settings")

    # A language the console does not speak is refused beside the menu; nothing is kept.
    status, _, html = await browser.post(
        "/console/settings", {"csrf": csrf, "form": "language", "locale": "xx"}
    )
    assert status == 422 and "Choose one of the languages in the list." in html
    async with app.db.transaction() as session:
        assert (await get_member(session, "remote", "dana")).locale is None

    status, location, _ = await browser.post(
        "/console/settings", {"csrf": csrf, "form": "language", "locale": "fr"}
    )
    assert status == 303 and location == "/console/settings"
    _, html = await browser.get(location)
    assert html_lang(html) == "fr" and "<h1>Paramètres</h1>" in html
    assert "La console et le bot vous parlent désormais en Français." in html
    assert '<option value="fr" selected>Français</option>' in html
    async with app.db.transaction() as session:
        dana = await get_member(session, "remote", "dana")
        assert dana.locale == "fr" and dana.locale_chosen
        # Chosen, so a platform's hint (Slack saying en-US) no longer changes it.
        assert not note_platform_locale(dana, "en-US")

    # A new session, even from a browser asking for German, is French: the choice is hers.
    other = browser_for("de-DE,de;q=0.9")
    await sign_in(app, other, "dana")
    _, html = await other.get("/console/content")
    assert html_lang(html) == "fr" and "<h1>Contenu</h1>" in html and "Bibliothèque" in html

    # The sign-in link the bot sends her by DM is in her language too.
    await app.router.handle(CommandInvoked(actor("dana"), command="console", text=""))
    assert app.worker is not None
    await app.worker.drain()
    [dm] = [s for s in remote.sent if s.target.recipient == "dana"]
    assert dm.message.cards[0].title == "Ouvrir la console advocacy"
    assert "pendant 10 minutes" in dm.message.cards[0].text


@requires_chromium
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_japanese_manager_in_a_real_browser(app: Application, console: str) -> None:  # noqa: F811
    """The demo organisation's pages in Japanese, in Chromium, with screenshots to look at."""
    async with app.db.transaction() as session:
        assert note_platform_locale(await get_member(session, "shell", "sam"), "ja-JP")
    async with chromium_page(base_url=console) as page:
        await page.goto(await sign_in_path(app, "sam"))
        # Before signing in the page speaks the browser's language (headless Chromium: en-US).
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/console/objectives")
        await page.get_by_role("heading", name="目標", exact=True).wait_for()
        assert await page.locator("html").get_attribute("lang") == "ja"
        assert await page.get_by_role("region", name="目標ごとの KPI").count() == 1
        await screenshot(page, "console-objectives-ja")
        await page.get_by_role("link", name="提案", exact=True).click()
        await page.get_by_role("heading", name="提案", exact=True).wait_for()
        card = page.locator("article.card").first
        await card.get_by_text("回答またはステータス変更").click()
        assert await card.get_by_role("button", name="回答を送信").count() == 1
        await screenshot(page, "console-suggestions-ja")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en;q=0.5, fr", "fr"),  # the weights decide, not the order
        ("ko-KR, pt-PT;q=0.7", "pt_BR"),
        ("ko-KR, *;q=0.1", None),  # nothing we speak: the workspace's default
        ("ja;q=0, es", "es"),  # q=0 means "not this one"
        ("", None),
        (None, None),
    ],
)
def test_the_browsers_wish_list_is_read_by_weight(header, expected) -> None:
    assert accepted_locale(header) == expected


async def test_every_page_renders_in_every_language(app: Application, browser_for) -> None:
    """The demo organisation's pages, as an admin who sees them all, in each shipped language:
    a translation that broke a page (a placeholder it lacks) would fail here."""
    await load_demo(app.db, app.sealer, you=None)
    await make_member(app, "root", role=Role.ADMIN)
    for locale in SUPPORTED:
        browser = browser_for(locale.replace("_", "-"))
        await sign_in(app, browser, "root")
        for page in PAGES_SHOWN:
            status, html = await browser.get(f"/console/{page}")
            assert status == 200, (locale, page)
            assert html_lang(html) == locale.replace("_", "-"), (locale, page)


async def test_an_ideas_status_is_named_in_the_managers_language(
    app: Application, browser_for
) -> None:
    """The board's status words, the answer form's choices and the notice after an answer:
    a Japanese manager read "New" and "Planned" among Japanese words."""
    await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, ann, IDEA, platform="remote")
    await speaks(app, "boss", "ja")
    browser = browser_for()
    await sign_in(app, browser, "boss")

    status, html = await browser.get("/console/suggestions")
    assert status == 200 and html_lang(html) == "ja"
    assert f"#{idea.id} · 0 票 · 新規</h3>" in html
    assert '<option value="planned">予定</option>' in html
    assert '<option value="under_review">検討中</option>' in html
    csrf = await browser.csrf("/console/suggestions")
    status, location, _ = await browser.post(
        f"/console/suggestions/{idea.id}/answer",
        {"csrf": csrf, "status": "planned", "text": "来月から始めます。"},
    )
    assert status == 303
    _, html = await browser.get(location)
    assert f"#{idea.id} は「予定」です" in html
    assert f"#{idea.id} · 0 票 · 予定</h3>" in html
    for english in ("· New<", "· Planned<", ">planned<", ">under review<", "is planned"):
        assert english not in html, english

    # German keeps each word's own capitals ("In Prüfung", not Jinja's "In prüfung").
    await speaks(app, "boss", "de")
    async with app.db.transaction() as session:
        await file_suggestion(session, app.sealer, ann, "Second idea", platform="remote")
    _, html = await browser.get("/console/suggestions?status=all")
    assert "· Geplant</h3>" in html and '<option value="under_review">In Prüfung</option>' in html
