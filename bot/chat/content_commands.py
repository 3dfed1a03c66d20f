"""The content library from chat: the approved articles, drafts waiting for a verdict, and
the form that curates a new one (also opened by a card's button, through
``offer_content_form``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select

from bot.chat.context import ChatContext
from bot.chat.parsing import split_words
from bot.compose.curation import content_form, drafts_message, library_message
from bot.domain import Role
from bot.errors import DomainError
from bot.events import Reply
from bot.i18n import _
from bot.plugins import PageInfo
from bot.services import content as content_service
from bot.services.objectives import list_objectives
from bot.services.permissions import require_role
from bot.storage.models import ContentFeed


async def content_list(ctx: ChatContext, text: str) -> Reply:
    items = await content_service.list_content(ctx.session, status="approved")
    if not items:
        return Reply.say(_("The library is empty. A strategist adds articles with /content add."))
    return Reply(messages=[library_message(items)])


async def content_add(ctx: ChatContext, text: str) -> Reply:
    words = split_words(text)
    return await offer_content_form(ctx, url=words[0] if words else "")


async def offer_content_form(ctx: ChatContext, url: str = "") -> Reply:
    """The curation form at once; given a URL, filled in from the page after the commit (the
    page may take seconds)."""
    require_role(ctx.member, (Role.STRATEGIST,), _("curate content"))
    objectives = await list_objectives(ctx.session)
    enricher = ctx.extensions.url_enricher

    async def filled_in() -> Reply:
        return Reply(form=content_form(objectives, url=url, info=await page_info(enricher, url)))

    return Reply(form=content_form(objectives, url=url), complete=filled_in if url else None)


async def content_drafts(ctx: ChatContext, text: str) -> Reply:
    require_role(ctx.member, (Role.STRATEGIST,), _("curate content"))
    drafts = await content_service.list_drafts(ctx.session)
    feeds = {f.id: f.title or f.url for f in await ctx.session.scalars(select(ContentFeed))}
    return Reply(messages=[drafts_message(drafts[:20], feeds)])


async def page_info(
    enricher: Callable[[str], Awaitable[PageInfo]] | None, url: str
) -> PageInfo | None:
    """What the page says about itself, to type less; nothing if it cannot be read."""
    if not url or enricher is None:
        return None
    try:
        return await enricher(url)
    except DomainError:
        return None
