"""shared pacing: one row per shared rate limit, so several instances keep one cap

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:30:00

Two instances on one PostgreSQL database each paced Slack's workspace cap (and Teams' tenant
cap) alone, so together they sent at twice the cap. Each shared limit now keeps the time of its
next free slot here; an instance takes a block of slots with one statement
(bot/shared_pacing.py). A single SQLite instance never writes to this table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pacing_slots",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("next_slot", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pacing_slots")),
    )


def downgrade() -> None:
    op.drop_table("pacing_slots")
