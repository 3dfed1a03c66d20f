"""indexes for reports: recent feedback by subject type, most voted suggestions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 08:10:00

The objectives report reads feedback of one subject type within a period; without an index on
(subject_type, created_at) every report scanned all feedback ever given. Rollups list the most
voted ideas; without an index on vote_count every rollup sorted every idea.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_recent", ["subject_type", "created_at"], unique=False)
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_suggestions_vote_count"), ["vote_count"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestions_vote_count"))
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_recent")
