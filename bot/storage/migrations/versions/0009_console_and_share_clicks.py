"""console notices kept by the server; a share click counted once per person

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:30:00

``console_sessions`` gets the one-line notice the console shows after a form (before, the text
travelled in ``?notice=``, so anyone could write it into a link). ``share_clicks`` gets the
``visitor`` who clicked and a unique key on (item, network, visitor): a link fetched again counts
once. Existing clicks from a person's own message are merged to one per person, item and network;
clicks on links posted in a channel cannot be told apart afterwards, so each keeps counting once,
as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("notice_refused", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("share_clicks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visitor", sa.String(length=64), nullable=True))
    op.execute(
        "DELETE FROM share_clicks WHERE member_id IS NOT NULL AND id NOT IN ("
        "SELECT MIN(id) FROM share_clicks WHERE member_id IS NOT NULL "
        "GROUP BY content_id, network, member_id)"
    )
    op.execute(
        "UPDATE share_clicks SET visitor = CASE WHEN member_id IS NULL "
        "THEN 'legacy:' || CAST(id AS VARCHAR(20)) "
        "ELSE 'member:' || CAST(member_id AS VARCHAR(20)) END"
    )
    with op.batch_alter_table("share_clicks", schema=None) as batch_op:
        batch_op.alter_column("visitor", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_share_clicks_content_id_network_visitor"),
            ["content_id", "network", "visitor"],
        )


def downgrade() -> None:
    with op.batch_alter_table("share_clicks", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_share_clicks_content_id_network_visitor"), type_="unique"
        )
        batch_op.drop_column("visitor")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_column("notice_refused")
        batch_op.drop_column("notice")
