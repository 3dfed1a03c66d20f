"""Attacks on the web console, each over real HTTP against the real server (issue 13): link
scanners spending sign-in links, login CSRF, guessing sign-in tokens, attacker text in
``?notice=``, a period that overflowed into a 500, missing security headers, and a page read
while holding the database. (The console's own behaviour: tests/operations/test_console.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.app import Application
from bot.domain import Role
from bot.plugins import PageInfo
from bot.storage.models import ConsoleLink, ConsoleSession, ContentItem
from bot.storage.types import utcnow
from bot.web import build_web_app
from tests.browser_support import chromium_page, requires_chromium, screenshot
from tests.conftest import make_member
from tests.operations.test_console import Browser, link

ROOT = Path(__file__).resolve().parents[2]
NOTICE = re.compile(r'<p class="(notice|refused)" role="(?:status|alert)">(.*?)</p>', re.S)


@dataclass
class Console:
    base: str
    web_app: web.Application


@pytest.fixture
async def console(app: Application) -> AsyncIterator[Console]:
    web_app = build_web_app(app, run_scheduler=False)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Console(f"http://127.0.0.1:{server.port}", web_app)
    finally:
        await server.close()


@asynccontextmanager
async def browser(console: Console, address: str = "127.0.0.1") -> AsyncIterator[Browser]:
    """A browser of its own (cookie jar) whose requests come from ``address`` (loopback)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
        yield Browser(console.base, http)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def sessions(app: Application) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count(ConsoleSession.id))) or 0)


# ----- headers --------------------------------------------------------------------------------


