"""Page fetching reaches public addresses only, however the address is spelled (fullwidth digits,
ideographic full stops, circled numbers, old numeric forms, IPv4 inside IPv6), whatever DNS
answers (a private address, or a public one first and a private one next) and after every
redirect; through fetch_page, the real CLI and feed polling. And a slow page never holds the
database: content add and feed polling fetch first, then write in a short transaction."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy import select
from yarl import URL

from bot.app import Application
from bot.domain import Role
from bot.errors import InvalidInput
from bot.events import CommandInvoked
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.storage.models import ContentFeed, ContentItem
from content.curated import fetch as fetch_module
from content.curated.addresses import legacy_ipv4, why_not_public
from content.curated.feeds import add_feed, poll_feed
from content.curated.fetch import PublicOnlyConnector, fetch_page
from tests.conftest import actor, make_member
from tests.fake_server import LoopbackServer

SECRET_PAGE = "<html><head><title>Internal admin</title></head></html>"
ARTICLE = (
    "<html><head><title>Public article</title>"
    '<meta property="og:description" content="Worth reading."></head></html>'
)
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Inside</title>
<item><title>Internal only</title><link>https://example.com/internal</link></item>
</channel></rss>"""

# Every way of writing "this machine" that a check on the URL's text alone could miss.
LOOPBACK_SPELLINGS = (
    "１２７.０.０.１",  # fullwidth digits: NFKC makes them ASCII after a literal check
    "127。0。0。1",  # ideographic full stops: IDNA reads them as dots
    "⑫⑦.0.0.1",  # circled numbers
    "127．0．0．1",  # fullwidth full stops
    "2130706433",  # one decimal number
    "0x7f000001",  # one hexadecimal number
    "0x7f.1",  # hexadecimal, short form
    "127.1",  # short form
    "0177.0.0.1",  # octal
    "127.0.0.1.",  # trailing dot
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",  # IPv4-compatible IPv6
    "[64:ff9b::7f00:1]",  # NAT64
    "[2002:7f00:1::]",  # 6to4
    "[::1]",
    "0.0.0.0",  # reaches this machine on Linux
    "0",
    "[::]",
    "localhost",  # a name that resolves to loopback
    "ＬＯＣＡＬＨＯＳＴ",
)
UNICODE_SPELLINGS = LOOPBACK_SPELLINGS[:3]


def _dual_stack_sockets() -> list[socket.socket]:
    """One free port on 127.0.0.1 and on ::1, so every spelling reaches the same server."""
    for _ in range(20):
        v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        v4.bind(("127.0.0.1", 0))
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            v6.bind(("::1", v4.getsockname()[1]))
        except OSError:
            v4.close()
            v6.close()
            continue
        return [v4, v6]
    raise RuntimeError("no free port on both 127.0.0.1 and ::1")


