"""member locale: the language each member is spoken to in

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:00:00

``locale`` is what the platform said last (Slack's users.info, Teams' activity) until the member
chooses one in /prefs; ``locale_chosen`` keeps a platform's hint from overriding that choice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (a batch copy of ``members`` would trip SQLite's foreign keys).
    op.add_column("members", sa.Column("locale", sa.String(length=16), nullable=True))
    op.add_column(
        "members",
        sa.Column("locale_chosen", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("locale_chosen")
        batch.drop_column("locale")
