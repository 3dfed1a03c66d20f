"""delivery run index: deliveries by (run_id, status), in place of run_id alone

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:30:00

Whether a digest run still has a delivery waiting or in flight (``finish_completed_runs``, after
every outbox batch) was looked up through the queue's index, walking the waiting rows of every
other run; with (run_id, status) it is one index probe. The index on run_id alone is a prefix of
the new one, so it goes: one index fewer to write for each delivery queued.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_run_status", ["run_id", "status"], unique=False)
        batch_op.drop_index(batch_op.f("ix_deliveries_run_id"))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_run_id"), ["run_id"], unique=False)
        batch_op.drop_index("ix_deliveries_run_status")