@dataclass
class Inside:
    """A page on this machine that the bot must never read: every request to it is counted."""

    port: int
    hits: list[str] = field(default_factory=list)

    def url(self, host: str, path: str = "/admin") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def inside() -> AsyncIterator[Inside]:
    sockets = _dual_stack_sockets()
    site = Inside(port=sockets[0].getsockname()[1])

    async def anything(request: web.Request) -> web.Response:
        site.hits.append(str(request.url))
        if request.path.endswith(".rss"):
            return web.Response(text=RSS, content_type="application/rss+xml")
        return web.Response(text=SECRET_PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    for sock in sockets:
        await web.SockSite(runner, sock).start()
    try:
        yield site
    finally:
        await runner.cleanup()


class FakeDNS(AbstractResolver):
    """DNS is outside this machine: names answer what the test says, in turn (the last answer
    repeats), as a rebinding attacker's server would; other names (localhost) as the system
    answers them."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {name: list(addresses) for name, addresses in answers.items()}
        self.system = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.answers.get(host)
        if not addresses:
            return await self.system.resolve(host, port, family)
        address = addresses.pop(0) if len(addresses) > 1 else addresses[0]
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [
            ResolveResult(hostname=host, host=address, port=port, family=kind, proto=0, flags=0)
        ]

    async def close(self) -> None:
        await self.system.close()


@dataclass
class Public:
    """A site that stands for the public internet: it listens on 127.0.0.2, which the test
    (and only the test) counts as public, under the name news.example."""

    port: int
    redirects: dict[str, str] = field(default_factory=dict)  # path: where it sends the reader

    def url(self, path: str) -> str:
        return f"http://news.example:{self.port}{path}"


@pytest.fixture
async def public(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Public]:
    real_public = fetch_module._public
    monkeypatch.setattr(
        fetch_module, "_public", lambda address: address == "127.0.0.2" or real_public(address)
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.2", 0))
    site = Public(port=sock.getsockname()[1])

    async def page(request: web.Request) -> web.Response:
        if request.path in site.redirects:
            raise web.HTTPFound(site.redirects[request.path])
        return web.Response(text=ARTICLE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield site
    finally:
        await runner.cleanup()


def assert_refused(message: str) -> None:
    assert "\n" not in message
    assert "private address" in message or "old numeric spelling" in message, message


# ----- which addresses are public ------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),  # IPv4-mapped: judged as the IPv4 address it reaches
        ("64:ff9b::808:808", None),  # NAT64 of a public address (IPv6-only networks)
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared address space"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # reserved for future use; Python files it as private
        ("fc00::1", "private"),
        ("fec0::1", "site-local"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of the metadata address
        ("64:ff9b:1::a00:1", "a local NAT64 address"),
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo tunnel address"),
        ("::127.0.0.1", "IPv4 written in a deprecated IPv6 form"),
        ("::ffff:0:7f00:1", "IPv4 written in a deprecated IPv6 form"),
    ],
)
def test_an_address_is_judged_by_what_it_reaches(address: str, kind: str | None) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == kind


def test_old_numeric_spellings_are_read_as_the_c_library_reads_them() -> None:
    for spelling in ("2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1", "0"):
        assert legacy_ipv4(spelling) is not None, spelling
    for name in ("127.0.0.1", "example.com", "deadbeef", "1.2.3.4.5", "cafe.example"):
        assert legacy_ipv4(name) is None, name


# ----- fetch_page ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_no_spelling_of_this_machine_is_fetched(inside: Inside, host: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await fetch_page(inside.url(host))
    assert_refused(refused.value.message)
    assert inside.hits == []


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_the_connection_itself_refuses_every_spelling(inside: Inside, host: str) -> None:
    """The connector checks the address each socket is given, without the early check on the
    URL's text: nothing reaches the page whatever that check lets through."""
    async with aiohttp.ClientSession(connector=PublicOnlyConnector()) as session:
        with pytest.raises((aiohttp.ClientError, OSError)):
            async with session.get(inside.url(host)):
                pass
    assert inside.hits == []


async def test_the_peer_is_checked_again_once_connected(inside: Inside) -> None:
    """The second line of defence: with the socket check switched off, the address the socket
    is connected to refuses the connection before a byte of the request is sent."""

    class PeerCheckOnly(PublicOnlyConnector):
        def _socket_for(self, addr_info: Any) -> socket.socket:
            return socket.socket(*addr_info[:3])

    for host in (*UNICODE_SPELLINGS, "localhost", "0.0.0.0"):
        connector = PeerCheckOnly()
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises((aiohttp.ClientError, OSError)):
                async with session.get(inside.url(host)):
                    pass
        assert connector.refusal is not None and "loopback" in connector.refusal
    assert inside.hits == []


async def test_a_name_that_resolves_to_a_private_address_is_refused(inside: Inside) -> None:
    dns = FakeDNS({"intranet.example": ["127.0.0.1"], "metadata.example": ["169.254.169.254"]})
    for name in ("intranet.example", "metadata.example"):
        with pytest.raises(InvalidInput) as refused:
            await fetch_page(inside.url(name), resolver=dns)
        assert refused.value.message.startswith(f"{name} leads to ")
        assert_refused(refused.value.message)
    assert inside.hits == []


async def test_the_public_stand_in_is_read(public: Public) -> None:
    """The fixtures' premise: news.example on 127.0.0.2 counts as public, so the refusals below
    are about where the reader is sent, not about the site itself."""
    dns = FakeDNS({"news.example": ["127.0.0.2"]})
    fetched = await fetch_page(public.url("/article"), resolver=dns)
    assert b"Public article" in fetched.body


@pytest.mark.parametrize(
    "target",
    [*(f"http://{host}:{{port}}/admin" for host in LOOPBACK_SPELLINGS), "http://169.254.169.254/"],
)
async def test_a_public_page_that_redirects_inside_is_refused(
    inside: Inside, public: Public, target: str
) -> None:
    public.redirects["/story"] = target.format(port=inside.port)
    with pytest.raises(InvalidInput) as refused:
        await fetch_page(public.url("/story"), resolver=FakeDNS({"news.example": ["127.0.0.2"]}))
    assert_refused(refused.value.message)
    assert inside.hits == []


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://news.example/x", "gopher://127.0.0.1:70/"]
)
async def test_a_redirect_to_another_scheme_is_refused(public: Public, target: str) -> None:
    public.redirects["/story"] = target
    with pytest.raises(InvalidInput) as refused:
        await fetch_page(public.url("/story"), resolver=FakeDNS({"news.example": ["127.0.0.2"]}))
    assert "is not an http:// or https:// address" in refused.value.message


