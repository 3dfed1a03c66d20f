"""outcomes: KPI readings, decision reviews, customer evidence, voice spikes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 09:00:00

An objective's KPI becomes measured: a unit, a direction (higher or lower is better), a numeric
target and readings over time. The free-text target is kept as written; where it says a number
plainly ("under 1 hour", "at least 90%", "< 4.5"), its number, unit and direction are filled in,
and nothing is guessed where it does not.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_spikes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=False),
        sa.Column("period_start", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("period_end", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("usual", sa.Float(), nullable=False),
        sa.Column("spread", sa.Float(), nullable=False),
        sa.Column("alerted_at", bot.storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_spikes")),
        sa.UniqueConstraint(
            "theme", "period_start", name=op.f("uq_voice_spikes_theme_period_start")
        ),
    )
    with op.batch_alter_table("voice_spikes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_spikes_period_start"), ["period_start"], unique=False
        )

    op.create_table(
        "kpi_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("measured_on", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_kpi_readings_objective_id_objectives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["members.id"], name=op.f("fk_kpi_readings_recorded_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_readings")),
        sa.UniqueConstraint(
            "objective_id", "measured_on", name=op.f("uq_kpi_readings_objective_id_measured_on")
        ),
    )
    with op.batch_alter_table("kpi_readings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kpi_readings_measured_on"), ["measured_on"], unique=False
        )

    op.create_table(
        "idea_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.Column("voice_item_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=True),
        sa.Column("created_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["suggestions.id"],
            name=op.f("fk_idea_evidence_suggestion_id_suggestions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["voice_item_id"],
            ["voice_items.id"],
            name=op.f("fk_idea_evidence_voice_item_id_voice_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_evidence")),
        sa.UniqueConstraint(
            "suggestion_id",
            "voice_item_id",
            name=op.f("uq_idea_evidence_suggestion_id_voice_item_id"),
        ),
    )
    with op.batch_alter_table("idea_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idea_evidence_suggestion_id"), ["suggestion_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_idea_evidence_voice_item_id"), ["voice_item_id"], unique=False
        )

    op.create_table(
        "decision_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("expected", sa.String(length=10), nullable=False),
        sa.Column("decided_status", sa.String(length=20), nullable=False),
        sa.Column("decided_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("review_on", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("baseline_value", sa.Float(), nullable=True),
        sa.Column("review_value", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("asked_at", bot.storage.types.UTCDateTime(), nullable=True),
        sa.Column("answered_at", bot.storage.types.UTCDateTime(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("postponed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_at", bot.storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["members.id"],
            name=op.f("fk_decision_reviews_answered_by_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["members.id"],
            name=op.f("fk_decision_reviews_decided_by_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_decision_reviews_objective_id_objectives"),
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["suggestion_responses.id"],
            name=op.f("fk_decision_reviews_response_id_suggestion_responses"),
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["suggestions.id"],
            name=op.f("fk_decision_reviews_suggestion_id_suggestions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_reviews")),
    )
    with op.batch_alter_table("decision_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_decision_reviews_due", ["state", "review_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_decision_reviews_objective_id"), ["objective_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_decision_reviews_suggestion_id"), ["suggestion_id"], unique=False
        )

    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kpi_unit", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("kpi_direction", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("target_value", sa.Float(), nullable=True))

    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("evidence_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("evidence_theme", sa.String(length=100), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_suggestions_evidence_count"), ["evidence_count"], unique=False
        )

    with op.batch_alter_table("voice_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logged_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_voice_items_logged_by_id_members"), "members", ["logged_by_id"], ["id"]
        )

    _measure_written_targets()


_LOWER = re.compile(r"\b(under|below|less than|at most|within|no more than|max(imum)?)\b|<")
_HIGHER = re.compile(r"\b(over|above|more than|at least|min(imum)?)\b|>")
# An optional currency sign, then a number ("1,000" and "1,000,000" are thousands, "4,5" and
# "4.5" decimals), then the word after it: its unit when that word is one ("hours", "%"), or ends
# the text ("4.5 stars").
_NUMBER = re.compile(
    r"([€$£¥])?\s*(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|-?\d+(?:[.,]\d+)?)(\s*)(%|percent\b|[a-z]+)?"
)
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SCALES = {"k": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_UNITS = {
    "%": "%",
    "percent": "%",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "seconds": "seconds",
    "d": "days",
    "day": "days",
    "days": "days",
}


def read_written_target(text: str) -> tuple[float | None, str | None, str | None]:
    """(number, unit, direction) from a target as people wrote it; None where it is not plain.
    A copy frozen in this migration, so later changes to the services cannot change it."""
    lowered = text.strip().lower()
    numbers = list(_NUMBER.finditer(lowered))
    if len(numbers) != 1:
        return None, None, None
    currency, number, space, word = numbers[0].groups()
    value = float(
        number.replace(",", "") if _THOUSANDS.fullmatch(number) else number.replace(",", ".")
    )
    direction = "lower" if _LOWER.search(lowered) else "higher" if _HIGHER.search(lowered) else None
    if currency:
        return value * _SCALES.get(word or "", 1), currency, direction
    unit = _UNITS.get(word or "")
    if word and unit is None:
        if not space:  # "1.5k", "3x": a suffix that is no unit is not plain
            return None, None, None
        if not lowered[numbers[0].end() :].strip():
            unit = word[:30]  # "4.5 stars"; not "1,000 active users" nor "2 per week"
    return value, unit, direction


def _measure_written_targets() -> None:
    objectives = sa.table(
        "objectives",
        sa.column("id", sa.Integer),
        sa.column("target", sa.String),
        sa.column("kpi_unit", sa.String),
        sa.column("kpi_direction", sa.String),
        sa.column("target_value", sa.Float),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(objectives.c.id, objectives.c.target).where(objectives.c.target.is_not(None))
    ).all()
    for objective_id, target in rows:
        value, unit, direction = read_written_target(target)
        if value is None:
            continue
        connection.execute(
            objectives.update()
            .where(objectives.c.id == objective_id)
            .values(target_value=value, kpi_unit=unit, kpi_direction=direction)
        )


def downgrade() -> None:
    with op.batch_alter_table("voice_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_voice_items_logged_by_id_members"), type_="foreignkey"
        )
        batch_op.drop_column("logged_by_id")

    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestions_evidence_count"))
        batch_op.drop_column("evidence_theme")
        batch_op.drop_column("evidence_count")

    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_column("target_value")
        batch_op.drop_column("kpi_direction")
        batch_op.drop_column("kpi_unit")

    with op.batch_alter_table("decision_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_reviews_suggestion_id"))
        batch_op.drop_index(batch_op.f("ix_decision_reviews_objective_id"))
        batch_op.drop_index("ix_decision_reviews_due")

    op.drop_table("decision_reviews")
    with op.batch_alter_table("idea_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idea_evidence_voice_item_id"))
        batch_op.drop_index(batch_op.f("ix_idea_evidence_suggestion_id"))

    op.drop_table("idea_evidence")
    with op.batch_alter_table("kpi_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpi_readings_measured_on"))

    op.drop_table("kpi_readings")
    with op.batch_alter_table("voice_spikes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_spikes_period_start"))

    op.drop_table("voice_spikes")
