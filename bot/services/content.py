"""Curated content: articles and posts strategists pick for employees to read and share."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import ContentStatus, Role
from bot.errors import Conflict, InvalidInput, NotFound, concerning
from bot.i18n import N_, _
from bot.services.objectives import get_objective
from bot.services.permissions import Acting, actor_id, require_role
from bot.services.report_counters import recount
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
        raise InvalidInput(
            _(
                "'{url}' is not a web address; give a full http:// or https:// URL, "
                "e.g. https://example.com/article."
            ).format(url=url)
        )
    if len(value) > 2000:
        raise InvalidInput(_("The URL is longer than 2000 characters."))
    if parts.username is not None or parts.password is not None:
        # It would be shown to every employee the item is sent to, password included.
        raise InvalidInput(
            _(
                "The URL carries a user name or password (user:password@...); give the address "
                "without them."
            )
        )
    return value


NETWORKS = ("linkedin", "x")
# What X allows in a post, less the link it shortens to 23 characters.
NETWORK_LIMITS = {"linkedin": 3000, "x": 280 - 24}


def validate_share_texts(texts: dict[str, str]) -> dict[str, str]:
    """Suggested post text per network, checked against each network's length limit."""
    clean = {}
    for network, text in texts.items():
        key = network.strip().lower()
        if key not in NETWORKS:
            raise InvalidInput(
                _("Unknown network '{network}'; use one of: {networks}.").format(
                    network=network, networks=", ".join(NETWORKS)
                )
            )
        value = (text or "").strip()
        if len(value) > NETWORK_LIMITS[key]:
            raise InvalidInput(
                _("The {network} text has {count} characters; the limit is {limit}.").format(
                    network=key, count=len(value), limit=NETWORK_LIMITS[key]
                )
            )
        if value:
            clean[key] = value
    return clean


def with_utm(url: str, *, source: str, medium: str, campaign: str) -> str:
    """The URL with UTM parameters, so the site's analytics see where visits came from."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    query += [("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _bounded(text: str | None, limit: int, what: str) -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise InvalidInput(_(TOO_LONG[what]).format(count=len(value), limit=limit))
    return value


TOO_LONG = {
    "title": N_("The title has {count} characters; the limit is {limit}."),
    "summary": N_("The summary has {count} characters; the limit is {limit}."),
    "share text": N_("The share text has {count} characters; the limit is {limit}."),
}


async def add_content(
    session: AsyncSession,
    actor: Acting,
    url: str,
    *,
    title: str,
    summary: str | None = None,
    share_text: str | None = None,
    share_texts: dict[str, str] | None = None,
    objective_key: str | None = None,
    topics: Sequence[str] = (),
    image_url: str | None = None,
    expires_at: datetime | None = None,
    status: ContentStatus = ContentStatus.APPROVED,
    source: str = "manual",
) -> ContentItem:
    require_role(actor, (Role.STRATEGIST,), N_("curate content"))
    with concerning("url"):
        url = validate_url(url)
        key = normalise_url(url)
        existing = (
            await session.scalars(select(ContentItem).where(ContentItem.url_key == key))
        ).first()
        if existing is not None:
            raise Conflict(
                _("This URL is already curated as #{number} '{title}'.").format(
                    number=existing.id, title=existing.title
                )
            )
    with concerning("title"):
        title = " ".join(title.split())
        if not title:
            raise InvalidInput(_("Content needs a title (--title)."))
        title = _bounded(title, MAX_TITLE, "title")
    with concerning("summary"):
        summary = _bounded(summary, MAX_SUMMARY, "summary")
    with concerning("objective"):
        objective = await get_objective(session, objective_key) if objective_key else None
    with concerning("image_url"):
        image_url = validate_url(image_url) if image_url else None
    item = ContentItem(
        url=url,
        url_key=key,
        title=title,
        summary=summary,
        share_text=_bounded(share_text, MAX_SHARE_TEXT, "share text"),
        share_texts=validate_share_texts(share_texts or {}),
        image_url=image_url,
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
    exclude: Collection[int] = (),
    limit: int = 5,
) -> list[ContentItem]:
    """Approved, unexpired items curated since ``since`` (newest first), except ``exclude``."""
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
    if exclude:
        statement = statement.where(ContentItem.id.not_in(list(exclude)))
    return list(await session.scalars(statement))


async def get_content(session: AsyncSession, item_id: int) -> ContentItem:
    item = await session.get(ContentItem, item_id)
    if item is None:
        raise NotFound(
            _("There is no content #{number}; see: advocacy content list").format(number=item_id)
        )
    return item


async def list_drafts(session: AsyncSession) -> list[ContentItem]:
    return await list_content(session, ContentStatus.DRAFT)


async def review_content(
    session: AsyncSession, actor: Acting, item_id: int, *, approve: bool
) -> ContentItem:
    """Approve a draft (it goes out with the next content digest) or reject it."""
    require_role(actor, (Role.STRATEGIST,), N_("curate content"))
    item = await get_content(session, item_id)
    if item.status not in (ContentStatus.DRAFT, ContentStatus.REJECTED, ContentStatus.APPROVED):
        raise InvalidInput(
            _("#{number} is {status}; only drafts are reviewed.").format(
                number=item.id, status=item.status
            )
        )
    item.status = ContentStatus.APPROVED if approve else ContentStatus.REJECTED
    await session.flush()
    return item


async def edit_content(
    session: AsyncSession,
    actor: Acting,
    item_id: int,
    *,
    title: str | None = None,
    summary: str | None = None,
    share_texts: dict[str, str] | None = None,
    objective_key: str | None = None,
    topics: Sequence[str] | None = None,
    expires_at: datetime | None = None,
) -> ContentItem:
    require_role(actor, (Role.STRATEGIST,), N_("curate content"))
    item = await get_content(session, item_id)
    with concerning("title"):
        if title is not None:
            value = " ".join(title.split())
            if not value:
                raise InvalidInput(_("The title cannot be empty."))
            item.title = _bounded(value, MAX_TITLE, "title")
    with concerning("summary"):
        if summary is not None:
            item.summary = _bounded(summary, MAX_SUMMARY, "summary")
    if share_texts is not None:
        item.share_texts = validate_share_texts(share_texts)
    if objective_key is not None:
        before = item.objective_id
        item.objective_id = (
            (await get_objective(session, objective_key)).id if objective_key else None
        )
        if item.objective_id != before:
            await session.flush()
            await recount(session, {o for o in (before, item.objective_id) if o is not None})
    if topics is not None:
        item.topics = [topic.strip().lower() for topic in topics if topic.strip()]
    if expires_at is not None:
        item.expires_at = expires_at
    await session.flush()
    await session.refresh(item)
    return item
