"""Employees' answers to what the bot sends: useful, not relevant, shared, reactions, comments.

One row per (member, subject, kind, detail): a button pressed twice or an event the platform
retries counts once. "Useful" and "not relevant" exclude each other: the latest answer wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import FeedbackKind, SubjectType
from bot.emoji_names import reaction_name
from bot.errors import InvalidInput, NotFound
from bot.i18n import _
from bot.messages import parse_subject
from bot.services.report_counters import count_click, count_feedback, uncount_feedback
from bot.storage.models import (
    ContentItem,
    Delivery,
    DigestRun,
    Feedback,
    Member,
    ShareClick,
    Suggestion,
    VoiceItem,
)
from bot.storage.types import utcnow
from bot.storage.upsert import insert_ignore

MAX_COMMENT = 3000
MAX_EMOJI = 100
OPPOSITES = {
    FeedbackKind.USEFUL: FeedbackKind.NOT_RELEVANT,
    FeedbackKind.NOT_RELEVANT: FeedbackKind.USEFUL,
}
SUBJECT_MODELS = {
    SubjectType.CONTENT: ContentItem,
    SubjectType.DIGEST_RUN: DigestRun,
    SubjectType.SUGGESTION: Suggestion,
    SubjectType.VOICE: VoiceItem,
}


async def _require_subject(session: AsyncSession, subject_type: str, subject_id: int) -> None:
    model = SUBJECT_MODELS.get(subject_type)  # type: ignore[call-overload]
    if model is None or await session.get(model, subject_id) is None:
        raise NotFound(_("That item no longer exists, so the feedback was not recorded."))


def _detail_for(kind: FeedbackKind, detail: str, comment: str | None) -> str:
    if kind == FeedbackKind.COMMENT:
        return hashlib.sha256((comment or "").strip().lower().encode()).hexdigest()[:32]
    if kind == FeedbackKind.REACTION:
        value = reaction_name(detail)
        if not value or len(value) > MAX_EMOJI:
            raise InvalidInput(_("Name the emoji, for example: +1, tada or eyes."))
        return value
    return detail.strip().lower()[:100]


async def record_feedback(
    session: AsyncSession,
    member: Member,
    subject_type: str,
    subject_id: int,
    kind: FeedbackKind,
    *,
    platform: str,
    detail: str = "",
    comment: str | None = None,
    delivery_id: int | None = None,
) -> bool:
    """Record one answer; False when the same answer was already recorded."""
    if kind == FeedbackKind.COMMENT:
        comment = (comment or "").strip()
        if not comment:
            raise InvalidInput(_("The comment is empty."))
        if len(comment) > MAX_COMMENT:
            raise InvalidInput(
                _("A comment can have at most {limit} characters.").format(limit=MAX_COMMENT)
            )
    await _require_subject(session, subject_type, subject_id)
    now = utcnow()
    inserted = await insert_ignore(
        session,
        Feedback.__table__,
        {
            "member_id": member.id,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "kind": kind,
            "detail": _detail_for(kind, detail, comment),
            "comment": comment if kind == FeedbackKind.COMMENT else None,
            "delivery_id": delivery_id,
            "platform": platform,
            "created_at": now,
        },
    )
    if inserted:
        await count_feedback(session, subject_type, subject_id, member.id, kind, now)
    if inserted and kind in OPPOSITES:
        removed = await session.execute(
            delete(Feedback).where(
                Feedback.member_id == member.id,
                Feedback.subject_type == subject_type,
                Feedback.subject_id == subject_id,
                Feedback.kind == OPPOSITES[kind],
            )
        )
        if removed.rowcount:
            await uncount_feedback(session, subject_type, subject_id, member.id, OPPOSITES[kind])
    return inserted


async def retract_reaction(
    session: AsyncSession, member: Member, subject_type: str, subject_id: int, emoji: str
) -> bool:
    result = await session.execute(
        delete(Feedback).where(
            Feedback.member_id == member.id,
            Feedback.subject_type == subject_type,
            Feedback.subject_id == subject_id,
            Feedback.kind == FeedbackKind.REACTION,
            Feedback.detail == _detail_for(FeedbackKind.REACTION, emoji, None),
        )
    )
    return bool(result.rowcount)


async def feedback_given(
    session: AsyncSession, member_id: int, subjects: Iterable[tuple[str, int]]
) -> dict[str, set[str]]:
    """For each subject key ("content:12"), the kinds of feedback this member gave."""
    wanted = set(subjects)
    if not wanted:
        return {}
    ids = {subject_id for _, subject_id in wanted}
    rows = await session.execute(
        select(Feedback.subject_type, Feedback.subject_id, Feedback.kind).where(
            Feedback.member_id == member_id, Feedback.subject_id.in_(ids)
        )
    )
    given: dict[str, set[str]] = {}
    for subject_type, subject_id, kind in rows:
        if (subject_type, subject_id) in wanted:
            given.setdefault(f"{subject_type}:{subject_id}", set()).add(kind)
    return given


async def feedback_counts(
    session: AsyncSession, subjects: Iterable[tuple[str, int]]
) -> dict[str, dict[str, int]]:
    """For each subject key, how many members gave each kind of feedback (for shared cards)."""
    wanted = set(subjects)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Feedback.subject_type, Feedback.subject_id, Feedback.kind, func.count(Feedback.id))
        .where(Feedback.subject_id.in_({subject_id for _, subject_id in wanted}))
        .group_by(Feedback.subject_type, Feedback.subject_id, Feedback.kind)
    )
    counts: dict[str, dict[str, int]] = {}
    for subject_type, subject_id, kind, count in rows:
        if (subject_type, subject_id) in wanted:
            counts.setdefault(f"{subject_type}:{subject_id}", {})[kind] = count
    return counts


@dataclass(frozen=True)
class ShareClickOutcome:
    platform: str  # where the link was sent ("unknown" without a delivery)
    counted: bool  # a new person's click through (False: the same one again)
    shared: bool  # the member's "shared" feedback was recorded now


async def record_share_click(
    session: AsyncSession,
    subject: str,
    network: str,
    delivery_id: int | None,
    *,
    passer_by: str,
) -> ShareClickOutcome:
    """Count a click on a tracked share link once per person, item and network.

    A link in a person's own message is theirs: however often it is fetched, and from however
    many of their messages, their click counts once, and it is also their "shared" feedback
    (once per network). A link posted in a channel cannot be tied to anyone, so it counts once
    per ``passer_by`` (TrackedLinks.passer_by: the message, the client and the day): a scanner
    or a reload from the same browser counts once, two people on one address behind a proxy
    count once too (under-, never over-counting).
    """
    delivery = await session.get(Delivery, delivery_id) if delivery_id is not None else None
    platform = delivery.platform if delivery is not None else "unknown"
    try:
        subject_type, subject_id = parse_subject(subject)
    except ValueError:
        return ShareClickOutcome(platform, counted=False, shared=False)
    personal = delivery is not None and delivery.member_id is not None and not delivery.channel
    member = await session.get(Member, delivery.member_id) if personal and delivery else None
    counted = False
    if subject_type == SubjectType.CONTENT and await session.get(ContentItem, subject_id):
        now = utcnow()
        counted = await insert_ignore(
            session,
            ShareClick.__table__,
            {
                "content_id": subject_id,
                "member_id": member.id if member else None,
                "network": network[:30],
                "platform": platform,
                "visitor": f"member:{member.id}" if member else passer_by,
                "created_at": now,
            },
        )
        if counted:
            await count_click(session, subject_id, now)
    if member is None or delivery is None:
        return ShareClickOutcome(platform, counted, shared=False)
    try:
        shared = await record_feedback(
            session,
            member,
            subject_type,
            subject_id,
            FeedbackKind.SHARED,
            platform=platform,
            detail=network,
            delivery_id=delivery.id,
        )
    except NotFound:  # the item was deleted since the message went out
        shared = False
    return ShareClickOutcome(platform, counted, shared)
