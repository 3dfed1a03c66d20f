"""The web console in a real browser (Playwright driving Debian's Chromium) against the real
server on the demo organisation: a manager signs in from a chat link, sees the objectives report
with its chart and answers an anonymous idea, whose author is told in chat; a strategist approves
a draft and schedules a digest; an employee's link cannot open manager pages; a reused link is
refused with a clear page. A screenshot of each page is saved."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.app import Application
from bot.console.auth import create_link
from bot.domain import ContentStatus, Role
from bot.events import Actor, CommandInvoked
from bot.services.content import add_content
from bot.services.members import get_member
from bot.services.permissions import OPERATOR
from bot.services.suggestions import file_suggestion
from bot.storage.models import ContentItem, Digest, Suggestion
from bot.web import build_web_app
from content.demo.loader import load_demo
from tests.browser_support import chromium_page, requires_chromium, screenshot, screenshot_dir

if TYPE_CHECKING:
    from playwright.async_api import Page, ViewportSize
from tests.conftest import make_member

pytestmark = [requires_chromium, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
async def console(app: Application) -> AsyncIterator[str]:
    await load_demo(app.db, app.sealer, you=None)
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


def mailbox(app: Application, user: str) -> list[dict]:
    """What the shell adapter delivered to ``user`` (their chat)."""
    path = app.settings.data_dir / "shell" / f"{user}.jsonl"
    return [json.loads(line)["message"] for line in path.read_text().splitlines()]


async def loaded_width(page: Page) -> int:
    """The first chart image's width once the browser has loaded it (0 if it failed)."""
    return int(
        await page.locator("img.chart").first.evaluate(
            "img => img.complete ? img.naturalWidth : new Promise(r => {"
            " img.onload = () => r(img.naturalWidth); img.onerror = () => r(0); })"
        )
    )


