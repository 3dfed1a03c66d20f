"""member preferences, local-time digests, delivery lease owners

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("muted_kinds", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("cadence", sa.String(length=10), server_default="daily", nullable=False)
        )
        batch_op.add_column(sa.Column("quiet_hours", sa.String(length=11), nullable=True))
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("local_time", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("lease_owner")
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_column("local_time")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours")
        batch_op.drop_column("cadence")
        batch_op.drop_column("muted_kinds")