async def test_dns_rebinding_is_refused_on_the_connection_it_aims_at(
    inside: Inside, public: Public
) -> None:
    """news.example answers a public address, then loopback: the page redirects to the same
    name on the inside port, and the second connection is refused on the address it gets."""
    public.redirects["/story"] = f"http://news.example:{inside.port}/admin"
    dns = FakeDNS({"news.example": ["127.0.0.2", "127.0.0.1"]})
    with pytest.raises(InvalidInput) as refused:
        await fetch_page(public.url("/story"), resolver=dns)
    assert refused.value.message.startswith("news.example leads to 127.0.0.1")
    assert inside.hits == []


async def test_a_proxy_in_the_environment_is_not_used(
    inside: Inside, public: Public, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(variable, inside.url("127.0.0.1", ""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    fetched = await fetch_page(
        public.url("/article"), resolver=FakeDNS({"news.example": ["127.0.0.2"]})
    )
    assert b"Public article" in fetched.body
    assert inside.hits == []


async def test_private_addresses_are_read_when_the_operator_allows_them(inside: Inside) -> None:
    """CONTENT_FETCH_ALLOW_PRIVATE (tests, intranets) still reads pages on this machine."""
    fetched = await fetch_page(inside.url("１２７.０.０.１"), allow_private=True)
    assert b"Internal admin" in fetched.body
    assert len(inside.hits) == 1


# ----- feed polling ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", UNICODE_SPELLINGS)
async def test_feed_polling_refuses_a_feed_on_this_machine(
    app: Application, inside: Inside, host: str
) -> None:
    feed = await add_feed(app.db, OPERATOR, inside.url(host, "/feed.rss"))
    result = await poll_feed(app.db, feed.id)
    assert result.error is not None and result.drafts == 0
    assert_refused(result.error)
    async with app.db.transaction() as session:
        assert list(await session.scalars(select(ContentItem))) == []
        stored = await session.get(ContentFeed, feed.id)
    assert stored is not None and stored.last_error == result.error
    assert inside.hits == []


# ----- chat ----------------------------------------------------------------------------------


async def test_content_add_in_chat_does_not_preview_a_page_on_this_machine(
    app: Application, inside: Inside
) -> None:
    """``/content add URL`` fills the form from the page; for a page inside, the form is empty."""
    await make_member(app, "dana", role=Role.STRATEGIST)
    for host in UNICODE_SPELLINGS:
        reply = await app.router.handle(
            CommandInvoked(actor("dana"), command="content", text=f"add {inside.url(host)}")
        )
        assert reply.form is not None
        fields = {field.name: field.initial for field in reply.form.fields}
        assert fields["url"] == inside.url(host) and fields["title"] == ""
    assert inside.hits == []


# ----- the real CLI ----------------------------------------------------------------------------


async def advocacy(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def cli_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CONTENT_FETCH_ALLOW_PRIVATE", "DATABASE_SCHEMA", "LOG_LEVEL")
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
        ADVOCACY_DATA_DIR=str(tmp_path / "data"),
        ADVOCACY_SECRET_KEY="ssrf-key-0b90bc34f12c80e05463478c",
        **extra,
    )
    return env


async def test_content_add_on_the_cli_refuses_a_page_on_this_machine(
    inside: Inside, tmp_path: Path
) -> None:
    env = cli_environment(tmp_path)
    for host in UNICODE_SPELLINGS:
        code, _, err = await advocacy(env, tmp_path, "content", "add", inside.url(host))
        assert code != 0
        [line] = [line for line in err.splitlines() if line.strip()]
        assert "127.0.0.1 is a private address (loopback)" in line and "Give a --title" in line
    code, out, _ = await advocacy(env, tmp_path, "content", "list", "--json")
    assert code == 0 and json.loads(out) == []
    assert inside.hits == []


async def test_feed_poll_on_the_cli_refuses_a_feed_on_this_machine(
    inside: Inside, tmp_path: Path
) -> None:
    env = cli_environment(tmp_path)
    url = inside.url("１２７.０.０.１", "/feed.rss")
    code, _, err = await advocacy(env, tmp_path, "content", "feeds", "add", url)
    assert code == 0, err
    code, out, err = await advocacy(env, tmp_path, "content", "feeds", "poll")
    assert code == 2
    assert out.strip() == f"{url}: error: 127.0.0.1 is a private address (loopback); " + (
        "the bot only fetches public pages (an intranet page? an admin can set "
        "CONTENT_FETCH_ALLOW_PRIVATE=true)."
    )
    code, out, _ = await advocacy(env, tmp_path, "content", "drafts", "--json")
    assert json.loads(out) == []
    assert inside.hits == []


# ----- a slow page never holds the database ------------------------------------------------


@dataclass
class SlowPage:
    """A page that answers only when the test releases it; ``asked`` is set once it is asked."""

    port: int
    asked: asyncio.Event
    release: asyncio.Event

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@asynccontextmanager
async def slow_page(body: Callable[[web.Request], web.Response]) -> AsyncIterator[SlowPage]:
    asked, release = asyncio.Event(), asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        asked.set()
        await release.wait()
        return body(request)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with LoopbackServer(app) as server:
        try:
            yield SlowPage(URL(server.url).port or 0, asked, release)
        finally:
            release.set()  # before the server closes: closing waits for requests in flight


async def first_of(event: asyncio.Event, other: asyncio.Future[Any] | asyncio.Task[Any]) -> None:
    """Wait until ``event`` is set, failing at once if ``other`` finishes first (no time-out:
    the order of events decides)."""
    waiter = asyncio.ensure_future(event.wait())
    done, _ = await asyncio.wait({waiter, other}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        raise AssertionError(f"finished before the page was asked for: {other.result()!r}")


def settings_environment(app: Application, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment for the test's own database (SQLite file or PostgreSQL schema)."""
    env = cli_environment(tmp_path, **extra)
    env["DATABASE_URL"] = app.settings.database_url
    if app.settings.database_schema:
        env["DATABASE_SCHEMA"] = app.settings.database_schema
    return env


async def test_content_add_reads_a_slow_page_without_holding_the_database(
    app: Application, tmp_path: Path
) -> None:
    """While ``advocacy content add`` waits for a page, another connection writes at once;
    only then does the page answer, and the CLI stores what it read."""
    article = web.Response(text=ARTICLE, content_type="text/html")
    async with slow_page(lambda request: article) as page:
        env = settings_environment(app, tmp_path, CONTENT_FETCH_ALLOW_PRIVATE="true")
        adding = asyncio.ensure_future(advocacy(env, tmp_path, "content", "add", page.url("/a")))
        await first_of(page.asked, adding)
        async with app.db.transaction() as session:
            await add_objective(session, OPERATOR, "fast", "Reply fast")
        assert not adding.done()  # the write went through while the page was still loading
        page.release.set()
        code, out, err = await adding
    assert code == 0, err
    assert "Added #1 'Public article'" in out
    async with app.db.transaction() as session:
        [item] = list(await session.scalars(select(ContentItem)))
    assert item.summary == "Worth reading."


async def test_feed_polling_reads_a_slow_feed_without_holding_the_database(
    app: Application,
) -> None:
    """The server's feed job and, say, the webhook share one database: while a feed is read,
    a write to the same feed's row goes through at once."""
    rss = web.Response(text=RSS, content_type="application/rss+xml")
    async with slow_page(lambda request: rss) as page:
        feed = await add_feed(app.db, OPERATOR, page.url("/feed.rss"))
        polling = asyncio.ensure_future(poll_feed(app.db, feed.id, allow_private=True))
        await first_of(page.asked, polling)
        async with app.db.transaction() as session:
            stored = await session.get(ContentFeed, feed.id)
            assert stored is not None
            stored.topics = ["support"]
            await add_objective(session, OPERATOR, "fast", "Reply fast")
        assert not polling.done()
        page.release.set()
        result = await polling
    assert (result.drafts, result.error) == (1, None)
    async with app.db.transaction() as session:
        stored = await session.get(ContentFeed, feed.id)
    assert stored is not None and stored.title == "Inside" and stored.topics == ["support"]
