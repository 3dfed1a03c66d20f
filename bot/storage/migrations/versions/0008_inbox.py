"""the durable inbox replaces processed_events

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 03:30:00

Inbound events are written to ``inbox_events`` before the platform is told they arrived, and
handled from there (bot/inbox/). ``processed_events`` kept platform event ids in plain text (a
Teams activity id names the author's conversation) and was never purged: it is dropped with its
rows, and the inbox keeps only keyed hashes, purged after the platforms' retry window.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("lease_until", bot.storage.types.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.Column("handled_at", bot.storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_inbox_events_event_key")),
    )
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_events_queue", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_inbox_events_handled_at", ["handled_at"], unique=False)
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_events_created_at"))
    op.drop_table("processed_events")


def downgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "event_id", name=op.f("pk_processed_events")),
    )
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_events_created_at"), ["created_at"], unique=False
        )
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_events_handled_at")
        batch_op.drop_index("ix_inbox_events_queue")
    op.drop_table("inbox_events")
