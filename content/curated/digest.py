"""Choosing what a content digest sends: approved, unexpired items its recipients have not
received yet (bot/services/content_runs.py says which), ranked by the priority of the objective
they serve, by freshness, and by what employees said about similar items (same objective or
topics)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.content_digest import compose_content_digest
from bot.compose.text import plural
from bot.domain import ContentStatus, FeedbackKind, SubjectType
from bot.messages import Message
from bot.storage.models import ContentItem, Digest, Feedback, Objective

ITEMS = 5
CANDIDATES = 300
HALF_LIFE_DAYS = 7.0
WEIGHTS = {"freshness": 1.0, "priority": 0.6, "affinity": 0.8}


@dataclass
class Reception:
    """How employees answered items of one objective or topic."""

    useful: int = 0
    not_relevant: int = 0

    @property
    def score(self) -> float:
        # -1..1, pulled towards 0 while there are few answers.
        return (self.useful - self.not_relevant) / (self.useful + self.not_relevant + 2)


async def receptions(session: AsyncSession) -> tuple[dict[int, Reception], dict[str, Reception]]:
    # Counted per item first: PostgreSQL cannot group by a JSON column such as topics.
    counts = (
        select(Feedback.subject_id, Feedback.kind, func.count(Feedback.id).label("n"))
        .where(
            Feedback.subject_type == SubjectType.CONTENT,
            Feedback.kind.in_((FeedbackKind.USEFUL, FeedbackKind.NOT_RELEVANT)),
        )
        .group_by(Feedback.subject_id, Feedback.kind)
        .subquery()
    )
    rows = await session.execute(
        select(ContentItem.objective_id, ContentItem.topics, counts.c.kind, counts.c.n).join(
            counts, ContentItem.id == counts.c.subject_id
        )
    )
    by_objective: dict[int, Reception] = defaultdict(Reception)
    by_topic: dict[str, Reception] = defaultdict(Reception)
    for objective_id, topics, kind, count in rows:
        targets = [by_objective[objective_id]] if objective_id is not None else []
        targets += [by_topic[topic] for topic in topics or []]
        for reception in targets:
            if kind == FeedbackKind.USEFUL:
                reception.useful += count
            else:
                reception.not_relevant += count
    return by_objective, by_topic


def rank(
    items: Iterable[ContentItem],
    now: datetime,
    priorities: dict[int, int],
    by_objective: dict[int, Reception],
    by_topic: dict[str, Reception],
) -> list[tuple[float, ContentItem]]:
    top = max(priorities.values(), default=0) or 1
    scored = []
    for item in items:
        age_days = max(0.0, (now - (item.published_at or item.created_at)).total_seconds() / 86_400)
        freshness = math.pow(0.5, age_days / HALF_LIFE_DAYS)
        priority = priorities.get(item.objective_id or 0, 0) / top
        signals = (
            [by_objective[item.objective_id].score] if item.objective_id in by_objective else []
        )
        signals += [by_topic[topic].score for topic in item.topics or [] if topic in by_topic]
        affinity = sum(signals) / len(signals) if signals else 0.0
        score = (
            WEIGHTS["freshness"] * freshness
            + WEIGHTS["priority"] * priority
            + WEIGHTS["affinity"] * affinity
        )
        scored.append((score, item))
    scored.sort(key=lambda pair: (-pair[0], -pair[1].id))
    return scored


async def content_composer(
    session: AsyncSession,
    digest: Digest,
    run_id: int,
    since: datetime | None,
    now: datetime,
    *,
    exclude: frozenset[int] = frozenset(),
) -> tuple[Message, str] | str:
    """The best ``ITEMS`` items its recipients have not had (``exclude``), or why there is
    nothing to send."""
    statement = (
        select(ContentItem)
        .where(
            ContentItem.status == ContentStatus.APPROVED,
            or_(ContentItem.expires_at.is_(None), ContentItem.expires_at > now),
            ContentItem.created_at > now - timedelta(days=180),
        )
        .order_by(ContentItem.created_at.desc())
        .limit(CANDIDATES + len(exclude))
    )
    if digest.objective_id is not None:
        statement = statement.where(ContentItem.objective_id == digest.objective_id)
    candidates = [item for item in await session.scalars(statement) if item.id not in exclude]
    if not candidates:
        return (
            "Nothing new to send: everyone in the audience already had every approved item. "
            "Add content with: advocacy content add URL (or run the digest with --include-sent "
            "to send items again)"
        )
    priorities = {o.id: o.priority for o in await session.scalars(select(Objective))}
    by_objective, by_topic = await receptions(session)
    chosen = [item for _, item in rank(candidates, now, priorities, by_objective, by_topic)]
    chosen = chosen[:ITEMS]
    return compose_content_digest(digest.name, run_id, chosen), plural(len(chosen), "item")
