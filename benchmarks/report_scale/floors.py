"""Hand-written SQL: the floor each report is compared against, computing the same core
numbers over the same tables with GROUP BY."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import FeedbackKind, SuggestionStatus
from bot.sealing import Sealer
from bot.services.objectives_report import ACCEPTED
from bot.services.rollups import NONE_LABEL
from bot.storage.types import UTCDateTime


def _stamp(*names: str) -> list[Any]:
    return [bindparam(name, type_=UTCDateTime()) for name in names]


# A manager sees the ideas of their own team and every team below them, and ideas of no team.
# The stored team is the shown team: the seed placed anonymous ideas as filing does, and no team
# shrank since (the service checks that again on every rollup; this floor does not).
ROLLUP_SCOPE = """
WITH RECURSIVE below(id, team_id) AS (
    SELECT id, team_id FROM members WHERE id = :manager
    UNION
    SELECT m.id, m.team_id FROM members m JOIN below b ON m.manager_id = b.id
)
SELECT {columns}
FROM suggestions s
LEFT JOIN objectives o ON o.id = s.objective_id
LEFT JOIN teams t ON t.id = s.team_id
WHERE s.duplicate_of_id IS NULL AND s.hidden_at IS NULL
  AND (s.team_id IN (SELECT team_id FROM below WHERE team_id IS NOT NULL) OR s.team_id IS NULL)