async def test_every_console_answer_carries_the_security_headers(
    app: Application, console: Console
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    async with browser(console) as person:
        answers = []
        for path in (f"/console/login/{token_of(await link(app, 'boss'))}", "/console/objectives"):
            async with person.http.get(console.base + path, allow_redirects=False) as answer:
                answers.append(answer)
        await person.open_link(await link(app, "boss"))
        csrf = await person.csrf("/console/objectives")
        for method, path, data in (
            ("GET", "/console/objectives", None),
            ("GET", "/console/objectives/chart.png", None),
            ("POST", "/console/sign-out", {"csrf": csrf}),
        ):
            async with person.http.request(
                method, console.base + path, data=data, allow_redirects=False
            ) as answer:
                answers.append(answer)
        async with person.http.get(console.base + "/console/static/console.css") as static:
            pass
    for answer in [*answers, static]:
        policy = answer.headers.get("Content-Security-Policy", "")
        directives = {d.strip() for d in policy.split(";")}
        assert {
            "default-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        } <= directives, (answer.url, policy)
        assert "unsafe-inline" not in policy and "script-src 'none'" in directives
        assert answer.headers.get("X-Content-Type-Options") == "nosniff"
        assert answer.headers.get("X-Frame-Options") == "DENY"
        assert answer.headers.get("Referrer-Policy") == "no-referrer"
    for answer in answers:  # pages, signed in or not, are never kept in a cache
        assert answer.headers.get("Cache-Control") == "no-store", answer.url
    assert static.headers.get("Cache-Control") != "no-store"
    assert [a.status for a in answers] == [200, 401, 200, 200, 303]


# ----- sign-in links --------------------------------------------------------------------------


async def test_a_link_scanner_opening_the_link_leaves_it_usable(
    app: Application, console: Console
) -> None:
    """Mail and chat scanners fetch every link they see (GET, sometimes HEAD); they must not
    spend the link, or the person finds it "already used"."""
    await make_member(app, "boss", role=Role.MANAGER)
    url = await link(app, "boss")
    async with aiohttp.ClientSession() as scanner:
        for method in ("HEAD", "GET", "GET"):
            async with scanner.request(
                method, f"{console.base}/console/login/{token_of(url)}", allow_redirects=False
            ) as answer:
                assert answer.status == 200
                assert "advocacy_console=" not in ",".join(answer.headers.getall("Set-Cookie", []))
    async with app.db.transaction() as session:
        assert await session.scalar(select(ConsoleLink.used_at)) is None
    assert await sessions(app) == 0
    async with browser(console) as person:
        answer = await person.open_link(url)
        assert answer.status == 303 and answer.headers["Location"] == "/console/objectives"
        assert (await person.get("/console/objectives"))[0] == 200


async def test_the_sign_in_page_binds_the_button_to_this_browser(
    app: Application, console: Console
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    async with (
        browser(console) as person,
        person.http.get(
            f"{console.base}/console/login/{token_of(await link(app, 'boss'))}"
        ) as page,
    ):
        html = await page.text()
        [cookie] = page.headers.getall("Set-Cookie")
    assert cookie.startswith("advocacy_signin=")
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie and "Path=/console/login" in cookie
    assert 'method="post" action="/console/login"' in html and "<script" not in html
    [echoed] = re.findall(r'name="signin" value="([^"]+)"', html)
    assert f"advocacy_signin={echoed};" in cookie


async def test_another_site_cannot_sign_a_visitor_in_to_the_attackers_account(
    app: Application, console: Console
) -> None:
    """Login CSRF: the attacker holds a valid link of their own and makes the victim's browser
    open it (a link, an image, a self-submitting form). The victim must not end up signed in as
    the attacker, and the attacker's link is not even spent."""
    await make_member(app, "mallory", role=Role.MANAGER)
    attackers = token_of(await link(app, "mallory"))
    async with browser(console) as attacker:
        _, page = await attacker.get(f"/console/login/{attackers}")
        [attackers_echo] = re.findall(r'name="signin" value="([^"]+)"', page)
    async with browser(console) as victim:
        # A navigation or an <img> to the link: only the page with the button comes back.
        status, _ = await victim.get(f"/console/login/{attackers}")
        assert status == 200
        assert (await victim.get("/console/objectives"))[0] == 401
    async with browser(console) as victim:
        # A form on the attacker's page posting to the console: the victim's browser holds no
        # pre-session cookie for it (SameSite=Strict is never sent cross-site).
        status, _, html = await victim.post(
            "/console/login", {"token": attackers, "signin": attackers_echo}
        )
        assert status == 403 and "Open the link the bot sent you again" in html
        assert (await victim.get("/console/objectives"))[0] == 401
    async with browser(console) as victim:
        # Even with a pre-session cookie, a form sent from another site is refused.
        await victim.get(f"/console/login/{attackers}")
        echo = victim.pre_session()
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            async with victim.http.post(
                console.base + "/console/login",
                data={"token": attackers, "signin": echo},
                headers=headers,
                allow_redirects=False,
            ) as answer:
                assert answer.status == 403, headers
        assert (await victim.get("/console/objectives"))[0] == 401
    assert await sessions(app) == 0
    async with app.db.transaction() as session:
        assert await session.scalar(select(ConsoleLink.used_at)) is None


async def test_every_unusable_link_gets_the_same_answer(app: Application, console: Console) -> None:
    """A guesser must not learn which tokens exist: unknown, expired and used links look alike."""
    await make_member(app, "boss", role=Role.MANAGER)
    used = await link(app, "boss")
    expired = await link(app, "boss", now=utcnow() - timedelta(minutes=11))
    async with browser(console) as person:
        assert (await person.open_link(used)).status == 303
    answers = set()
    async with browser(console) as guesser:
        for token in (token_of(used), token_of(expired), "x" * 43, "x" * 5000):
            await guesser.get(f"/console/login/{token[:100]}")
            status, _, html = await guesser.post(
                "/console/login", {"token": token, "signin": guesser.pre_session()}
            )
            answers.add((status, html))
    assert len(answers) == 1
    [(status, html)] = answers
    assert status == 403 and "cannot be used" in html and "/advocacy console" in html


async def test_failed_sign_ins_are_limited_per_client_and_in_total(
    app: Application, console: Console
) -> None:
    """Before: 2,803 random tokens in 10 s were all looked up and answered. Now a client gets
    429 with Retry-After after its failures in a minute, and so does everyone once the total
    is reached; a refused attempt is not looked up at all."""
    from bot.console.signin import ATTEMPTS  # here: the tests above also run on older code

    now = [1000.0]
    attempts = console.web_app[ATTEMPTS]  # the server's own, with smaller limits and a clock
    attempts.per_client, attempts.everyone, attempts.clock = 3, 5, lambda: now[0]
    await make_member(app, "boss", role=Role.MANAGER)

    async def guess(person: Browser) -> tuple[int, str]:
        await person.get("/console/login/guess")
        async with person.http.post(
            console.base + "/console/login",
            data={"token": "guess-" + "x" * 37, "signin": person.pre_session()},
            allow_redirects=False,
        ) as answer:
            return answer.status, answer.headers.get("Retry-After", "")

    async with browser(console, "127.0.0.2") as first, browser(console, "127.0.0.3") as second:
        assert [await guess(first) for _ in range(3)] == [(403, "")] * 3
        status, retry_after = await guess(first)
        assert status == 429 and 1 <= int(retry_after) <= 60
        # Limited, even a real link from that client waits: nothing is looked up.
        good = await link(app, "boss")
        assert (await first.open_link(good)).status == 429
        # Another client goes on until the total for everyone is reached.
        assert [await guess(second) for _ in range(2)] == [(403, "")] * 2
        status, retry_after = await guess(second)
        assert status == 429 and int(retry_after) >= 1
        now[0] += 61  # a minute later, both may try again, and the link was never spent
        answer = await first.open_link(good)
        assert answer.status == 303


# ----- notices and query parameters -----------------------------------------------------------


async def test_attacker_text_in_the_address_is_never_shown_as_a_notice(
    app: Application, console: Console
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    lure = "Your session expired. Sign in again at https://evil.example/login"
    async with browser(console) as person:
        await person.open_link(await link(app, "boss"))
        for path in ("/console/objectives", "/console/suggestions", "/console/voice"):
            status, html = await person.get(f"{path}?notice={lure.replace(' ', '+')}")
            assert status == 200 and "evil.example" not in html and not NOTICE.search(html)


async def test_a_notice_comes_from_the_server_once_and_a_refusal_looks_like_one(
    app: Application, console: Console
) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    async with browser(console) as person:
        await person.open_link(await link(app, "dana"))
        csrf = await person.csrf("/console/digests")
        form = {"csrf": csrf, "name": "weekly", "kind": "content", "timezone": "UTC"}
        status, location, _ = await person.post("/console/digests", {**form, "cron": "0 9 * * 1"})
        assert (status, location) == (303, "/console/digests")  # nothing in the address
        _, html = await person.get(location)
        assert NOTICE.findall(html) == [("notice", "Scheduled &#39;weekly&#39;.")]
        assert not NOTICE.search((await person.get(location))[1])  # shown once
        status, _, html = await person.post(
            "/console/digests", {**form, "name": "broken", "cron": "61 9 * * *"}
        )
        [(kind, text)] = NOTICE.findall(html)  # the page again, the form naming none of its own
        assert status == 422 and kind == "refused" and text.startswith("<strong>Not done:</strong>")
        assert "Scheduled" not in text


@pytest.mark.parametrize("since", ["999999999d", "99999999999999999999y", "9" * 5000 + "d"])
async def test_a_huge_period_is_refused_beside_the_period_not_a_500(
    app: Application, console: Console, since: str
) -> None:
    """Before: ?since=999999999d overflowed the date arithmetic, a 500 on three pages. Now the
    page is shown for its usual period, the reason beside the period's field."""
    await make_member(app, "boss", role=Role.MANAGER)
    async with browser(console) as person:
        await person.open_link(await link(app, "boss"))
        for page in ("objectives", "voice"):
            status, html = await person.get(f"/console/{page}?since={since}")
            [text] = re.findall(
                r'<p class="field-error" role="alert" id="since-error">(.*?)</p>', html
            )
            assert status == 422 and "100 years" in text and not NOTICE.search(html)
            assert 'aria-describedby="since-error"' in html and f'value="{since}"' not in html
        for chart in ("objectives", "voice"):
            async with person.http.get(
                f"{console.base}/console/{chart}/chart.png?since={since}"
            ) as answer:
                assert answer.status == 400 and "100 years" in await answer.text()


async def test_bad_page_numbers_show_a_page(app: Application, console: Console) -> None:
    await make_member(app, "admin", role=Role.ADMIN)
    async with browser(console) as person:
        await person.open_link(await link(app, "admin"))
        for value in ("abc", "-3", "99999999999999999999999", "²", ""):
            for page in ("content", "deliveries"):
                status, _ = await person.get(f"/console/{page}?page={value}")
                assert status == 200, (page, value)


def test_the_cli_refuses_a_huge_period_in_one_line(tmp_path: Path) -> None:
    """Before: `report objectives --since 999999999d` and `rollup --since 999999999d` ended in
    an OverflowError traceback."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
        "ADVOCACY_DATA_DIR": str(tmp_path / "data"),
        "ADVOCACY_SECRET_KEY": "console-security-key-fc34601d129677dbdb5f1da1",
    }
    for command in (["report", "objectives"], ["rollup"]):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *command, "--since", "999999999d"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Error: '999999999d' is longer than the longest period, 100 years")


# ----- no network call inside a transaction ---------------------------------------------------


async def test_reading_a_page_for_the_console_holds_no_database_transaction(
    app: Application, console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the preview held SQLite's writer lock for the whole page fetch (a 10 s page made
    the webhook and the CLI wait 10 s; three previews at once gave the webhook a 500). The page
    server here notes how many transactions the console has open while it is being read (the
    outbox worker's own, which come and go in the background, are not the console's)."""
    open_transactions = [0]
    real_transaction = app.db.transaction
    console_code = str(ROOT / "bot" / "console")

    @asynccontextmanager
    async def counted() -> AsyncIterator[object]:
        by_console = any(f.filename.startswith(console_code) for f in traceback.extract_stack())
        async with real_transaction() as session:
            open_transactions[0] += by_console
            try:
                yield session
            finally:
                open_transactions[0] -= by_console

    monkeypatch.setattr(app.db, "transaction", counted)
    seen_while_reading: list[int] = []

    async def article(request: web.Request) -> web.Response:
        seen_while_reading.append(open_transactions[0])
        # A write from elsewhere (the webhook, the CLI) while the page is still being read.
        async with app.db.transaction() as session:
            other = f"https://example.com/other-{len(seen_while_reading)}"
            session.add(ContentItem(url=other, url_key=other, title="Written meanwhile"))
        return web.Response(
            text="<html><head><title>Slow article</title></head></html>", content_type="text/html"
        )

    page_app = web.Application()
    page_app.router.add_get("/article", article)
    page_server = TestServer(page_app, host="127.0.0.1")
    await page_server.start_server()

    async def read_page(url: str) -> PageInfo:
        async with aiohttp.ClientSession() as client, client.get(url) as answer:
            title = re.search(r"<title>(.*?)</title>", await answer.text())
            return PageInfo(url=url, title=title.group(1) if title else "")

    app.extensions.url_enricher = read_page
    address = f"http://127.0.0.1:{page_server.port}/article"
    try:
        await make_member(app, "dana", role=Role.STRATEGIST)
        async with browser(console) as person:
            await person.open_link(await link(app, "dana"))
            status, html = await person.get(f"/console/content?preview={address}")
            assert status == 200 and 'value="Slow article"' in html
            csrf = await person.csrf("/console/content")
            status, location, _ = await person.post(
                "/console/content", {"csrf": csrf, "url": address}
            )
            assert status == 303
            _, html = await person.get(location)
            assert "Added &#39;Slow article&#39;" in html
    finally:
        await page_server.close()
    assert seen_while_reading == [0, 0]


@requires_chromium
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_in_a_real_browser_another_sites_page_cannot_sign_the_visitor_in(
    app: Application, console: Console
) -> None:
    """Login CSRF in Chromium: a page on another site (127.0.0.2) first sends the visitor's
    browser to the attacker's own sign-in link, then posts the sign-in form itself. Before, the
    first step alone signed the visitor in as the attacker."""
    await make_member(app, "mallory", role=Role.MANAGER)
    await make_member(app, "victor", role=Role.MANAGER)
    attackers = token_of(await link(app, "mallory"))
    async with browser(console) as attacker:  # a value the sign-in page echoes, from another link
        _, page_html = await attacker.get(f"/console/login/{token_of(await link(app, 'mallory'))}")
        echo = "".join(re.findall(r'name="signin" value="([^"]+)"', page_html))

    async def go_there(_: web.Request) -> web.Response:
        target = f"{console.base}/console/login/{attackers}"
        return web.Response(
            text=f'<meta http-equiv="refresh" content="0;url={target}">', content_type="text/html"
        )

    async def post_there(_: web.Request) -> web.Response:
        return web.Response(
            text=f'<form method="post" action="{console.base}/console/login">'
            f'<input name="token" value="{attackers}"><input name="signin" value="{echo}">'
            "</form><script>document.forms[0].submit()</script>",
            content_type="text/html",
        )

    evil = web.Application()
    evil.router.add_get("/go", go_there)
    evil.router.add_get("/post", post_there)
    evil_server = TestServer(evil, host="127.0.0.2")
    await evil_server.start_server()
    evil_base = f"http://127.0.0.2:{evil_server.port}"
    try:
        async with chromium_page(base_url=console.base) as page:
            # The visitor once opened a sign-in page of their own: a pre-session cookie is set.
            await page.goto(f"/console/login/{token_of(await link(app, 'victor'))}")
            await page.goto(f"{evil_base}/go")
            await page.wait_for_url(f"**/console/login/{attackers}")
            await page.get_by_role("button", name="Sign in").wait_for()
            await page.goto(f"{evil_base}/post")
            await page.wait_for_url("**/console/login")
            assert await page.get_by_role("heading", name="Sign in from the link itself").count()
            await screenshot(page, "console-cross-site-sign-in-refused")
            answer = await page.goto("/console/objectives")
            assert answer is not None and answer.status == 401
    finally:
        await evil_server.close()
    assert await sessions(app) == 0


async def test_the_app_wide_middleware_puts_the_headers_on_every_answer() -> None:
    """bot/console/headers.py's middleware, for build_web_app: JSON, redirects raised as
    exceptions and errors get the headers too, with a policy that allows nothing to run."""
    from bot.console.headers import security_headers  # here: the tests above also run on older code

    async def json_answer(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound("https://www.linkedin.com/")

    app = web.Application(middlewares=[security_headers])
    app.router.add_get("/healthz", json_answer)
    app.router.add_get("/s/x", redirect)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as client:
            for path, status in (("/healthz", 200), ("/s/x", 302), ("/nowhere", 404)):
                url = f"http://127.0.0.1:{server.port}{path}"
                async with client.get(url, allow_redirects=False) as answer:
                    assert answer.status == status
                    assert answer.headers["X-Content-Type-Options"] == "nosniff"
                    assert answer.headers["X-Frame-Options"] == "DENY"
                    assert answer.headers["Referrer-Policy"] == "no-referrer"
                    policy = answer.headers["Content-Security-Policy"]
                    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    finally:
        await server.close()
