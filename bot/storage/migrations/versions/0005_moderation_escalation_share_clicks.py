"""moderation, escalation and share clicks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("network", sa.String(length=30), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("created_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["content_items.id"],
            name=op.f("fk_share_clicks_content_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_share_clicks_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_clicks")),
    )
    with op.batch_alter_table("share_clicks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_clicks_content_id"), ["content_id"])
        batch_op.create_index(batch_op.f("ix_share_clicks_created_at"), ["created_at"])
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hidden_at", bot.storage.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("hidden_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("contributor_tag", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("escalated_at", bot.storage.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("contributor_tag")
        batch_op.drop_column("hidden_reason")
        batch_op.drop_column("hidden_at")
    with op.batch_alter_table("share_clicks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_clicks_created_at"))
        batch_op.drop_index(batch_op.f("ix_share_clicks_content_id"))
    op.drop_table("share_clicks")