async def sign_in(page: Page, path: str) -> None:
    """Open a sign-in link and press its button (opening it alone signs nobody in)."""
    await page.goto(path)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console/*")


async def sign_in_path(app: Application, user: str, platform: str = "shell") -> str:
    async with app.db.transaction() as session:
        member = await get_member(session, platform, user)
        return f"/console/login/{await create_link(session, member)}"


async def test_a_manager_answers_from_the_console_and_the_author_hears_in_chat(
    app: Application, console: str
) -> None:
    async with app.db.transaction() as session:
        idea = (
            await session.scalars(
                select(Suggestion).where(
                    Suggestion.anonymous,
                    Suggestion.team_id.is_not(None),
                    Suggestion.text.startswith("Add the SSO"),  # Priya's, in Product
                )
            )
        ).first()
        assert idea is not None
    # Sam asks for the console in chat; the link arrives in his direct messages.
    reply = await app.router.handle(CommandInvoked(Actor("shell", "sam"), command="console"))
    assert "sent you a sign-in link" in reply.messages[0].fallback
    assert app.worker is not None
    await app.worker.drain()
    [dm] = [m for m in mailbox(app, "sam") if m.get("kind") == "console_link"]
    chat_link = dm["cards"][0]["buttons"][0]["url"]
    async with chromium_page(base_url=console) as page:
        await page.goto("/console/" + chat_link.split("/console/", 1)[1])
        await screenshot(page, "console-sign-in")
        await sign_in(page, "/console/" + chat_link.split("/console/", 1)[1])
        assert page.url.endswith("/console/objectives")
        await page.get_by_role("heading", name="Objectives").wait_for()
        assert await loaded_width(page) > 600
        for table in ("KPIs, objective by objective", "Objectives, figure by figure"):
            region = page.get_by_role("region", name=table)
            assert await region.get_by_role("row", name="Get every new customer live").count() == 1
        await screenshot(page, "console-objectives")

        await page.get_by_role("link", name="Suggestions", exact=True).click()
        card = page.locator(f"#idea-{idea.id}")
        assert "someone anonymous" in await card.inner_text()
        board = await page.content()
        assert "Priya" not in board
        assert "weekend rota" not in board  # Support's ideas are for Support's manager
        await card.get_by_text("Answer or change status").click()
        await card.get_by_label("Status", exact=True).select_option("planned")
        await card.get_by_label(
            "Answer (the author and every voter will read it)", exact=True
        ).fill("Yes: the SSO step goes into the guide this week.")
        await screenshot(page, "console-suggestions")
        await card.get_by_role("button", name="Send answer").click()
        await page.get_by_role("status").wait_for()
        assert f"#{idea.id} is planned" in await page.get_by_role("status").inner_text()
        await screenshot(page, "console-suggestion-answered")

    await app.worker.drain()
    titles = [m["cards"][0]["title"] for m in mailbox(app, "priya") if m.get("cards")]
    assert f"Your anonymous suggestion #{idea.id} is now planned" in titles


async def test_a_strategist_approves_a_draft_and_schedules_a_digest(
    app: Application, console: str
) -> None:
    async with app.db.transaction() as session:
        draft = await add_content(
            session,
            OPERATOR,
            "https://example.com/blog/status-page",
            title="Why we publish a status page",
            summary="Customers see what we see during an incident.",
            status=ContentStatus.DRAFT,
        )
    async with chromium_page(base_url=console) as page:
        await sign_in(page, await sign_in_path(app, "dana"))
        await page.get_by_role("link", name="Content", exact=True).click()
        drafts = page.locator(f"#draft-{draft.id}")
        await screenshot(page, "console-content")
        await drafts.get_by_role("button", name="Approve").click()
        await page.get_by_role("status").wait_for()
        assert "approved" in await page.get_by_role("status").inner_text()

        await page.get_by_role("link", name="Digests", exact=True).click()
        schedule = page.locator('form[action="/console/digests"]')
        await schedule.get_by_label("Name", exact=True).fill("Friday wins")
        await schedule.get_by_label("Kind", exact=True).select_option("content")
        await schedule.get_by_label(
            "When (cron: minute hour day month weekday, e.g. 0 9 * * mon)"
        ).fill("0 16 * * fri")
        await schedule.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
        await schedule.get_by_role("button", name="Schedule").click()
        await page.get_by_role("status").wait_for()
        friday = page.locator("article", has_text="Friday wins")
        assert await friday.locator("ol.times li").count() == 5
        await screenshot(page, "console-digests")
        await page.get_by_role("link", name="Customer voice", exact=True).click()
        await page.get_by_role("heading", name="Imports").wait_for()
        assert await loaded_width(page) > 600  # the themes' trend chart
        await screenshot(page, "console-voice")
    async with app.db.transaction() as session:
        assert (await session.get(ContentItem, draft.id)).status == "approved"  # type: ignore[union-attr]
        assert "Friday wins" in (await session.scalars(select(Digest.name))).all()


async def test_an_employee_link_cannot_open_manager_pages_and_links_work_once(
    app: Application, console: str
) -> None:
    await make_member(app, "admin", role=Role.ADMIN, platform="shell")
    path = await sign_in_path(app, "alice")
    async with chromium_page(base_url=console) as page:
        await sign_in(page, path)
        await page.goto("/console/suggestions")
        assert await page.get_by_role("heading", name="Not for your role").count() == 1
        await screenshot(page, "console-not-for-your-role")
    async with chromium_page(base_url=console) as page:
        await page.goto(path)  # the same link again, in another browser
        async with page.expect_response("**/console/login") as answer:
            await page.get_by_role("button", name="Sign in").click()
        assert (await answer.value).status == 403
        assert (
            await page.get_by_role("heading", name="This sign-in link cannot be used").count() == 1
        )
        await screenshot(page, "console-link-reused")
    async with chromium_page(base_url=console, viewport={"width": 390, "height": 844}) as page:
        await sign_in(page, await sign_in_path(app, "admin"))
        await page.goto("/console/deliveries")
        assert await page.get_by_text("No failed deliveries").count() == 1
        await screenshot(page, "console-deliveries-phone")


async def test_a_refused_schedule_is_seen_beside_its_field_without_scrolling(
    app: Application, console: str
) -> None:
    """The form is at the bottom of a long page: the browser comes back to the cron, focused,
    with the reason in a red alert above it and everything typed still there."""
    async with chromium_page(base_url=console) as page:
        await sign_in(page, await sign_in_path(app, "dana"))
        await page.goto("/console/digests")
        form = page.locator("#new-digest")
        await form.get_by_label("Name", exact=True).fill("Month end")
        await form.get_by_label("When (cron", exact=False).fill("0 9 30 2 *")
        await form.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
        await form.get_by_role("button", name="Schedule").click()
        alert = form.get_by_role("alert")
        await alert.wait_for()
        cron = form.get_by_label("When (cron", exact=False)
        assert "never fires" in await alert.inner_text()
        assert await cron.get_attribute("aria-describedby") == await alert.get_attribute("id")
        assert await cron.input_value() == "0 9 30 2 *"
        assert await form.get_by_label("Name", exact=True).input_value() == "Month end"
        assert await cron.evaluate("field => document.activeElement === field")
        viewport = page.viewport_size
        assert viewport is not None
        for shown in (alert, cron):  # both in view, as the page opened
            box = await shown.bounding_box()
            assert (
                box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
            )
        colour = await alert.evaluate("p => getComputedStyle(p).color")
        assert colour != await page.get_by_role("heading", name="Digests").evaluate(
            "h => getComputedStyle(h).color"
        )
        assert await page.get_by_role("status").count() == 0
        await screenshot(page, "console-digest-refused", full_page=False)


