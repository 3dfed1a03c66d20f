"""Load the demo data files through the core's services (idempotent: a second load adds nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.text import plural
from bot.domain import DeliveryStatus, FeedbackKind, RunStatus, SubjectType
from bot.errors import Conflict
from bot.sealing import Sealer
from bot.services.anonymous_scope import coarse_time
from bot.services.content import add_content
from bot.services.digest_runs import start_run
from bot.services.digests import add_digest, find_digest
from bot.services.feedback import record_feedback
from bot.services.member_import import import_members
from bot.services.members import add_member, find_member, get_member
from bot.services.objectives import add_objective, find_objective, get_objective
from bot.services.permissions import OPERATOR
from bot.services.report_counters import recount
from bot.services.suggestion_evidence import EvidenceMatcher, find_evidence
from bot.services.suggestions import answer_suggestion, file_suggestion, vote
from bot.services.voice import store_voice_item
from bot.storage.database import Database
from bot.storage.models import (
    ContentItem,
    DecisionReview,
    Delivery,
    Digest,
    Feedback,
    Member,
    Objective,
    ShareClick,
    Suggestion,
    VoiceItem,
)
from bot.storage.types import utcnow
from content.curated.digest import content_composer
from content.demo.kpi_history import add_kpi_history
from content.demo.promises import date_the_promise, promise_of, settle_reviews

DATA = Path(__file__).parent
PLATFORM = "shell"
HISTORY_DIGEST = "Last week picks"


@dataclass
class DemoReport:
    members: int = 0
    objectives: int = 0
    content: int = 0
    voice: int = 0
    digests: int = 0
    suggestions: int = 0
    notes: list[str] = field(default_factory=list)
    # Loaded by an earlier run: then the counts are what the database holds.
    already_loaded: bool = False

    def describe(self) -> str:
        return (
            f"{plural(self.members, 'member')}, {plural(self.objectives, 'objective')}, "
            f"{plural(self.content, 'article')}, {plural(self.voice, 'customer voice')}, "
            f"{plural(self.digests, 'digest')}, {plural(self.suggestions, 'suggestion')}"
        )


async def held(session: AsyncSession) -> DemoReport:
    """What the database holds, counted the way the demo reports what it loaded."""
    counts = [
        int(await session.scalar(select(func.count(model.id))) or 0)
        for model in (Member, Objective, ContentItem, VoiceItem, Digest, Suggestion)
    ]
    return DemoReport(*counts, already_loaded=True)


def demo_file(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


async def load_demo(
    db: Database,
    sealer: Sealer,
    *,
    you: str | None,
    join_if_loaded: bool = False,
    evidence: EvidenceMatcher | None = None,
) -> DemoReport:
    """Load everything in one transaction; ``you`` joins the Support team as an employee. When
    the demo is already loaded nothing is added (``you`` only with ``join_if_loaded``), and the
    report counts what the database holds. With ``evidence``, each idea is then weighed against
    the demo's customer voice."""
    report = DemoReport()
    now = utcnow()
    async with db.transaction() as session:
        if await find_digest(session, HISTORY_DIGEST) is not None:
            # Loaded before (the history digest is written with everything else).
            loaded = await held(session)
            if join_if_loaded and you and await find_member(session, PLATFORM, you) is None:
                await _add_you(session, you, loaded)
                loaded.members += 1
            return loaded
        imported = await import_members(session, OPERATOR, (DATA / "org.csv").read_text())
        report.members = imported.created
        if you and await find_member(session, PLATFORM, you) is None:
            await _add_you(session, you, report)
            report.members += 1

        for objective in demo_file("objectives.json"):
            if await find_objective(session, objective["key"]) is None:
                await add_objective(
                    session,
                    OPERATOR,
                    objective["key"],
                    objective["title"],
                    kpi=objective.get("kpi"),
                    target=objective.get("target"),
                    owner=await get_member(session, PLATFORM, objective["owner"])
                    if objective.get("owner")
                    else None,
                )
                report.objectives += 1
            stored = await get_objective(session, objective["key"])
            stored.kpi_unit = objective.get("unit")
            stored.kpi_direction = objective.get("direction")
            stored.target_value = objective.get("target_value")
            if objective.get("readings"):
                await add_kpi_history(session, stored, objective["readings"], now)

        # Last week's picks went out a week ago (with people's answers); this week's are new.
        last_week = [item for item in demo_file("content.json") if item.get("last_week")]
        this_week = [item for item in demo_file("content.json") if not item.get("last_week")]
        added = await _add_content(session, last_week, created_at=now - timedelta(days=8))
        if added:
            await _last_weeks_digest(session, sealer, now)
            report.digests += 1
        report.content = added + await _add_content(session, this_week, created_at=now)

        for line in (DATA / "voice.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            objective = (
                await get_objective(session, record["objective"])
                if record.get("objective")
                else None
            )
            if await store_voice_item(
                session,
                source=record["source"],
                external_id=record["id"],
                text=record["text"],
                rating=record.get("rating"),
                segment=record.get("segment"),
                sentiment=record.get("sentiment"),
                # The demo's customers all write English (its scores are VADER's).
                language=record.get("language", "en"),
                themes=record.get("themes", ()),
                received_at=now - timedelta(days=record.get("days_ago", 0)),
                objective_id=objective.id if objective else None,
            ):
                report.voice += 1

        for digest in demo_file("digests.json"):
            if await find_digest(session, digest["name"]) is None:
                await add_digest(
                    session,
                    OPERATOR,
                    digest["name"],
                    kind=digest["kind"],
                    audience=digest["audience"],
                    cron=digest["cron"],
                    timezone=digest["timezone"],
                )
                report.digests += 1

        filed_ideas: list[int] = []
        reviews: list[tuple[DecisionReview, dict[str, Any]]] = []
        for idea in demo_file("suggestions.json"):
            exists = await session.scalar(
                select(Suggestion.id).where(Suggestion.text == idea["text"])
            )
            if exists is not None:
                continue
            author = await get_member(session, PLATFORM, idea["author"])
            suggestion = await file_suggestion(
                session,
                sealer,
                author,
                idea["text"],
                platform=PLATFORM,
                objective_key=idea.get("objective"),
                anonymous=idea.get("anonymous", False),
            )
            filed = now - timedelta(days=idea.get("days_ago", 0))
            # An anonymous idea is dated to the hour, however it is filed.
            suggestion.created_at = coarse_time(filed) if suggestion.anonymous else filed
            suggestion.updated_at = suggestion.created_at
            for voter in idea.get("votes", ()):
                await vote(session, await get_member(session, PLATFORM, voter), suggestion.id)
            if "answer" in idea:
                answer = idea["answer"]
                manager = await get_member(session, PLATFORM, answer["by"])
                answered = await answer_suggestion(
                    session,
                    sealer,
                    manager,
                    suggestion.id,
                    answer["text"],
                    status=answer["status"],
                    promise=promise_of(answer),
                )
                suggestion.first_response_at = suggestion.created_at + timedelta(
                    days=answer.get("after_days", 1)
                )
                # The answer (and the decision it made) is dated where the story puts it.
                answered.response.created_at = suggestion.first_response_at
                suggestion.updated_at = suggestion.first_response_at
                decided = await date_the_promise(
                    session, suggestion, answer, suggestion.first_response_at
                )
                if decided is not None:
                    reviews.append((decided, answer))
            filed_ideas.append(suggestion.id)
            report.suggestions += 1
        await settle_reviews(session, sealer, reviews, now)

    if evidence is not None and filed_ideas:
        # In a transaction of its own: the matcher reads the voice stored above.
        async with db.transaction() as session:
            for suggestion_id in filed_ideas:
                suggestion = await session.get(Suggestion, suggestion_id)
                if suggestion is not None:
                    await find_evidence(session, evidence, suggestion, fresh=True)
    return report


