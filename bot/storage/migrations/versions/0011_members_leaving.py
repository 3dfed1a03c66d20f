"""members who left: when (the day) and who said so

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:00:00

A member who left the company keeps their row (their ideas, votes and feedback are history) but
is no longer counted among a team's active members, sent digests or listed. Everyone already in
the table is active, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_at", bot.storage.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("left_by", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("left_by")
        batch_op.drop_column("left_at")