# Every table and each of its cells: clipped without its frame scrolling, the page wider than
# the screen, or a frame that scrolls without saying so on a phone.
CLIPPED = """() => {
  const problems = [];
  if (document.documentElement.scrollWidth > innerWidth) problems.push('the page scrolls sideways');
  for (const table of document.querySelectorAll('main table')) {
    const frame = table.closest('.scroll');
    if (!frame) { problems.push('a table with no frame'); continue; }
    const style = getComputedStyle(frame);
    if (frame.scrollWidth > frame.clientWidth && !['auto', 'scroll'].includes(style.overflowX))
      problems.push('a frame clips without scrolling');
    const hint = getComputedStyle(frame, '::before').content;
    if (frame.scrollWidth > frame.clientWidth && !hint.includes('Scroll'))
      problems.push('a frame scrolls without saying so');
    const edge = frame.getBoundingClientRect().right;
    for (const cell of table.querySelectorAll('th, td')) {
      const right = cell.getBoundingClientRect().right;
      if (right > edge + 1 && frame.scrollWidth <= frame.clientWidth) problems.push('a cut cell');
    }
  }
  return problems;
}"""


async def test_at_phone_width_tables_scroll_in_their_frame_and_charts_stack(
    app: Application, console: str
) -> None:
    phone: ViewportSize = {"width": 390, "height": 844}
    async with chromium_page(base_url=console, viewport=phone) as page:
        await sign_in(page, await sign_in_path(app, "dana"))
        for name in ("objectives", "content", "digests"):
            await page.goto(f"/console/{name}")
            if name == "digests":  # a run, for the runs' table
                await page.locator("article").first.get_by_role("button", name="Send now").click()
                await page.get_by_role("status").wait_for()
            assert await page.locator("main table").count() >= 1, name
            assert await page.evaluate(CLIPPED) == [], name
            frame = page.locator(".scroll").first
            assert await frame.evaluate("f => f.scrollWidth > f.clientWidth"), name  # narrow
            await screenshot(page, f"console-{name}-phone")
        for name in ("objectives", "voice"):
            await page.goto(f"/console/{name}")
            chart = page.locator("img.chart").first  # objectives: the KPIs' chart comes first
            assert await loaded_width(page) > 0
            source = await chart.evaluate("img => img.currentSrc")
            assert "layout=narrow" in source, name
            width, height = await chart.evaluate("img => [img.clientWidth, img.clientHeight]")
            assert width <= phone["width"] and height >= width, (name, width, height)
            await chart.screenshot(path=str(screenshot_dir() / f"console-{name}-chart-phone.png"))


async def test_at_phone_width_a_long_unbroken_idea_wraps_inside_its_card(
    app: Application, console: str
) -> None:
    """A 2,000-character word (a pasted token, a long link) breaks inside its card instead of
    making the whole board 20,000 pixels wide."""
    async with app.db.transaction() as session:
        hugo = await get_member(session, "shell", "hugo")
        idea = await file_suggestion(session, app.sealer, hugo, "Longword" * 250, platform="shell")
    phone: ViewportSize = {"width": 390, "height": 844}
    async with chromium_page(base_url=console, viewport=phone) as page:
        await sign_in(page, await sign_in_path(app, "sam"))
        await page.goto("/console/suggestions")
        card = page.locator(f"#idea-{idea.id}")
        assert await card.count() == 1
        assert await page.evaluate(CLIPPED) == []
        width = await card.evaluate("c => c.getBoundingClientRect().width")
        assert width <= phone["width"]
        await screenshot(page, "console-suggestions-long-word-phone", full_page=False)
