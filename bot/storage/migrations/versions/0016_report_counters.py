"""report counters: the objectives report's counts, kept as the data arrives

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 03:00:00

Three tables the write paths keep in the same transaction as their rows
(bot/services/report_counters.py): sent deliveries per digest run; per objective and day, shared
answers and tracked clicks; per objective and member, the latest time they were reached or said
useful / not relevant. They are filled here from the existing rows, objective by objective and
in chunks (memory bounded by one objective's people, not by the history). The counting is
written out as it stood at 0016, so this migration does the same whatever becomes of that module.
Downgrading drops the tables.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import bot.storage.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_CHUNK = 2_000
ROW_CHUNK = 5_000
UTC = bot.storage.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "report_run_counts",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["digest_runs.id"],
            name=op.f("fk_report_run_counts_run_id_digest_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_report_run_counts")),
    )
    op.create_table(
        "report_objective_people",
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.String(length=20), nullable=False),
        sa.Column("last_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_report_objective_people_objective_id_objectives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_report_objective_people_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "objective_id", "member_id", "mark", name=op.f("pk_report_objective_people")
        ),
    )
    with op.batch_alter_table("report_objective_people", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_objective_people_recent", ["objective_id", "mark", "last_at"], unique=False
        )
    op.create_table(
        "report_objective_days",
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("day", UTC(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_report_objective_days_objective_id_objectives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "objective_id", "day", "kind", name=op.f("pk_report_objective_days")
        ),
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("report_objective_days")
    with op.batch_alter_table("report_objective_people", schema=None) as batch_op:
        batch_op.drop_index("ix_report_objective_people_recent")
    op.drop_table("report_objective_people")
    op.drop_table("report_run_counts")


# The rows as they stood at 0016.
content_items = sa.table("content_items", sa.column("id"), sa.column("objective_id"))
digest_runs = sa.table(
    "digest_runs",
    sa.column("id"),
    sa.column("content_ids", sa.JSON()),
    sa.column("started_at", UTC()),
)
deliveries = sa.table(
    "deliveries", sa.column("id"), sa.column("run_id"), sa.column("member_id"), sa.column("status")
)
feedback = sa.table(
    "feedback",
    sa.column("id"),
    sa.column("member_id"),
    sa.column("subject_type"),
    sa.column("subject_id"),
    sa.column("kind"),
    sa.column("created_at", UTC()),
)
share_clicks = sa.table(
    "share_clicks", sa.column("id"), sa.column("content_id"), sa.column("created_at", UTC())
)
run_counts = sa.table("report_run_counts", sa.column("run_id"), sa.column("sent"))
people = sa.table(
    "report_objective_people",
    sa.column("objective_id"),
    sa.column("member_id"),
    sa.column("mark"),
    sa.column("last_at", UTC()),
)
days = sa.table(
    "report_objective_days",
    sa.column("objective_id"),
    sa.column("day", UTC()),
    sa.column("kind"),
    sa.column("count"),
)


def _day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.type_coerce(sa.func.date_trunc("day", column), UTC())
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff', as SQLAlchemy writes datetimes on SQLite.
    return sa.type_coerce(sa.func.substr(column, 1, 10).concat(" 00:00:00.000000"), UTC())


def _chunks(connection: Any, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= ROW_CHUNK:
            connection.execute(sa.insert(table), chunk)
            chunk = []
    if chunk:
        connection.execute(sa.insert(table), chunk)


def _backfill(connection: Any) -> None:
    dialect = connection.dialect.name
    sent = (
        sa.select(deliveries.c.run_id, sa.func.count(deliveries.c.id))
        .where(deliveries.c.status == "sent", deliveries.c.run_id.is_not(None))
        .group_by(deliveries.c.run_id)
    )
    _chunks(connection, run_counts, ({"run_id": r, "sent": n} for r, n in connection.execute(sent)))
    items = dict(
        connection.execute(
            sa.select(content_items.c.id, content_items.c.objective_id).where(
                content_items.c.objective_id.is_not(None)
            )
        ).all()
    )
    runs_of: dict[int, list[int]] = defaultdict(list)
    for run_id, content_ids in connection.execute(
        sa.select(digest_runs.c.id, digest_runs.c.content_ids)
    ):
        for objective_id in {items[i] for i in content_ids or () if i in items}:
            runs_of[objective_id].append(run_id)
    for objective_id in sorted(set(items.values())):
        _backfill_objective(connection, dialect, objective_id, runs_of[objective_id])


def _backfill_objective(
    connection: Any, dialect: str, objective_id: int, run_ids: list[int]
) -> None:
    # A member reached by several chunks of runs keeps the latest: merged before inserting.
    latest: dict[int, Any] = {}
    for start in range(0, len(run_ids), RUN_CHUNK):
        reached = (
            sa.select(deliveries.c.member_id, sa.func.max(digest_runs.c.started_at))
            .join(digest_runs, digest_runs.c.id == deliveries.c.run_id)
            .where(
                deliveries.c.status == "sent",
                deliveries.c.member_id.is_not(None),
                deliveries.c.run_id.in_(run_ids[start : start + RUN_CHUNK]),
            )
            .group_by(deliveries.c.member_id)
        )
        for member_id, at in connection.execute(reached):
            if member_id not in latest or latest[member_id] < at:
                latest[member_id] = at
    _chunks(
        connection,
        people,
        (
            {"objective_id": objective_id, "member_id": m, "mark": "reached", "last_at": at}
            for m, at in latest.items()
        ),
    )
    on_objective = (
        feedback.c.subject_type == "content",
        content_items.c.objective_id == objective_id,
    )
    joined = feedback.join(content_items, content_items.c.id == feedback.c.subject_id)
    answers = (
        sa.select(feedback.c.member_id, feedback.c.kind, sa.func.max(feedback.c.created_at))
        .select_from(joined)
        .where(*on_objective, feedback.c.kind.in_(("useful", "not_relevant")))
        .group_by(feedback.c.member_id, feedback.c.kind)
    )
    _chunks(
        connection,
        people,
        (
            {"objective_id": objective_id, "member_id": m, "mark": kind, "last_at": at}
            for m, kind, at in connection.execute(answers)
        ),
    )
    shared_day = _day(feedback.c.created_at, dialect)
    shared = (
        sa.select(shared_day, sa.func.count(feedback.c.id))
        .select_from(joined)
        .where(*on_objective, feedback.c.kind == "shared")
        .group_by(shared_day)
    )
    click_day = _day(share_clicks.c.created_at, dialect)
    clicks = (
        sa.select(click_day, sa.func.count(share_clicks.c.id))
        .select_from(
            share_clicks.join(content_items, content_items.c.id == share_clicks.c.content_id)
        )
        .where(content_items.c.objective_id == objective_id)
        .group_by(click_day)
    )
    for kind, statement in (("shared", shared), ("clicks", clicks)):
        _chunks(
            connection,
            days,
            (
                {"objective_id": objective_id, "day": day, "kind": kind, "count": n}
                for day, n in connection.execute(statement).all()
            ),
        )
