"""anonymity against inference: sealed contributor tags, anonymous ideas placed and dated coarsely

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:30:00

Anonymous ideas filed before this revision stored:

- a plain keyed contributor tag, equal for all of one person's ideas, so anyone reading the
  database could link them. Tags are now sealed with a random IV (bot/sealing.py), which needs
  the server's key, and a migration does not have it. The plain tags are dropped: rollups count
  an anonymous idea without a tag as "at least one person, maybe someone already counted" (low,
  never high), so the only cost is that small groups merge into "other" more often.
- the author's own team, even a team of one. Each is moved to where a new idea from that team
  goes now (bot/services/anonymous_scope.py), computed from the members table.
- exact times, now kept to the hour.

The sealed author reference of those ideas still carries the second it was made (a Fernet token
dates itself); new ones are undated. That cannot be changed without the key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.types
from bot.services.anonymous_scope import coarse_time, team_scopes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

suggestions = sa.table(
    "suggestions",
    sa.column("id", sa.Integer()),
    sa.column("anonymous", sa.Boolean()),
    sa.column("contributor_tag", sa.Text()),
    sa.column("team_id", sa.Integer()),
    sa.column("created_at", bot.storage.types.UTCDateTime()),
    sa.column("updated_at", bot.storage.types.UTCDateTime()),
)
teams = sa.table("teams", sa.column("id", sa.Integer()), sa.column("name", sa.String()))
members = sa.table(
    "members",
    sa.column("id", sa.Integer()),
    sa.column("team_id", sa.Integer()),
    sa.column("manager_id", sa.Integer()),
    sa.column("role", sa.String()),
)


def upgrade() -> None:
    connection = op.get_bind()
    # Plain tags are 16 hexadecimal characters; sealed ones are far longer.
    connection.execute(
        suggestions.update()
        .where(sa.func.length(suggestions.c.contributor_tag) <= 32)
        .values(contributor_tag=None)
    )
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.alter_column(
            "contributor_tag",
            existing_type=sa.String(length=32),
            type_=sa.Text(),
            existing_nullable=True,
        )
    scopes = team_scopes(
        connection.execute(sa.select(teams.c.id, teams.c.name)),
        connection.execute(
            sa.select(members.c.id, members.c.team_id, members.c.manager_id, members.c.role)
        ),
    )
    anonymous = connection.execute(
        sa.select(
            suggestions.c.id,
            suggestions.c.team_id,
            suggestions.c.created_at,
            suggestions.c.updated_at,
        ).where(suggestions.c.anonymous)
    )
    changes = [
        {
            "key": idea,
            "team": scopes.place(team) if team is not None else None,
            "created": coarse_time(created),
            "updated": coarse_time(updated),
        }
        for idea, team, created, updated in anonymous
    ]
    if changes:
        connection.execute(
            suggestions.update()
            .where(suggestions.c.id == sa.bindparam("key"))
            .values(
                team_id=sa.bindparam("team"),
                created_at=sa.bindparam("created", type_=bot.storage.types.UTCDateTime()),
                updated_at=sa.bindparam("updated", type_=bot.storage.types.UTCDateTime()),
            ),
            changes,
        )


def downgrade() -> None:
    # A sealed tag cannot be turned back into a plain one without the key: they are dropped.
    op.get_bind().execute(suggestions.update().values(contributor_tag=None))
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.alter_column(
            "contributor_tag",
            existing_type=sa.Text(),
            type_=sa.String(length=32),
            existing_nullable=True,
        )