GROUP BY {columns_grouped}
"""
ROLLUP_COUNTS = (
    "{group}, s.status, COUNT(*), COUNT(s.first_response_at), COALESCE(SUM(s.vote_count), 0)",
    "{group}, s.status",
)
# Each named author once per group (the database does the DISTINCT); each anonymous idea once,
# since its sealed tag differs from every other one, even the same person's.
ROLLUP_PEOPLE = (
    "{group}, s.author_id, s.contributor_tag",
    "{group}, s.author_id, s.contributor_tag",
)
GROUPS = {"team": "t.name", "objective": "o.key", "status": "s.status"}


def _rollup_statement(parts: tuple[str, str], by: str) -> Any:
    columns, grouped = (part.format(group=GROUPS[by]) for part in parts)
    return text(ROLLUP_SCOPE.format(columns=columns, columns_grouped=grouped))


@dataclass
class Group:
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    votes: int = 0
    # The people behind the group, as keyed tags: a named author's computed from their id, an
    # anonymous author's opened from the idea's sealed tag.
    people: set[str] = field(default_factory=set)


@dataclass
class RollupFloor:
    groups: dict[str, Group]
    unopened: int = 0  # sealed tags this key could not open (none, when seeded right)


async def rollup_by_sql(
    session: AsyncSession, sealer: Sealer, manager_id: int, by: str
) -> RollupFloor:
    """Suggestions by group and status for the teams under a manager (one statement), and the
    distinct people behind each group (a second one, plus opening anonymous ideas' tags)."""
    values = {"manager": manager_id}
    floor = RollupFloor({})
    counts = await session.execute(_rollup_statement(ROLLUP_COUNTS, by), values)
    for key, status, count, answered, votes in counts:
        group = floor.groups.setdefault(key if key is not None else NONE_LABEL[by], Group())
        group.total += count
        group.by_status[status] = group.by_status.get(status, 0) + count
        group.answered += answered
        group.votes += int(votes)
    authors = await session.execute(_rollup_statement(ROLLUP_PEOPLE, by), values)
    named: dict[int, str] = {}
    for key, author_id, sealed_tag in authors:
        group = floor.groups.setdefault(key if key is not None else NONE_LABEL[by], Group())
        if author_id is not None:
            tag = named.get(author_id)
            if tag is None:
                tag = named[author_id] = sealer.contributor_tag(author_id)
        else:
            tag = sealer.open_contributor(sealed_tag) if sealed_tag else None
        if tag is None:
            floor.unopened += 1
        else:
            group.people.add(tag)
    return floor


def _unnest(dialect: str) -> tuple[str, str]:
    if dialect == "sqlite":
        return "JOIN json_each(r.content_ids) j", "j.value"
    return "CROSS JOIN LATERAL json_array_elements_text(r.content_ids) AS j(value)", "j.value::int"


RUN_ITEMS = """
FROM digest_runs r {unnest}
JOIN content_items c ON c.id = {item}
WHERE r.started_at >= :since AND r.started_at < :until AND c.objective_id IS NOT NULL
"""
REPORT_SQL = {
    "objectives": """
        SELECT o.id, o.key, o.title, o.kpi, o.target, m.display_name
        FROM objectives o LEFT JOIN members m ON m.id = o.owner_id ORDER BY o.key""",
    "items": "SELECT c.objective_id, COUNT(DISTINCT c.id) {run_items} GROUP BY c.objective_id",
    "sent": """
        SELECT ro.objective_id, COUNT(d.id), COUNT(DISTINCT d.member_id)
        FROM (SELECT DISTINCT r.id AS run_id, c.objective_id {run_items}) ro
        JOIN deliveries d ON d.run_id = ro.run_id AND d.status = 'sent'
        GROUP BY ro.objective_id""",
    "feedback": """
        SELECT c.objective_id, f.kind, COUNT(DISTINCT f.member_id), COUNT(*)
        FROM feedback f JOIN content_items c ON c.id = f.subject_id
        WHERE f.subject_type = 'content' AND f.created_at >= :since AND f.created_at < :until
          AND c.objective_id IS NOT NULL
        GROUP BY c.objective_id, f.kind""",
    "clicks": """
        SELECT c.objective_id, COUNT(*)
        FROM share_clicks k JOIN content_items c ON c.id = k.content_id
        WHERE k.created_at >= :since AND k.created_at < :until
        GROUP BY c.objective_id""",
    "voice": """
        SELECT objective_id, COUNT(*), AVG(sentiment) FROM voice_items
        WHERE received_at >= :since AND received_at < :until GROUP BY objective_id""",
    "suggestions": """
        SELECT o.key, s.status, COUNT(*), COUNT(s.first_response_at)
        FROM suggestions s LEFT JOIN objectives o ON o.id = s.objective_id
        WHERE s.duplicate_of_id IS NULL AND s.hidden_at IS NULL AND s.created_at >= :since
        GROUP BY o.key, s.status""",
}


@dataclass
class ObjectiveSums:
    key: str
    items_sent: int = 0
    messages_sent: int = 0
    reached: int = 0
    found_useful: int = 0
    not_relevant: int = 0
    shares: int = 0
    clicks: int = 0
    voice: int = 0
    voice_before: int = 0
    sentiment: float | None = None
    sentiment_before: float | None = None
    filed: int = 0
    answered: int = 0
    accepted: int = 0
    done: int = 0


async def report_by_sql(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, ObjectiveSums]:
    """The objectives report's numbers (not its medians), one GROUP BY per source table."""
    dialect = session.get_bind().dialect.name
    unnest, item = _unnest(dialect)
    run_items = RUN_ITEMS.format(unnest=unnest, item=item)
    window = {"since": since, "until": until}

    async def query(name: str, **values: Any) -> Any:
        statement = text(REPORT_SQL[name].format(run_items=run_items))
        names = [n for n in ("since", "until") if f":{n}" in statement.text]
        return await session.execute(statement.bindparams(*_stamp(*names)), values)

    rows: dict[int, ObjectiveSums] = {}
    for objective_id, key, *_ in await query("objectives"):
        rows[objective_id] = ObjectiveSums(key)
    for objective_id, items in await query("items", **window):
        rows[objective_id].items_sent = items
    for objective_id, messages, reached in await query("sent", **window):
        rows[objective_id].messages_sent, rows[objective_id].reached = messages, reached
    for objective_id, kind, people, count in await query("feedback", **window):
        if kind == FeedbackKind.USEFUL:
            rows[objective_id].found_useful = people
        elif kind == FeedbackKind.NOT_RELEVANT:
            rows[objective_id].not_relevant = people
        elif kind == FeedbackKind.SHARED:
            rows[objective_id].shares = count
    for objective_id, count in await query("clicks", **window):
        if objective_id in rows:
            rows[objective_id].clicks = count
    period = until - since
    for start, end, current in ((since, until, True), (since - period, since, False)):
        for objective_id, count, sentiment in await query("voice", since=start, until=end):
            if objective_id not in rows:
                continue
            if current:
                rows[objective_id].voice, rows[objective_id].sentiment = count, sentiment
            else:
                rows[objective_id].voice_before = count
                rows[objective_id].sentiment_before = sentiment
    by_key = {row.key: row for row in rows.values()}
    for key, status, count, answered in await query("suggestions", since=since):
        row = by_key.get(key)
        if row is None:
            continue
        row.filed += count
        row.answered += answered
        row.accepted += count if status in ACCEPTED else 0
        row.done += count if status == SuggestionStatus.DONE else 0
    return by_key
