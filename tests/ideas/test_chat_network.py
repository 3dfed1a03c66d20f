"""No network call inside a database transaction, in chat: ``/content add URL`` reads the page to
fill the form in after its transaction has committed, so a slow page never holds the database
(on SQLite it held the one writer: the webhook and every CLI write waited for the page)."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.app import Application
from bot.domain import Role
from bot.events import CommandInvoked
from bot.plugins import PageInfo
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from tests.conftest import actor, make_member
from tests.content.test_ssrf import first_of, slow_page

WRITE_PATIENCE_SECONDS = 30  # a deadlock guard, not a speed goal: the write needs milliseconds


async def test_content_add_in_chat_reads_a_slow_page_outside_its_transaction(
    app: Application,
) -> None:
    async def read_page(url: str) -> PageInfo:
        async with aiohttp.ClientSession() as client, client.get(url) as answer:
            await answer.read()
        return PageInfo(url=url, title="Slow article")

    app.extensions.url_enricher = read_page
    await make_member(app, "dana", role=Role.STRATEGIST)
    async with slow_page(lambda request: aiohttp.web.Response(text="<html></html>")) as page:
        url = page.url("/article")
        adding = asyncio.ensure_future(
            app.router.handle(CommandInvoked(actor("dana"), command="content", text=f"add {url}"))
        )
        await first_of(page.asked, adding)

        async def write() -> None:
            async with app.db.transaction() as session:
                await add_objective(session, OPERATOR, "fast", "Reply fast")

        # Before: the page was read inside the command's transaction, so this write waited for
        # the page, which waits for this test: a deadlock.
        await asyncio.wait_for(write(), WRITE_PATIENCE_SECONDS)
        assert not adding.done()
        page.release.set()
        reply = await adding
    assert reply.form is not None
    fields = {field.name: field.initial for field in reply.form.fields}
    assert (fields["url"], fields["title"]) == (url, "Slow article")
