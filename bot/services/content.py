"""Curated content: articles and posts strategists pick for employees to read and share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import ContentStatus, Role
from bot.errors import Conflict, InvalidInput
from bot.services.objectives import get_objective
from bot.services.permissions import Acting, actor_id, require_role
from bot.storage.models import ContentItem
from bot.storage.types import utcnow

MAX_TITLE = 300
MAX_SUMMARY = 3000
MAX_SHARE_TEXT = 3000
TRACKING_PARAMETERS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "igshid")


def normalise_url(url: str) -> str:
    """The key under which a URL is curated once: scheme and host lower-cased, default port,
    fragment and tracking parameters dropped, query sorted."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith(TRACKING_PARAMETERS)
    )
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def validate_url(url: str) -> str:
    value = url.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"'{url}' is not a web address; give a full http:// or https:// URL.")
    if len(value) > 2000:
        raise InvalidInput("The URL is longer than 2000 characters.")
    return value


def _bounded(text: str | None, limit: int, what: str) -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"The {what} has {len(value)} characters; the limit is {limit}.")
    return value


async def add_content(
    session: AsyncSession,
    actor: Acting,
    url: str,
    *,
    title: str,
    summary: str | None = None,
    share_text: str | None = None,
    objective_key: str | None = None,
    topics: Sequence[str] = (),
    image_url: str | None = None,
    expires_at: datetime | None = None,
    status: ContentStatus = ContentStatus.APPROVED,
    source: str = "manual",
) -> ContentItem:
    require_role(actor, (Role.STRATEGIST,), "curate content")
    url = validate_url(url)
    title = " ".join(title.split())
    if not title:
        raise InvalidInput("Content needs a title (--title).")
    title = _bounded(title, MAX_TITLE, "title")
    key = normalise_url(url)
    existing = (
        await session.scalars(select(ContentItem).where(ContentItem.url_key == key))
    ).first()
    if existing is not None:
        raise Conflict(f"This URL is already curated as #{existing.id} '{existing.title}'.")
    objective = await get_objective(session, objective_key) if objective_key else None
    item = ContentItem(
        url=url,
        url_key=key,
        title=title,
        summary=_bounded(summary, MAX_SUMMARY, "summary"),
        share_text=_bounded(share_text, MAX_SHARE_TEXT, "share text"),
        image_url=validate_url(image_url) if image_url else None,
        topics=[topic.strip().lower() for topic in topics if topic.strip()],
        objective_id=objective.id if objective else None,
        expires_at=expires_at,
        status=status,
        source=source,
        created_by_id=actor_id(actor),
    )
    session.add(item)
    await session.flush()
    return item


async def list_content(session: AsyncSession, status: str | None = None) -> list[ContentItem]:
    statement = select(ContentItem).order_by(ContentItem.created_at.desc(), ContentItem.id.desc())
    if status:
        statement = statement.where(ContentItem.status == status)
    return list(await session.scalars(statement))


async def deliverable_content(
    session: AsyncSession,
    *,
    since: datetime | None,
    objective_id: int | None = None,
    limit: int = 5,
) -> list[ContentItem]:
    """Approved, unexpired items curated since the digest last ran (newest first)."""
    now = utcnow()
    statement = (
        select(ContentItem)
        .where(
            ContentItem.status == ContentStatus.APPROVED,
            or_(ContentItem.expires_at.is_(None), ContentItem.expires_at > now),
        )
        .order_by(ContentItem.created_at.desc(), ContentItem.id.desc())
        .limit(limit)
    )
    if since is not None:
        statement = statement.where(ContentItem.created_at > since)
    if objective_id is not None:
        statement = statement.where(ContentItem.objective_id == objective_id)
    return list(await session.scalars(statement))
