"""Tracked share links over real HTTP: a click counts once per person, item and network, however
often the link is fetched (before: one link fetched 100 times was 100 clicks), and the person is
always sent on to the network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import JSON, column, func, select, table, text

from bot.app import Application
from bot.compose import actions
from bot.config import Settings
from bot.events import ActionInvoked
from bot.links import TrackedClick
from bot.messages import LinkButton
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest
from bot.services.objectives import add_objective
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Delivery, Feedback, ShareClick
from bot.storage.types import UTCDateTime, utcnow
from bot.web import build_web_app
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@pytest.fixture
async def server(app: Application) -> AsyncIterator[str]:
    test_server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await test_server.start_server()
    try:
        yield f"http://127.0.0.1:{test_server.port}"
    finally:
        await test_server.close()


async def share_links(app: Application, remote: RemotePlatform) -> dict[str, str]:
    """Send alice a content digest with one item on objective 'reply'; her card's tracked share
    links by network."""
    await make_member(app, "alice")
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "reply", "Reply within an hour")
        await add_content(
            session, OPERATOR, "https://example.com/a", title="A", objective_key="reply"
        )
        digest = await add_digest(
            session, OPERATOR, "d", kind="content", audience="all", cron="0 9 * * *", timezone="UTC"
        )
        await start_run(session, app.sealer, digest, actor=OPERATOR)
    assert app.worker is not None
    await app.worker.drain()
    buttons = [
        b
        for s in remote.sent
        for c in s.message.cards
        for b in c.buttons
        if b.label.startswith("Share on")
    ]
    assert all(isinstance(b, LinkButton) for b in buttons)
    return {b.label.removeprefix("Share on ").lower(): b.url for b in buttons}  # type: ignore[union-attr]


async def fetch(
    server: str,
    app: Application,
    url: str,
    times: int = 1,
    *,
    address: str = "127.0.0.1",
    agent: str = BROWSER,
    method: str = "GET",
) -> set[tuple[int, str]]:
    """Fetch a tracked link ``times`` from a client at ``address``; the answers seen."""
    path = url.removeprefix(app.settings.public_url)
    seen = set()
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": agent}) as client:
        for _ in range(times):
            async with client.request(method, server + path, allow_redirects=False) as answer:
                seen.add((answer.status, answer.headers.get("Location", "")))
    return seen


async def clicks(app: Application) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count(ShareClick.id))) or 0)


async def test_a_members_link_fetched_100_times_is_one_click(
    app: Application, remote: RemotePlatform, server: str
) -> None:
    links = await share_links(app, remote)
    [(status, location)] = await fetch(server, app, links["linkedin"], 100)
    assert status == 302 and location.startswith("https://www.linkedin.com/")
    assert await clicks(app) == 1
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Feedback.id))) == 1  # "shared", once
        report = await build_objectives_report(session, OPERATOR, app.sealer)
    [row] = report.rows
    assert (row.shares, row.clicks) == (1, 1)


async def test_a_member_counts_once_per_network(
    app: Application, remote: RemotePlatform, server: str
) -> None:
    links = await share_links(app, remote)
    for network in ("linkedin", "x", "linkedin", "x"):
        await fetch(server, app, links[network], 3)
    async with app.db.transaction() as session:
        rows = (await session.execute(select(ShareClick.network, ShareClick.visitor))).all()
    assert sorted(tuple(r) for r in rows) == [("linkedin", "member:1"), ("x", "member:1")]


async def test_a_link_in_a_channel_counts_once_per_client(
    app: Application, remote: RemotePlatform, server: str
) -> None:
    """No member is known for a link posted in a channel: a click counts once per message,
    network, client (address and browser) and day. Reloads and scanners from one client count
    once; another address or another browser is another person."""
    await share_links(app, remote)
    channel_link = app.links.url_for(
        "https://www.linkedin.com/share", "content:1", "linkedin", None
    )
    assert await fetch(server, app, channel_link, 100) == {(302, "https://www.linkedin.com/share")}
    assert await clicks(app) == 1
    await fetch(server, app, channel_link, 5, address="127.0.0.2")
    assert await clicks(app) == 2
    await fetch(server, app, channel_link, 5, address="127.0.0.2", agent="Firefox/133.0")
    assert await clicks(app) == 3
    async with app.db.transaction() as session:
        visitors = list(await session.scalars(select(ShareClick.visitor)))
    assert all(v.startswith("passer-by:") and "127.0.0" not in v for v in visitors)
    # The next day, the same client counts again.
    click = TrackedClick("https://www.linkedin.com/share", "content:1", "linkedin", None)
    today = date(2026, 12, 6)
    assert app.links.passer_by(click, "127.0.0.1 x", today) == app.links.passer_by(
        click, "127.0.0.1 x", today
    )
    assert app.links.passer_by(click, "127.0.0.1 x", today) != app.links.passer_by(
        click, "127.0.0.1 x", today + timedelta(days=1)
    )


async def test_link_previews_and_head_requests_are_sent_on_without_counting(
    app: Application, remote: RemotePlatform, server: str
) -> None:
    links = await share_links(app, remote)
    for agent in (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
    ):
        [(status, _)] = await fetch(server, app, links["linkedin"], agent=agent)
        assert status == 302
    [(status, _)] = await fetch(server, app, links["linkedin"], method="HEAD")
    assert status == 302
    assert await clicks(app) == 0
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Feedback.id))) == 0


async def test_the_person_is_sent_on_even_when_the_click_cannot_be_recorded(
    app: Application, remote: RemotePlatform, server: str
) -> None:
    links = await share_links(app, remote)
    async with app.db.transaction() as session:
        await session.execute(text("ALTER TABLE share_clicks RENAME TO share_clicks_away"))
    [(status, location)] = await fetch(server, app, links["linkedin"])
    assert status == 302 and location.startswith("https://www.linkedin.com/")


async def test_the_migration_keeps_one_click_per_member_and_every_channel_click(
    settings: Settings,
) -> None:
    """Clicks recorded before 0009: a member's repeats become one; clicks from channels cannot
    be told apart afterwards, so each keeps counting."""
    db = Database(settings.database_url, search_path=settings.database_schema)
    members = table(
        "members",
        column("id"),
        column("display_name"),
        column("role"),
        column("timezone"),
        column("created_at", UTCDateTime()),
    )
    items = table(
        "content_items",
        column("id"),
        column("url"),
        column("url_key"),
        column("title"),
        column("summary"),
        column("share_text"),
        column("topics", JSON()),
        column("status"),
        column("source"),
        column("created_at", UTCDateTime()),
    )
    old_clicks = table(
        "share_clicks",
        column("content_id"),
        column("member_id"),
        column("network"),
        column("platform"),
        column("created_at", UTCDateTime()),
    )
    try:
        await migrate.upgrade(db, "0008")
        now = utcnow()
        async with db.transaction() as session:
            await session.execute(
                members.insert().values(
                    id=1, display_name="Ann", role="employee", timezone="UTC", created_at=now
                )
            )
            await session.execute(
                items.insert().values(
                    id=1,
                    url="https://example.com/a",
                    url_key="example.com/a",
                    title="A",
                    summary="",
                    share_text="",
                    topics=[],
                    status="approved",
                    source="manual",
                    created_at=now,
                )
            )
            click = {"content_id": 1, "network": "linkedin", "platform": "slack", "created_at": now}
            for member_id in (1, 1, 1, None, None):
                await session.execute(old_clicks.insert().values(**click, member_id=member_id))
            await session.execute(
                old_clicks.insert().values(**click | {"network": "x"}, member_id=1)
            )
        await migrate.upgrade(db, "0009")
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    text("SELECT network, visitor FROM share_clicks ORDER BY network, visitor")
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("linkedin", "legacy:4"),
            ("linkedin", "legacy:5"),
            ("linkedin", "member:1"),
            ("x", "member:1"),
        ]
    finally:
        await db.dispose()


async def test_a_card_updated_in_place_keeps_its_tracked_share_links(
    app: Application, remote: RemotePlatform, server: str
) -> None:
    """Pressing Useful redraws the card from the stored message; its share buttons must still
    go through this delivery's tracked links (before: the redrawn card linked straight to the
    network, and a share from it was never counted)."""
    links = await share_links(app, remote)
    async with app.db.transaction() as session:
        ref = await session.scalar(select(Delivery.platform_ref))
    reply = await app.router.handle(
        ActionInvoked(
            actor("alice", platform="remote"),
            action_id=actions.FEEDBACK_USEFUL,
            value={"subject": "content:1"},
            message_ref=ref,
        )
    )
    assert reply.update is not None
    redrawn = {
        b.label.removeprefix("Share on ").lower(): b.url
        for c in reply.update.cards
        for b in c.buttons
        if isinstance(b, LinkButton) and b.label.startswith("Share on")
    }
    assert redrawn == links
    [(status, location)] = await fetch(server, app, redrawn["x"])
    assert status == 302 and location.startswith("https://twitter.com/")
    assert await clicks(app) == 1
