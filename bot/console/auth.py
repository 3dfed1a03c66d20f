"""Sign-in without another password: a one-time link sent by DM opens a session.

Links and sessions are random secrets of which only a SHA-256 hash is stored, so a database
reader cannot use them. A link works once, for ``LINK_TTL``; a session ends after it has been
idle for the configured time. Every session has its own CSRF token for the console's forms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import ConsoleLink, ConsoleSession, Member
from bot.storage.types import utcnow

LINK_TTL = timedelta(minutes=10)
DEFAULT_IDLE = timedelta(minutes=60)


def secret_hash(secret: str) -> str:
    """What is stored for a link or session secret: its SHA-256, never the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class LinkProblem(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class SignedIn:
    member: Member
    csrf_token: str
    record: ConsoleSession


async def create_link(session: AsyncSession, member: Member, now: datetime | None = None) -> str:
    """A new one-time sign-in secret for ``member`` (goes into the link, never stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleLink(
            token_hash=secret_hash(token),
            member_id=member.id,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    await session.flush()
    return token


async def use_link(
    session: AsyncSession, token: str, now: datetime | None = None
) -> Member | LinkProblem:
    """Spend a link: the member it was made for, or why it cannot be used. Marking it used is
    a conditional update, so two clicks racing each other cannot both sign in."""
    now = now or utcnow()
    link = (
        await session.scalars(
            select(ConsoleLink).where(ConsoleLink.token_hash == secret_hash(token))
        )
    ).first()
    if link is None:
        return LinkProblem.UNKNOWN
    if link.used_at is not None:
        return LinkProblem.USED
    if link.expires_at <= now:
        return LinkProblem.EXPIRED
    spent = await session.execute(
        update(ConsoleLink)
        .where(ConsoleLink.id == link.id, ConsoleLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount:
        return LinkProblem.USED
    member = await session.get(Member, link.member_id)
    return member if member is not None else LinkProblem.UNKNOWN


async def open_session(session: AsyncSession, member: Member, now: datetime | None = None) -> str:
    """A new session for ``member``; returns the secret for the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=secret_hash(token),
            member_id=member.id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return token


async def resume_session(
    session: AsyncSession,
    token: str,
    *,
    idle: timedelta = DEFAULT_IDLE,
    now: datetime | None = None,
) -> SignedIn | None:
    """The signed-in member for a cookie, or None; an idle session is ended here."""
    now = now or utcnow()
    found = (
        await session.scalars(
            select(ConsoleSession).where(ConsoleSession.token_hash == secret_hash(token))
        )
    ).first()
    if found is None:
        return None
    if found.last_seen_at <= now - idle:
        await session.delete(found)
        return None
    member = await session.get(Member, found.member_id)
    if member is None:
        return None
    found.last_seen_at = now
    return SignedIn(member, found.csrf_token, found)


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == secret_hash(token))
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")
