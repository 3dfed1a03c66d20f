"""Curated content: reading pages safely, feeds into the draft queue, curation in chat and the
CLI, the content digest's ranking, and share links with UTM parameters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from aiohttp import web
from click.testing import CliRunner
from sqlalchemy import select

from bot.app import Application
from bot.cli.main import cli
from bot.compose import actions
from bot.domain import ContentStatus, FeedbackKind, Role
from bot.errors import InvalidInput
from bot.events import ActionInvoked, CommandInvoked, FormSubmitted
from bot.messages import LinkButton
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.feedback import record_feedback
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.storage.models import ContentFeed, ContentItem, Objective
from bot.storage.types import utcnow
from content.curated import fetch as fetch_module
from content.curated.feeds import add_feed, poll_feed
from content.curated.fetch import MAX_BYTES, fetch_page
from content.curated.metadata import page_info
from tests.conftest import actor, make_member
from tests.fake_server import LoopbackServer
from tests.fakes import RemotePlatform

ARTICLE = """<!doctype html><html><head><title>Fallback title</title>
<meta property="og:title" content="How we answer &amp; keep promises">
<meta property="og:description" content="Our median reply is now 52 minutes.">
<meta property="og:image" content="/img/cover.png">
<meta property="og:url" content="https://evil.example/elsewhere">
</head><body>Hello</body></html>"""
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Support blog</title>
<item><title>Faster replies</title><link>{base}/posts/1</link>
<description>&lt;p&gt;How we did it&lt;/p&gt;</description>
<pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate></item>
<item><title>Onboarding checklist</title><link>{base}/posts/2?utm_source=rss</link></item>
<item><title>Onboarding checklist (again)</title><link>{base}/posts/2</link></item>
</channel></rss>"""


