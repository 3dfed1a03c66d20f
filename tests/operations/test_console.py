"""The web console over real HTTP: one-time sign-in links (expiry, reuse), sessions (cookie
flags, idle time-out), CSRF, role checks on every page, and the pages' work reaching chat.
(Attacks on the console: tests/operations/test_console_security.py.)"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from bot.app import Application
from bot.console.auth import create_link
from bot.console.invite import console_url
from bot.domain import ContentStatus, Role
from bot.events import CommandInvoked
from bot.services.content import add_content
from bot.services.members import get_member
from bot.services.permissions import OPERATOR
from bot.services.suggestions import file_suggestion, vote
from bot.storage.models import ConsoleSession, ContentItem, Digest, Suggestion
from bot.storage.types import utcnow
from bot.web import build_web_app
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform


@dataclass
class Browser:
    """A person's browser: its own cookie jar, talking to the real server."""

    base: str
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path, allow_redirects=False) as answer:
            return answer.status, await answer.text()

    async def open_link(self, url: str, *, secure: bool = False) -> aiohttp.ClientResponse:
        """Open a sign-in link and press its Sign in button: the POST's answer. With ``secure``
        the pre-session cookie (Secure over https) is sent by hand: this server is plain http."""
        path = url.split("/console/", 1)[1]
        async with self.http.get(f"{self.base}/console/{path}", allow_redirects=False) as page:
            assert page.status == 200, page.status
            form = dict(re.findall(r'name="(token|signin)" value="([^"]*)"', await page.text()))
        cookies = {"advocacy_signin": form["signin"]} if secure else None
        answer = await self.http.post(
            f"{self.base}/console/login", data=form, cookies=cookies, allow_redirects=False
        )
        answer.release()
        return answer

    async def post(self, path: str, data: dict[str, str]) -> tuple[int, str, str]:
        async with self.http.post(self.base + path, data=data, allow_redirects=False) as answer:
            return answer.status, answer.headers.get("Location", ""), await answer.text()

    def pre_session(self) -> str:
        [value] = [c.value for c in self.http.cookie_jar if c.key == "advocacy_signin"]
        return value

    async def csrf(self, path: str) -> str:
        _, html = await self.get(path)
        match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert match, html
        return match.group(1)


@pytest.fixture
async def server(app: Application) -> AsyncIterator[str]:
    test_server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await test_server.start_server()
    try:
        yield f"http://127.0.0.1:{test_server.port}"
    finally:
        await test_server.close()


@pytest.fixture
async def browsers(server: str) -> AsyncIterator[list[Browser]]:
    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in range(3)]
    try:
        yield [Browser(server, s) for s in sessions]
    finally:
        for s in sessions:
            await s.close()


async def link(app: Application, user: str, **when: object) -> str:
    async with app.db.transaction() as session:
        member = await get_member(session, "remote", user)
        return console_url(app.settings.public_url, await create_link(session, member, **when))  # type: ignore[arg-type]


async def signed_in(app: Application, browser: Browser, user: str) -> None:
    answer = await browser.open_link(await link(app, user))
    assert answer.status == 303


