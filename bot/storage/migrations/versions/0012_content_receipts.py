"""content receipts: which content items each person or channel was sent

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 09:00:00

A content digest used to skip only what the same digest had sent before, so a second digest to
a team sent the first one's articles again. Receipts are kept per delivery target instead. The
items that earlier runs sent are carried over for their deliveries that were not dead-lettered,
so upgrading does not send everyone last week's articles again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.types
from bot.storage.types import utcnow

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "content_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("content_item_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("created_at", bot.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_item_id"],
            ["content_items.id"],
            name=op.f("fk_content_receipts_content_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_content_receipts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_receipts")),
        sa.UniqueConstraint(
            "delivery_id",
            "content_item_id",
            name=op.f("uq_content_receipts_delivery_id_content_item_id"),
        ),
    )
    with op.batch_alter_table("content_receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_content_receipts_target", ["target", "content_item_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_content_receipts_content_item_id"), ["content_item_id"], unique=False
        )
    _carry_over_earlier_runs()


def _carry_over_earlier_runs() -> None:
    runs = sa.table("digest_runs", sa.column("id", sa.Integer), sa.column("content_ids", sa.JSON))
    deliveries = sa.table(
        "deliveries",
        sa.column("id", sa.Integer),
        sa.column("run_id", sa.Integer),
        sa.column("member_id", sa.Integer),
        sa.column("platform", sa.String),
        sa.column("workspace", sa.String),
        sa.column("recipient", sa.String),
        sa.column("channel", sa.Boolean),
        sa.column("status", sa.String),
    )
    receipts = sa.table(
        "content_receipts",
        sa.column("delivery_id", sa.Integer),
        sa.column("content_item_id", sa.Integer),
        sa.column("target", sa.String),
        sa.column("created_at", bot.storage.types.UTCDateTime()),
    )
    items = sa.table("content_items", sa.column("id", sa.Integer))
    connection = op.get_bind()
    existing = set(connection.execute(sa.select(items.c.id)).scalars())
    sent = {
        run_id: [i for i in ids if i in existing]
        for run_id, ids in connection.execute(sa.select(runs.c.id, runs.c.content_ids))
        if ids
    }
    if not sent:
        return
    now = utcnow()
    rows = []
    query = sa.select(deliveries).where(
        deliveries.c.run_id.is_not(None), deliveries.c.status != "dead"
    )
    for delivery in connection.execute(query).all():
        if delivery.run_id not in sent:
            continue
        if delivery.channel:
            target = f"channel:{delivery.platform}:{delivery.workspace}:{delivery.recipient}"
        elif delivery.member_id is not None:
            target = f"member:{delivery.member_id}"
        else:
            continue
        rows += [
            {"delivery_id": delivery.id, "content_item_id": i, "target": target, "created_at": now}
            for i in sent[delivery.run_id]
        ]
        if len(rows) >= BATCH:
            connection.execute(sa.insert(receipts), rows)
            rows = []
    if rows:
        connection.execute(sa.insert(receipts), rows)


def downgrade() -> None:
    with op.batch_alter_table("content_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_receipts_content_item_id"))
        batch_op.drop_index("ix_content_receipts_target")
    op.drop_table("content_receipts")
