"""RSS and Atom feeds polled into the draft queue: strategists approve what is worth sending."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from time import struct_time
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.domain import ContentStatus, Role
from bot.errors import Conflict, DomainError, InvalidInput
from bot.i18n import ENGLISH, speaking
from bot.services.content import add_content, normalise_url, validate_url
from bot.services.objectives import get_objective
from bot.services.permissions import OPERATOR, Acting, require_role
from bot.storage.database import Database
from bot.storage.models import ContentFeed, ContentItem, Objective
from bot.storage.types import utcnow
from content.curated.fetch import fetch_page

if TYPE_CHECKING:
    import feedparser

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 5 * 1024 * 1024
ENTRIES_PER_POLL = 30
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class PollResult:
    feed: str
    drafts: int = 0
    already: int = 0
    error: str | None = None


async def add_feed(
    db: Database,
    actor: Acting,
    url: str,
    *,
    objective_key: str | None = None,
    topics: tuple[str, ...] = (),
) -> ContentFeed:
    require_role(actor, (Role.STRATEGIST,), "add feeds")
    url = validate_url(url)
    async with db.transaction() as session:
        if (await session.scalars(select(ContentFeed).where(ContentFeed.url == url))).first():
            raise Conflict(f"The feed {url} is already polled.")
        objective = await get_objective(session, objective_key) if objective_key else None
        feed = ContentFeed(
            url=url,
            objective_id=objective.id if objective else None,
            topics=[t.strip().lower() for t in topics if t.strip()],
        )
        session.add(feed)
        await session.flush()
        return feed


def _plain(text: str, limit: int) -> str:
    value = " ".join(html.unescape(_TAGS.sub(" ", text or "")).split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _when(parsed: struct_time | None) -> datetime | None:
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def _parse(body: bytes) -> feedparser.FeedParserDict:
    import feedparser  # imported by the first poll, not by every process that starts

    return feedparser.parse(body)


def _image(entry: feedparser.FeedParserDict) -> str | None:
    for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if str(media.get("url", "")).startswith(("https://", "http://")):
            return str(media["url"])
    for enclosure in entry.get("enclosures", []):
        if str(enclosure.get("type", "")).startswith("image/"):
            return str(enclosure.get("href") or "") or None
    return None


async def poll_feed(db: Database, feed_id: int, *, allow_private: bool = False) -> PollResult:
    """Fetch one feed (conditionally: nothing is read twice) and queue its new entries as
    drafts. A failure is recorded on the feed and reported, never raised."""
    async with db.transaction() as session:
        feed = await session.get(ContentFeed, feed_id)
        assert feed is not None
        url, etag, modified = feed.url, feed.etag, feed.modified
        objective = await session.get(Objective, feed.objective_id) if feed.objective_id else None
        topics = list(feed.topics)
    result = PollResult(feed=url)
    headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", modified)) if v}
    try:
        # The failure is kept on the feed and logged: English, whatever the workspace speaks.
        with speaking(ENGLISH):
            fetched = await fetch_page(
                url, allow_private=allow_private, headers=headers, max_bytes=MAX_FEED_BYTES
            )
        parsed = _parse(fetched.body) if fetched.status != 304 else None
        if parsed is not None and parsed.bozo and not parsed.entries:
            raise InvalidInput(f"{url} is not an RSS or Atom feed ({parsed.bozo_exception}).")
    except DomainError as error:
        result.error = error.message
        async with db.transaction() as session:
            stored = await session.get(ContentFeed, feed_id)
            assert stored is not None
            stored.last_polled_at, stored.last_error = utcnow(), error.message
        log.warning("feed %s: %s", url, error.message)
        return result
    entries = parsed.entries[:ENTRIES_PER_POLL] if parsed is not None else []
    for entry in entries:
        link = str(entry.get("link") or "")
        title = _plain(str(entry.get("title") or ""), 300)
        if not link or not title:
            continue
        try:
            async with db.transaction() as session:
                known = await session.scalar(
                    select(ContentItem.id).where(ContentItem.url_key == normalise_url(link))
                )
                if known is not None:
                    result.already += 1
                    continue
                item = await add_content(
                    session,
                    OPERATOR,
                    link,
                    title=title,
                    summary=_plain(str(entry.get("summary") or ""), 600),
                    objective_key=objective.key if objective else None,
                    topics=topics + [t.get("term", "") for t in entry.get("tags", [])][:5],
                    image_url=_image(entry),
                    status=ContentStatus.DRAFT,
                    source="feed",
                )
                item.feed_id = feed_id
                item.published_at = _when(
                    entry.get("published_parsed") or entry.get("updated_parsed")
                )
            result.drafts += 1
        except (Conflict, InvalidInput) as error:
            log.info("feed %s: entry skipped: %s", url, error.message)
    async with db.transaction() as session:
        stored = await session.get(ContentFeed, feed_id)
        assert stored is not None
        stored.last_polled_at, stored.last_error = utcnow(), None
        if fetched.status != 304:
            stored.etag = fetched.headers.get("ETag")
            stored.modified = fetched.headers.get("Last-Modified")
        if parsed is not None and parsed.feed.get("title"):
            stored.title = _plain(str(parsed.feed["title"]), 300)
    return result


async def poll_all(db: Database, *, allow_private: bool = False) -> list[PollResult]:
    async with db.transaction() as session:
        ids = list(await session.scalars(select(ContentFeed.id).where(ContentFeed.enabled)))
    return [await poll_feed(db, feed_id, allow_private=allow_private) for feed_id in ids]