async def test_a_link_signs_in_once_and_sets_a_safe_cookie(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    url = await link(app, "boss")
    first = await browsers[0].open_link(url)
    assert first.status == 303 and first.headers["Location"] == "/console/objectives"
    [cookie] = [c for c in first.headers.getall("Set-Cookie") if c.startswith("advocacy_console=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http here
    status, html = await browsers[0].get("/console/objectives")
    assert status == 200 and "Objectives" in html
    # The same link again, from anywhere, is refused with a page that says why.
    answer = await browsers[1].open_link(url)
    assert answer.status == 403
    status, html = await browsers[1].get("/console/objectives")
    assert status == 401


async def test_expired_and_unknown_links_are_refused_with_a_clear_page(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    old = await link(app, "boss", now=utcnow() - timedelta(minutes=11))
    for token in (old.rsplit("/", 1)[1], "not-a-real-token"):
        status, html = await browsers[0].get(f"/console/login/{token}")
        assert status == 200 and "Sign in" in html  # nothing is looked up yet
        status, _, html = await browsers[0].post(
            "/console/login", {"token": token, "signin": browsers[0].pre_session()}
        )
        assert status == 403 and "cannot be used" in html and "10 minutes" in html
        assert "/advocacy console" in html
    status, html = await browsers[0].get("/console/objectives")
    assert status == 401 and "/advocacy console" in html


async def test_an_employees_link_cannot_open_manager_pages(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "emp")
    await signed_in(app, browsers[0], "emp")
    for path in ("objectives", "suggestions", "content", "digests", "voice", "deliveries"):
        status, html = await browsers[0].get(f"/console/{path}")
        assert status == 403 and "Not for your role" in html, path
    status, html = await browsers[0].get("/console/")
    assert status == 200 and "everything you need is in chat" in html
    csrf = await browsers[0].csrf("/console/")
    status, _, html = await browsers[0].post(
        "/console/suggestions/1/answer", {"csrf": csrf, "text": "x", "status": "done"}
    )
    assert status == 403 and "Not for your role" in html


async def test_forms_need_the_sessions_csrf_token(
    app: Application, browsers: list[Browser], remote: RemotePlatform
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    author = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, author, "An idea", platform="remote")
    await signed_in(app, browsers[0], "boss")
    await signed_in(app, browsers[1], "boss")
    other_sessions_token = await browsers[1].csrf("/console/suggestions")
    for data in ({}, {"csrf": "forged"}, {"csrf": other_sessions_token}):
        status, _, html = await browsers[0].post(
            f"/console/suggestions/{idea.id}/answer", {**data, "text": "x", "status": "done"}
        )
        assert status == 403 and "security token did not match" in html
    async with app.db.transaction() as session:
        assert (await session.get(Suggestion, idea.id)).status == "new"  # type: ignore[union-attr]


async def test_an_idle_session_ends(app: Application, browsers: list[Browser]) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    await signed_in(app, browsers[0], "boss")
    assert (await browsers[0].get("/console/objectives"))[0] == 200
    async with app.db.transaction() as session:
        await session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(hours=2))
        )
    status, html = await browsers[0].get("/console/objectives")
    assert status == 401 and "Please sign in" in html and "/console in advocacy shell" in html


async def test_a_manager_signs_in_from_chat_answers_and_the_author_hears_in_chat(
    app: Application, browsers: list[Browser], remote: RemotePlatform
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    ann = await make_member(app, "ann", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(
            session, app.sealer, ann, "Faster refunds", platform="remote", anonymous=True
        )
    reply = await app.router.handle(CommandInvoked(actor("boss"), command="console", text=""))
    assert "sent you a sign-in link by direct message" in reply.messages[0].fallback
    assert app.worker is not None
    await app.worker.drain()
    [dm] = [s for s in remote.sent if s.target.recipient == "boss"]
    [button] = dm.message.cards[0].buttons
    assert (await browsers[0].open_link(button.url)).status == 303

    status, html = await browsers[0].get("/console/objectives")
    assert status == 200 and '<img class="chart"' in html
    async with browsers[0].http.get(browsers[0].base + "/console/objectives/chart.png") as png:
        assert png.status == 200 and (await png.read()).startswith(b"\x89PNG")
    status, board = await browsers[0].get("/console/suggestions")
    assert "Faster refunds" in board and "someone anonymous" in board and "Ann" not in board
    csrf = await browsers[0].csrf("/console/suggestions")
    status, location, _ = await browsers[0].post(
        f"/console/suggestions/{idea.id}/answer",
        {"csrf": csrf, "status": "planned", "text": "Next sprint."},
    )
    assert status == 303 and location == "/console/suggestions"
    status, board = await browsers[0].get(location)
    assert f"Answer recorded: #{idea.id} is planned. The author will be told." in board
    status, _, page = await browsers[0].post(
        f"/console/suggestions/{idea.id}/answer",
        {"csrf": csrf, "form": f"answer-{idea.id}", "status": "planed", "text": "Typed by hand."},
    )
    [refused] = re.findall(r'<p class="field-error" role="alert"[^>]*>(.*?)</p>', page)
    assert status == 422 and "Did you mean planned?" in refused and "under_review" in refused
    assert "Typed by hand." in page
    await app.worker.drain()
    told = [s for s in remote.sent if s.target.recipient == "ann"]
    assert told and told[-1].message.cards[0].title == (
        f"Your anonymous suggestion #{idea.id} is now planned"
    )


async def test_a_strategist_approves_a_draft_and_schedules_a_digest(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    async with app.db.transaction() as session:
        draft = await add_content(
            session,
            OPERATOR,
            "https://example.com/draft",
            title="A draft",
            status=ContentStatus.DRAFT,
        )
    await signed_in(app, browsers[0], "dana")
    status, html = await browsers[0].get("/console/content")
    assert status == 200 and "A draft" in html and "Draft queue (1)" in html
    csrf = await browsers[0].csrf("/console/content")
    status, location, _ = await browsers[0].post(
        f"/console/content/{draft.id}/approve", {"csrf": csrf}
    )
    assert status == 303
    status, location, _ = await browsers[0].post(
        "/console/digests",
        {
            "csrf": csrf,
            "name": "Friday picks",
            "kind": "content",
            "audience": "all",
            "cron": "0 16 * * fri",
            "timezone": "Europe/Berlin",
        },
    )
    assert status == 303
    assert "Scheduled &#39;Friday picks&#39;" in (await browsers[0].get(location))[1]
    status, html = await browsers[0].get("/console/digests")
    assert html.count("16:00 CET") + html.count("16:00 CEST") == 5  # the next five firings
    async with app.db.transaction() as session:
        assert (await session.get(ContentItem, draft.id)).status == "approved"  # type: ignore[union-attr]
        assert (await session.scalars(select(Digest.name))).all() == ["Friday picks"]
    status, _, html = await browsers[0].post(
        "/console/digests",
        {"csrf": csrf, "name": "bad", "kind": "content", "cron": "nope", "timezone": "UTC"},
    )
    assert status == 422  # the page again, saying why (a form naming none of its forms: on top)
    [refused] = re.findall(r'<p class="refused" role="alert">(.*?)</p>', html)
    assert "cron" in refused.lower() and 'class="notice"' not in html


async def test_the_cookie_is_secure_when_the_console_is_served_over_https(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    app.settings = replace(app.settings, public_url="https://advocacy.example.com")
    answer = await browsers[0].open_link(await link(app, "boss"), secure=True)
    assert answer.status == 303
    [cookie] = [c for c in answer.headers.getall("Set-Cookie") if c.startswith("advocacy_console=")]
    assert "Secure" in cookie


def board_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="card" id="idea-(\d+)">', html)]


async def test_the_suggestions_board_browses_by_order_status_and_page(
    app: Application, browsers: list[Browser]
) -> None:
    await make_member(app, "boss", role=Role.MANAGER, team="Support")
    await make_member(app, "olga", role=Role.MANAGER, team="Sales")
    ann = await make_member(app, "ann", team="Support", manager="boss")
    sam = await make_member(app, "sam", team="Sales", manager="olga")
    async with app.db.transaction() as session:
        ideas = [
            await file_suggestion(session, app.sealer, ann, f"Idea {n}", platform="remote")
            for n in range(1, 24)
        ]
        elsewhere = await file_suggestion(session, app.sealer, sam, "Sales", platform="remote")
        await vote(session, sam, ideas[0].id)
    newest = [idea.id for idea in reversed(ideas)]
    await signed_in(app, browsers[0], "boss")

    status, html = await browsers[0].get("/console/suggestions")
    assert status == 200 and "Open ideas, newest first (23)" in html
    assert board_ids(html) == newest[:20] and elsewhere.id not in board_ids(html)
    assert "Page 1 of 2" in html
    following = "/console/suggestions?sort=newest&amp;status=open&amp;page=2"
    assert f'href="{following}" rel="next"' in html
    status, html = await browsers[0].get(following.replace("&amp;", "&"))
    assert board_ids(html) == newest[20:] and "Page 2 of 2" in html
    assert "There is no page" not in html
    status, html = await browsers[0].get("/console/suggestions?page=7")
    assert board_ids(html) == newest[20:] and "There is no page 7: these ideas fill 2 pages" in html
    status, html = await browsers[0].get("/console/suggestions?sort=top")
    assert board_ids(html)[0] == ideas[0].id and f"#{ideas[0].id} · 1 vote ·" in html
    assert 'href="/console/suggestions?sort=top&amp;status=planned&amp;page=1"' in html

    csrf = await browsers[0].csrf("/console/suggestions")
    status, location, _ = await browsers[0].post(
        f"/console/suggestions/{ideas[0].id}/answer",
        {"csrf": csrf, "status": "planned", "text": "Yes", "board": "sort=top&page=2"},
    )
    assert location == "/console/suggestions?sort=top&status=open&page=2"
    status, html = await browsers[0].get("/console/suggestions?status=planned")
    assert board_ids(html) == [ideas[0].id] and "Planned ideas, newest first (1)" in html
    assert 'Latest answer: <span dir="auto">Yes</span>' in html
    status, html = await browsers[0].get("/console/suggestions?status=done")
    assert board_ids(html) == [] and "No ideas with this status" in html

    answer = await browsers[0].http.get(
        browsers[0].base + "/console/suggestions?status=planed", allow_redirects=False
    )
    assert answer.status == 303 and answer.headers["Location"] == "/console/suggestions"
    answer.release()
    status, html = await browsers[0].get("/console/suggestions")
    [refused] = re.findall(r'<p class="refused" role="alert">(.*?)</p>', html)
    assert "Did you mean planned?" in refused
