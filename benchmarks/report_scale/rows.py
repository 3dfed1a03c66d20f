"""The seeded rows, generated as tuples in column order, table by table: members, digests,
deliveries, feedback, clicks, voice, and suggestions filed as the product files them."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table as SqlTable

from benchmarks.report_scale.company import (
    DEPARTMENTS,
    EMOJI,
    IDEAS,
    MEMBERS,
    NETWORKS,
    OBJECTIVES,
    SEED,
    VOICE_SOURCES,
    WEEKS,
    build_company,
)
from bot.domain import DeliveryStatus, FeedbackKind, SubjectType, SuggestionStatus
from bot.sealing import Sealer
from bot.services.anonymous_scope import TeamScopes, coarse_time, team_scopes
from bot.storage.models import (
    ContentItem,
    Delivery,
    Digest,
    DigestRun,
    Feedback,
    Member,
    MemberIdentity,
    Objective,
    OutboundMessage,
    ShareClick,
    Suggestion,
    SuggestionResponse,
    SuggestionVote,
    Team,
    VoiceItem,
)


@dataclass
class Placement:
    """Where the seeded anonymous ideas went, for the notes: the point of the change is that a
    small team's ideas are counted higher up, which changes what a manager's rollup holds."""

    ideas: int = 0
    own_team: int = 0
    higher_up: int = 0
    no_team: int = 0

    def count(self, own: int | None, shown: int | None) -> None:
        self.ideas += 1
        if shown is None:
            self.no_team += 1
        elif shown == own:
            self.own_team += 1
        else:
            self.higher_up += 1


@dataclass
class Plan:
    feedback: int
    suggestions: int
    members: int = MEMBERS

    @property
    def content_items(self) -> int:
        return max(5 * WEEKS, self.feedback // 500)

    @property
    def voice_items(self) -> int:
        return max(1_000, self.feedback // 50)


class Generator:
    def __init__(self, plan: Plan, sealer: Sealer, now: datetime) -> None:
        self.plan = plan
        self.sealer = sealer
        self.now = now
        self.origin = now - timedelta(days=7 * WEEKS)
        self.rng = random.Random(SEED)
        self.company = build_company(self.rng, plan.members)
        # Where an anonymous idea of each team is shown, by the product's own rule (the function
        # file_suggestion and migration 0010 use), decided once: nobody joins or leaves here.
        self.scopes: TeamScopes = team_scopes(
            self.company.teams,
            ((p.id, p.team_id, p.manager_id, p.role) for p in self.company.people),
        )
        self.placed = Placement()
        n_objectives = len(OBJECTIVES)
        self.objective_weights = [o[3] for o in OBJECTIVES]
        self.objective_ids = list(range(1, n_objectives + 1))
        self.items: list[tuple[int, int, int | None, datetime]] = []  # id, week, objective, at
        self.runs: list[tuple[int, int, int, datetime, list[int]]] = []  # id, week, dept, at, ids
        self.run_of: dict[tuple[int, int], int] = {}  # (week, department) -> run id
        self.delivery_base: dict[int, int] = {}  # run id -> id of its first delivery
        self.clicks: list[tuple[Any, ...]] = []
        self._plan_content()

    def _objective(self, none_share: float) -> int | None:
        if self.rng.random() < none_share:
            return None
        return self.rng.choices(self.objective_ids, self.objective_weights)[0]

    def _before_now(self, moment: datetime, margin: timedelta = timedelta(minutes=5)) -> datetime:
        return min(moment, self.now - margin)

    def _plan_content(self) -> None:
        per_week = self.plan.content_items / WEEKS
        item_id = 0
        for week in range(WEEKS):
            start = self.origin + timedelta(days=7 * week)
            count = round(per_week * (week + 1)) - round(per_week * week)
            week_items = []
            for _ in range(count):
                item_id += 1
                at = start + timedelta(days=self.rng.uniform(0, 5.5))
                self.items.append((item_id, week, self._objective(0.15), at))
                week_items.append(item_id)
            for d in range(len(DEPARTMENTS)):
                chosen = [i for i in week_items if self.rng.random() < 0.6] or week_items[:1]
                run_id = len(self.runs) + 1
                at = start + timedelta(days=6, hours=9)
                self.runs.append((run_id, week, d, at, chosen))
                self.run_of[(week, d)] = run_id
        next_delivery = 1
        for run_id, _week, d, _at, _ids in self.runs:
            self.delivery_base[run_id] = next_delivery
            next_delivery += len(self.company.department_people[d]) + 1  # + the channel post

    # The tables, parents first.

    def teams(self) -> Iterator[tuple[Any, ...]]:
        for team_id, name in self.company.teams:
            yield team_id, name, self.origin - timedelta(days=30)

    def members(self) -> Iterator[tuple[Any, ...]]:
        for p in self.company.people:
            yield (
                p.id,
                p.name,
                p.role,
                "Europe/Paris",
                p.team_id,
                p.manager_id,
                [],
                "daily",
                None,
                self.origin - timedelta(days=30),
            )

    def identities(self) -> Iterator[tuple[Any, ...]]:
        for p in self.company.people:
            workspace = "T0ACME" if p.platform == "slack" else "acme-tenant"
            user = f"U{p.id:08d}" if p.platform == "slack" else f"29:{p.id:08d}"
            yield p.id, p.id, p.platform, workspace, user, self.origin - timedelta(days=30)

    def objectives(self) -> Iterator[tuple[Any, ...]]:
        owners = self.company.vps + self.company.directors
        for n, (key, title, kpi, _weight) in enumerate(OBJECTIVES):
            yield (
                n + 1,
                key,
                title,
                kpi,
                None,
                len(OBJECTIVES) - n,
                owners[n % len(owners)],
                self.origin - timedelta(days=60),
            )

    def content_items(self) -> Iterator[tuple[Any, ...]]:
        for item_id, _week, objective_id, at in self.items:
            url = f"https://example.com/articles/{item_id}"
            yield (
                item_id,
                url,
                url,
                f"Article {item_id}: what customers told us this week",
                "A short summary of the article.",
                "Worth a read:",
                {},
                ["customers"],
                "approved",
                "manual",
                objective_id,
                at,
                at,
            )

    def digests(self) -> Iterator[tuple[Any, ...]]:
        for d, department in enumerate(DEPARTMENTS):
            yield (
                d + 1,
                f"{department} weekly",
                "content",
                f"team:{department}",
                "0 9 * * 1",
                "Europe/Paris",
                True,
                False,
                self.origin - timedelta(days=7),
                self.origin - timedelta(days=7),
            )

    def digest_runs(self) -> Iterator[tuple[Any, ...]]:
        for run_id, _week, d, at, ids in self.runs:
            people = len(self.company.department_people[d])
            yield run_id, d + 1, "schedule", at, "done", people, "", ids, at, at

    def outbound_messages(self) -> Iterator[tuple[Any, ...]]:
        for run_id, _week, _d, at, ids in self.runs:
            yield run_id, "content_digest", run_id, {"title": "This week", "items": ids}, at

    def deliveries(self) -> Iterator[tuple[Any, ...]]:
        for run_id, _week, d, at, _ids in self.runs:
            delivery_id = self.delivery_base[run_id]
            for member_id in self.company.department_people[d]:
                p = self.company.person(member_id)
                sent = self.rng.random() >= 0.01
                yield (
                    delivery_id,
                    run_id,
                    run_id,
                    member_id,
                    p.platform,
                    "T0ACME" if p.platform == "slack" else "acme-tenant",
                    f"U{member_id:08d}",
                    False,
                    DeliveryStatus.SENT if sent else DeliveryStatus.DEAD,
                    1 if sent else 5,
                    at,
                    f"{run_id}.{member_id}" if sent else None,
                    f"run:{run_id}:member:{member_id}",
                    at,
                    at + timedelta(seconds=self.rng.uniform(1, 600)) if sent else None,
                )
                delivery_id += 1
            yield (
                delivery_id,
                run_id,
                run_id,
                None,
                "slack",
                "T0ACME",
                f"C{d:08d}",
                True,
                DeliveryStatus.SENT,
                1,
                at,
                f"{run_id}.channel",
                f"run:{run_id}:channel",
                at,
                at,
            )

    def _answer_time(self, sent_at: datetime, mean_days: float) -> datetime:
        return self._before_now(sent_at + timedelta(days=self.rng.expovariate(1 / mean_days)))

    def feedback(self) -> Iterator[tuple[Any, ...]]:
        """Answers to content (95 %) and to whole digests (the rest), exactly the planned count."""
        rng = self.rng
        total = self.plan.feedback
        on_content = int(total * 0.95)
        weights = [rng.lognormvariate(0, 0.6) for _ in self.items]
        scale = on_content / sum(weights)
        runs_with = {item_id: [] for item_id, *_ in self.items}
        for run_id, _week, d, _at, ids in self.runs:
            for item_id in ids:
                runs_with[item_id].append((run_id, d))
        feedback_id = 0
        made = 0
        for (item_id, _week, _objective, _at), weight in zip(self.items, weights, strict=True):
            quota = min(round(weight * scale), on_content - made)
            audience = [
                (run_id, member_id)
                for run_id, d in runs_with[item_id]
                for member_id in self.company.department_people[d]
            ]
            rng.shuffle(audience)
            for run_id, member_id in audience:
                if quota <= 0:
                    break
                rows = self._answers(member_id, SubjectType.CONTENT, item_id, run_id, content=True)
                for row in rows[:quota]:
                    feedback_id += 1
                    yield (feedback_id, *row)
                made += min(len(rows), quota)
                quota -= len(rows)
        for run_id, _week, d, _at, _ids in self.runs:
            audience = list(self.company.department_people[d])
            rng.shuffle(audience)
            for member_id in audience[: len(audience) // 3]:
                remaining = total - feedback_id
                if remaining <= 0:
                    return
                rows = self._answers(member_id, SubjectType.DIGEST_RUN, run_id, run_id)
                for row in rows[:remaining]:
                    feedback_id += 1
                    yield (feedback_id, *row)
        if feedback_id < total:
            raise RuntimeError(f"planned {total:,} feedback rows, made {feedback_id:,}")

    def _answers(
        self, member_id: int, subject_type: str, subject_id: int, run_id: int, content: bool = False
    ) -> list[tuple[Any, ...]]:
        """One member's answers to one subject: useful or not relevant, shares, a reaction,
        sometimes a comment; each a distinct (kind, detail), as the unique constraint wants."""
        rng = self.rng
        p = self.company.person(member_id)
        delivery_id = self.delivery_base[run_id] + self.company.position[member_id]
        sent_at = self.runs[run_id - 1][3]
        kinds: list[tuple[str, str, str | None]] = []
        r = rng.random()
        if r < 0.62:
            kinds.append((FeedbackKind.USEFUL, "", None))
        elif r < 0.80:
            kinds.append((FeedbackKind.NOT_RELEVANT, "", None))
        if content and rng.random() < 0.12:
            kinds.append((FeedbackKind.SHARED, rng.choice(NETWORKS), None))
        if rng.random() < 0.15 or not kinds:
            kinds.append((FeedbackKind.REACTION, rng.choice(EMOJI), None))
        if rng.random() < 0.04:
            comment = f"Comment {rng.randrange(10**9)}: we saw this with a customer last week."
            digest = hashlib.sha256(comment.lower().encode()).hexdigest()[:32]
            kinds.append((FeedbackKind.COMMENT, digest, comment))
        rows = []
        for kind, detail, comment in kinds:
            at = self._answer_time(sent_at, 1.5)
            row = (member_id, subject_type, subject_id, kind, detail, comment, delivery_id)
            rows.append((*row, p.platform, at))
            if kind == FeedbackKind.SHARED and rng.choice((0, 1, 1, 2, 3)):
                # However often a person's own link is fetched, it is one click (migration 0009:
                # once per person, item and network), stamped with the first fetch.
                clicked = self._before_now(at + timedelta(minutes=rng.uniform(1, 2_000)))
                visitor = f"member:{member_id}"
                self.clicks.append((subject_id, member_id, detail, p.platform, visitor, clicked))
        return rows

    def share_clicks(self) -> Iterator[tuple[Any, ...]]:
        for n, row in enumerate(self.clicks, start=1):
            yield n, *row

    def voice_items(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for n in range(1, self.plan.voice_items + 1):
            source = VOICE_SOURCES[n % len(VOICE_SOURCES)]
            at = self.now - timedelta(days=rng.uniform(0, 2 * 7 * WEEKS), hours=1)
            rating = rng.randint(1, 5)
            sentiment = max(-1.0, min(1.0, (rating - 3) / 2 + rng.gauss(0, 0.2)))
            yield (
                n,
                source,
                f"{source}-{n}",
                f"Customer said something about us ({n}).",
                float(rating),
                rng.choice(("smb", "mid-market", "enterprise")),
                sentiment,
                [],
                self._objective(0.2),
                at,
                at,
            )

    def suggestions(self) -> Iterator[tuple[Any, ...]]:
        """Ideas over the year (more of them lately), a fifth anonymous; older ones mostly
        answered. Votes and answers are collected for their own tables.

        An anonymous idea is stored as file_suggestion stores it: a sealed author, a contributor
        tag sealed with a random nonce (Sealer.seal_contributor: one person's ideas store
        different bytes), the team it is shown under (anonymous_scope: the author's only with 5+
        active members) and its filing time to the hour (coarse_time). Answering stamps
        updated_at with the answer's exact time, as answer_suggestion does."""
        rng = self.rng
        people = self.company.people
        self.votes: list[tuple[Any, ...]] = []
        self.responses: list[tuple[Any, ...]] = []
        total = self.plan.suggestions
        for n in range(1, total + 1):
            author = rng.choice(people)
            anonymous = rng.random() < 0.2
            age = timedelta(days=7 * WEEKS * (1 - math.sqrt(rng.random())))
            created = self._before_now(self.now - age, timedelta(minutes=10))
            team_id: int | None = author.team_id
            stored_at = created
            if anonymous:
                team_id = self.scopes.place(author.team_id)
                stored_at = coarse_time(created)
                self.placed.count(author.team_id, team_id)
            answer_chance = min(0.9, 0.15 + age.days / 60)
            first_response = None
            status = SuggestionStatus.NEW
            if rng.random() < answer_chance:
                first_response = self._answer_time(created, 6)
                status = rng.choices(
                    (
                        SuggestionStatus.NEW,
                        SuggestionStatus.UNDER_REVIEW,
                        SuggestionStatus.PLANNED,
                        SuggestionStatus.DONE,
                        SuggestionStatus.DECLINED,
                    ),
                    (1, 3, 2, 2, 2),
                )[0]
                self.responses.append(
                    (
                        len(self.responses) + 1,
                        n,
                        # A manager of the team the idea is shown under answers it.
                        self.company.team_lead.get(team_id, self.company.ceo)
                        if team_id is not None
                        else self.company.ceo,
                        SuggestionStatus.NEW,
                        status,
                        "Thanks, we looked at it.",
                        first_response,
                    )
                )
            votes = min(int(rng.expovariate(1 / 2.5)), 60)
            for voter in rng.sample(range(1, len(people) + 1), votes):
                voted = self._before_now(created + timedelta(hours=rng.uniform(0, 96)))
                self.votes.append((len(self.votes) + 1, n, voter, voted))
            if anonymous:
                tag = self.sealer.seal_contributor(author.id)
                sealed = self.sealer.seal({"member": author.id})
            else:
                tag = sealed = None
            duplicate_of = rng.randrange(1, n) if n > 10 and rng.random() < 0.01 else None
            hidden = rng.random() < 0.003
            yield (
                n,
                f"#{n}: {rng.choice(IDEAS)}",
                anonymous,
                None if anonymous else author.id,
                sealed,
                tag,
                team_id,
                self._objective(0.2),
                status,
                author.platform,
                duplicate_of,
                votes,
                stored_at,
                first_response or stored_at,
                first_response,
                created + timedelta(hours=2) if hidden else None,
                "off-topic" if hidden else None,
                0,
            )

    def suggestion_votes(self) -> Iterator[tuple[Any, ...]]:
        yield from self.votes

    def suggestion_responses(self) -> Iterator[tuple[Any, ...]]:
        yield from self.responses