@pytest.fixture
async def site() -> AsyncIterator[tuple[str, dict[str, int]]]:
    hits = {"feed": 0, "not_modified": 0}

    async def article(request: web.Request) -> web.Response:
        return web.Response(text=ARTICLE, content_type="text/html")

    async def feed(request: web.Request) -> web.Response:
        hits["feed"] += 1
        if request.headers.get("If-None-Match") == '"v1"':
            hits["not_modified"] += 1
            return web.Response(status=304)
        base = f"http://127.0.0.1:{request.url.port}"
        return web.Response(
            text=RSS.format(base=base), content_type="application/rss+xml", headers={"ETag": '"v1"'}
        )

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (3 * MAX_BYTES), content_type="text/html")

    async def to_article(request: web.Request) -> web.Response:
        raise web.HTTPFound("/article")

    async def to_private(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data")

    app = web.Application()
    app.router.add_get("/article", article)
    app.router.add_get("/feed.rss", feed)
    app.router.add_get("/big", big)
    app.router.add_get("/to-private", to_private)
    app.router.add_get("/redirect", to_article)
    # Its own thread: CLI tests block the test's loop.
    async with LoopbackServer(app, own_thread=True) as server:
        yield server.url, hits


# ----- reading pages ---------------------------------------------------------------------------


async def test_a_page_gives_its_title_summary_and_image(site: tuple[str, dict]) -> None:
    base, _ = site
    info = page_info(await fetch_page(f"{base}/redirect", allow_private=True))
    assert info.title == "How we answer & keep promises"
    assert info.summary == "Our median reply is now 52 minutes."
    assert info.image_url == f"{base}/img/cover.png"
    assert info.url == f"{base}/article"  # where it was read, not what the page claims


async def test_private_addresses_and_other_schemes_are_refused(site: tuple[str, dict]) -> None:
    base, _ = site
    port = base.rsplit(":", 1)[1]
    for url in (
        f"{base}/article",
        f"http://localhost:{port}/article",
        "ftp://example.com/x",
        "http://[::1]/x",
        "http://10.0.0.8/x",
    ):
        with pytest.raises(InvalidInput) as raised:
            await fetch_page(url)
        assert "private" in raised.value.message or "http" in raised.value.message


async def test_a_redirect_to_a_private_address_is_refused(
    site: tuple[str, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test site is on loopback, so let it through by name while every other private
    address stays refused: the redirect to the cloud metadata address must still be stopped."""
    base, _ = site
    real_public = fetch_module._public
    monkeypatch.setattr(
        fetch_module, "_public", lambda address: address == "127.0.0.1" or real_public(address)
    )
    with pytest.raises(InvalidInput) as redirected:
        await fetch_page(f"{base}/to-private")
    assert "169.254.169.254" in redirected.value.message
    assert "private" in redirected.value.message


async def test_a_page_is_read_up_to_the_size_cap(site: tuple[str, dict]) -> None:
    base, _ = site
    fetched = await fetch_page(f"{base}/big", allow_private=True)
    assert len(fetched.body) == MAX_BYTES


def test_content_add_without_a_title_reads_the_page(
    cli_env: dict, site: tuple[str, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = site
    monkeypatch.setenv("CONTENT_FETCH_ALLOW_PRIVATE", "true")
    result = CliRunner().invoke(cli, ["content", "add", f"{base}/article", "--x", "Read this"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(CliRunner().invoke(cli, ["content", "list", "--json"]).output)
    assert item["title"] == "How we answer & keep promises"
    monkeypatch.setenv("CONTENT_FETCH_ALLOW_PRIVATE", "false")
    refused = CliRunner().invoke(cli, ["content", "add", f"{base}/other"])
    assert refused.exit_code != 0 and "Give a --title" in refused.output


# ----- feeds -------------------------------------------------------------------------------------


async def test_a_feed_fills_the_draft_queue_once(app: Application, site: tuple[str, dict]) -> None:
    base, hits = site
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "fast", "Reply fast")
    feed = await add_feed(
        app.db, OPERATOR, f"{base}/feed.rss", objective_key="fast", topics=("support",)
    )
    first = await poll_feed(app.db, feed.id, allow_private=True)
    assert (first.drafts, first.already, first.error) == (2, 1, None)
    async with app.db.transaction() as session:
        drafts = list(await session.scalars(select(ContentItem).order_by(ContentItem.id)))
        stored = await session.get(ContentFeed, feed.id)
    assert [d.status for d in drafts] == [ContentStatus.DRAFT] * 2
    assert drafts[0].summary == "How we did it" and drafts[0].topics == ["support"]
    assert drafts[0].published_at is not None and drafts[0].feed_id == feed.id
    assert stored is not None and stored.title == "Support blog" and stored.etag == '"v1"'
    second = await poll_feed(app.db, feed.id, allow_private=True)
    assert (second.drafts, hits["not_modified"]) == (0, 1)  # a conditional request: 304


async def test_a_broken_feed_is_reported_not_raised(
    app: Application, site: tuple[str, dict]
) -> None:
    base, _ = site
    feed = await add_feed(app.db, OPERATOR, f"{base}/missing.rss")
    result = await poll_feed(app.db, feed.id, allow_private=True)
    assert result.error and "404" in result.error
    async with app.db.transaction() as session:
        stored = await session.get(ContentFeed, feed.id)
    assert stored is not None and stored.last_error == result.error


# ----- curation in chat ---------------------------------------------------------------------------


async def draft(app: Application, url: str = "https://example.com/d") -> ContentItem:
    async with app.db.transaction() as session:
        return await add_content(
            session, OPERATOR, url, title="A draft", status=ContentStatus.DRAFT, source="feed"
        )


async def test_strategists_approve_reject_and_edit_drafts_in_chat(app: Application) -> None:
    await make_member(app, "dana", role=Role.STRATEGIST)
    await make_member(app, "alice")
    first, second = await draft(app), await draft(app, "https://example.com/e")
    reply = await app.router.handle(CommandInvoked(actor("dana"), command="content", text="drafts"))
    cards = reply.messages[0].cards
    assert len(cards) == 3 and [b.label for b in cards[1].buttons][:3] == [
        "Approve",
        "Reject",
        "Edit",
    ]
    refused = await app.router.handle(
        CommandInvoked(actor("alice"), command="content", text="drafts")
    )
    assert refused.error and "strategists" in refused.error
    await app.router.handle(
        ActionInvoked(actor("dana"), action_id=actions.CONTENT_APPROVE, value={"content": first.id})
    )
    await app.router.handle(
        ActionInvoked(actor("dana"), action_id=actions.CONTENT_REJECT, value={"content": second.id})
    )
    form = (
        await app.router.handle(
            ActionInvoked(
                actor("dana"), action_id=actions.CONTENT_EDIT, value={"content": first.id}
            )
        )
    ).form
    assert form is not None
    saved = await app.router.handle(
        FormSubmitted(
            actor("dana"),
            form_id=form.form_id,
            context=dict(form.context),
            values={
                "title": "Better title",
                "summary": "",
                "linkedin": "Proud of this",
                "x": "x" * 300,
                "objective": "",
                "topics": "support",
                "expires": "10",
            },
        )
    )
    assert saved.error and "x text has 300 characters" in saved.error
    await app.router.handle(
        FormSubmitted(
            actor("dana"),
            form_id=form.form_id,
            context=dict(form.context),
            values={
                "title": "Better title",
                "summary": "",
                "linkedin": "Proud of this",
                "x": "Short and sweet",
                "objective": "",
                "topics": "support",
                "expires": "10",
            },
        )
    )
    async with app.db.transaction() as session:
        items = {i.id: i for i in await session.scalars(select(ContentItem))}
    assert items[first.id].status == ContentStatus.APPROVED
    assert items[second.id].status == ContentStatus.REJECTED
    assert items[first.id].title == "Better title"
    assert items[first.id].share_texts == {"linkedin": "Proud of this", "x": "Short and sweet"}
    assert items[first.id].expires_at is not None


def test_drafts_are_reviewed_from_the_cli(cli_env: dict) -> None:
    runner = CliRunner()
    assert "No drafts" in runner.invoke(cli, ["content", "drafts"]).output
    import asyncio

    from bot.config import Settings

    async def seed() -> None:
        from bot.app import open_application

        async with open_application(Settings.from_env(), with_adapters=False) as app:
            await draft(app)

    asyncio.run(seed())
    [row] = json.loads(runner.invoke(cli, ["content", "drafts", "--json"]).output)
    assert runner.invoke(cli, ["content", "approve", str(row["id"])]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["content", "drafts", "--json"]).output) == []
    assert runner.invoke(cli, ["content", "approve", "999"]).exit_code != 0


# ----- ranking and share links --------------------------------------------------------------------


async def test_the_content_digest_ranks_by_priority_freshness_and_reception(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "alice")
    reader = await make_member(app, "reader")
    now = utcnow()
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "top", "Top promise")
        await add_objective(session, OPERATOR, "low", "Low promise")
        objectives = {o.key: o for o in await session.scalars(select(Objective))}
        objectives["top"].priority = 5
        items: dict[str, ContentItem] = {}
        for key, objective, age, topics in (
            ("old-top", "top", 20, []),
            ("fresh-top", "top", 1, []),
            ("liked-topic", "low", 3, ["support"]),
            ("plain", "low", 3, []),
            ("fresh-plain", "low", 0, []),
            ("disliked-topic", "low", 0, ["events"]),
            # Earlier items, outside the digest's window, that employees already judged:
            ("past-support", None, 200, ["support"]),
            ("past-events", None, 200, ["events"]),
        ):
            item = await add_content(
                session,
                OPERATOR,
                f"https://example.com/{key}",
                title=key,
                objective_key=objective,
                topics=topics,
            )
            item.created_at = now - timedelta(days=age)
            items[key] = item
        for key, kind in (
            ("past-support", FeedbackKind.USEFUL),
            ("past-events", FeedbackKind.NOT_RELEVANT),
        ):
            await record_feedback(
                session, reader, "content", items[key].id, kind, platform="remote"
            )
        digest = await add_digest(
            session,
            OPERATOR,
            "picks",
            kind="content",
            audience="all",
            cron="0 9 * * mon",
            timezone="UTC",
        )
        first = await start_run(
            session, app.sealer, digest, actor=OPERATOR, composers=app.extensions.composers
        )
    assert first is not None
    titles = {item.id: key for key, item in items.items()}
    ranked = [titles[i] for i in first.run.content_ids]
    assert len(ranked) == 5 and not {"past-support", "past-events"} & set(ranked)
    assert ranked[0] == "fresh-top"  # fresh and on the top-priority objective
    assert ranked.index("liked-topic") < ranked.index("plain")  # same age; a liked topic
    assert "fresh-plain" in ranked[:3] and "disliked-topic" not in ranked  # same age; disliked
    async with app.db.transaction() as session:
        second = await start_run(
            session, app.sealer, digest, actor=OPERATOR, composers=app.extensions.composers
        )
    assert second is not None
    assert [titles[i] for i in second.run.content_ids] == ["disliked-topic"]  # only what is left


async def test_share_links_carry_utm_parameters_and_the_network_s_text(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "fast", "Reply fast")
        await add_content(
            session,
            OPERATOR,
            "https://example.com/a?utm_source=old&x=1",
            title="A",
            objective_key="fast",
            share_texts={"x": "Short for X", "linkedin": "Longer for LinkedIn"},
        )
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        await start_run(
            session, app.sealer, digest, actor=OPERATOR, composers=app.extensions.composers
        )
    assert app.worker is not None
    await app.worker.drain()
    card = remote.sent[0].message.cards[1]
    shares = {
        b.label: app.links.read(b.url.rsplit("/", 1)[1])
        for b in card.buttons
        if isinstance(b, LinkButton) and b.label.startswith("Share")
    }
    linkedin = parse_qs(urlsplit(shares["Share on LinkedIn"].url).query)
    article = parse_qs(urlsplit(unquote(linkedin["url"][0])).query)
    assert article == {
        "x": ["1"],
        "utm_source": ["linkedin"],
        "utm_medium": ["employee_advocacy"],
        "utm_campaign": ["fast"],
    }
    assert (
        "Short+for+X" in shares["Share on X"].url or "Short%20for%20X" in shares["Share on X"].url
    )
    assert "Longer for LinkedIn" in card.footer