async def _add_you(session: AsyncSession, you: str, report: DemoReport) -> None:
    await add_member(
        session, OPERATOR, PLATFORM, you, name=you, team="Support", manager_user_id="mike"
    )
    report.notes.append(f"You are '{you}', an employee in Support, managed by Mike Chen.")


async def _add_content(
    session: AsyncSession, items: list[dict[str, Any]], *, created_at: datetime
) -> int:
    added = 0
    for item in items:
        try:
            stored = await add_content(
                session,
                OPERATOR,
                item["url"],
                title=item["title"],
                summary=item["summary"],
                share_text=item["share_text"],
                objective_key=item.get("objective"),
                topics=item.get("topics", ()),
            )
        except Conflict:
            continue
        stored.created_at = created_at
        added += 1
    return added


async def _last_weeks_digest(session: AsyncSession, sealer: Sealer, now: datetime) -> None:
    """History for the objectives report: last week's picks went to everyone, and people
    answered (useful, not relevant, shared on LinkedIn or X, with the clicks counted)."""
    digest = await add_digest(
        session,
        OPERATOR,
        HISTORY_DIGEST,
        kind="content",
        audience="all",
        cron="0 9 * * mon",
        timezone="Europe/Paris",
    )
    digest.enabled = False
    outcome = await start_run(
        session, sealer, digest, actor=OPERATOR, composers={"content": content_composer}
    )
    if outcome is None or not outcome.queued:
        return
    sent_at = now - timedelta(days=7)
    outcome.run.started_at = outcome.run.finished_at = sent_at
    outcome.run.status = RunStatus.DONE
    await session.execute(
        update(Delivery)
        .where(Delivery.run_id == outcome.run.id)
        .values(status=DeliveryStatus.SENT, sent_at=sent_at, created_at=sent_at)
    )
    items = {
        item.objective.key if item.objective else "": item
        for item in await session.scalars(
            select(ContentItem).where(ContentItem.id.in_(outcome.run.content_ids))
        )
    }
    for key, answers in demo_file("feedback.json").items():
        item = items.get(key)
        if item is None:
            continue
        for kind, people in answers.items():
            for user in people:
                member = await get_member(session, PLATFORM, user.split(":")[0])
                network = user.split(":")[1] if ":" in user else ""
                await record_feedback(
                    session,
                    member,
                    SubjectType.CONTENT,
                    item.id,
                    FeedbackKind(kind),
                    platform=PLATFORM,
                    detail=network,
                )
                if kind == FeedbackKind.SHARED:
                    # Who shared clicked through once; a LinkedIn share is also clicked by
                    # someone who saw the link in a channel (counted once, unnamed).
                    visitors = [f"member:{member.id}"]
                    if network == "linkedin":
                        visitors.append(f"passer-by:demo-{item.id}-{member.id}")
                    for visitor in visitors:
                        session.add(
                            ShareClick(
                                content_id=item.id,
                                member_id=member.id if visitor.startswith("member:") else None,
                                network=network,
                                platform=PLATFORM,
                                visitor=visitor,
                                created_at=sent_at + timedelta(hours=2),
                            )
                        )
    await session.execute(
        update(Feedback)
        .where(Feedback.created_at > sent_at)
        .values(created_at=sent_at + timedelta(hours=1))
    )
    # The history was written back-dated and in bulk: the report's counts are taken from it.
    await recount(session, None)