# (table, columns, generator method), in the order foreign keys need.
TABLES: tuple[tuple[SqlTable, tuple[str, ...], str], ...] = (
    (Team.__table__, ("id", "name", "created_at"), "teams"),
    (
        Member.__table__,
        (
            "id",
            "display_name",
            "role",
            "timezone",
            "team_id",
            "manager_id",
            "muted_kinds",
            "cadence",
            "quiet_hours",
            "created_at",
        ),
        "members",
    ),
    (
        MemberIdentity.__table__,
        ("id", "member_id", "platform", "workspace", "user_id", "created_at"),
        "identities",
    ),
    (
        Objective.__table__,
        ("id", "key", "title", "kpi", "target", "priority", "owner_id", "created_at"),
        "objectives",
    ),
    (
        ContentItem.__table__,
        (
            "id",
            "url",
            "url_key",
            "title",
            "summary",
            "share_text",
            "share_texts",
            "topics",
            "status",
            "source",
            "objective_id",
            "published_at",
            "created_at",
        ),
        "content_items",
    ),
    (
        Digest.__table__,
        (
            "id",
            "name",
            "kind",
            "audience",
            "cron",
            "timezone",
            "enabled",
            "local_time",
            "created_at",
            "updated_at",
        ),
        "digests",
    ),
    (
        DigestRun.__table__,
        (
            "id",
            "digest_id",
            "trigger",
            "scheduled_for",
            "status",
            "recipients",
            "note",
            "content_ids",
            "started_at",
            "finished_at",
        ),
        "digest_runs",
    ),
    (
        OutboundMessage.__table__,
        ("id", "kind", "run_id", "payload", "created_at"),
        "outbound_messages",
    ),
    (
        Delivery.__table__,
        (
            "id",
            "message_id",
            "run_id",
            "member_id",
            "platform",
            "workspace",
            "recipient",
            "channel",
            "status",
            "attempts",
            "next_attempt_at",
            "platform_ref",
            "dedupe_key",
            "created_at",
            "sent_at",
        ),
        "deliveries",
    ),
    (
        Feedback.__table__,
        (
            "id",
            "member_id",
            "subject_type",
            "subject_id",
            "kind",
            "detail",
            "comment",
            "delivery_id",
            "platform",
            "created_at",
        ),
        "feedback",
    ),
    (
        ShareClick.__table__,
        ("id", "content_id", "member_id", "network", "platform", "visitor", "created_at"),
        "share_clicks",
    ),
    (
        VoiceItem.__table__,
        (
            "id",
            "source",
            "external_id",
            "text",
            "rating",
            "segment",
            "sentiment",
            "themes",
            "objective_id",
            "received_at",
            "created_at",
        ),
        "voice_items",
    ),
    (
        Suggestion.__table__,
        (
            "id",
            "text",
            "anonymous",
            "author_id",
            "sealed_author",
            "contributor_tag",
            "team_id",
            "objective_id",
            "status",
            "platform",
            "duplicate_of_id",
            "vote_count",
            "created_at",
            "updated_at",
            "first_response_at",
            "hidden_at",
            "hidden_reason",
            "escalation_level",
        ),
        "suggestions",
    ),
    (
        SuggestionVote.__table__,
        ("id", "suggestion_id", "member_id", "created_at"),
        "suggestion_votes",
    ),
    (
        SuggestionResponse.__table__,
        (
            "id",
            "suggestion_id",
            "responder_id",
            "status_before",
            "status_after",
            "text",
            "created_at",
        ),
        "suggestion_responses",
    ),
)
