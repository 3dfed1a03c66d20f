"""Members for the large fan-out runs, written in bulk.

`advocacy members import` takes minutes for 100,000 people (one person at a time, with every
check an HR import needs); the large runs measure the digest, not the import. So the members and
their platform identities are inserted with executemany, in the shape the import writes them, on
a database the project's migrations created.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import insert

CHUNK = 10_000
# The languages the large runs spread their members over (issue 17: each gets the digest in
# their own); None is the workspace's default.
LOCALES: tuple[str | None, ...] = (None, None, None, "de", "fr", "es", "pt_BR", "ja")


async def _insert_members(
    env: dict[str, str], work: Path, platform: str, workspace: str, users: Sequence[str]
) -> None:
    from bot.app import open_application
    from bot.config import Settings
    from bot.storage.models import Member, MemberIdentity, Team
    from bot.storage.types import utcnow

    settings = Settings.from_env(env, dotenv=work / ".env")
    async with open_application(settings, with_adapters=False) as app:
        now = utcnow()
        async with app.db.transaction() as session:
            await session.execute(
                insert(Team), [{"name": f"Team {n}", "created_at": now} for n in range(40)]
            )
        for start in range(0, len(users), CHUNK):
            chunk = range(start, min(start + CHUNK, len(users)))
            async with app.db.transaction() as session:
                await session.execute(
                    insert(Member),
                    [
                        {
                            "id": n + 1,
                            "display_name": f"Employee {n}",
                            "role": "employee",
                            "timezone": "UTC",
                            "team_id": n % 40 + 1,
                            "muted_kinds": [],
                            "cadence": "daily",
                            "locale": LOCALES[n % len(LOCALES)],
                            "locale_chosen": False,
                            "created_at": now,
                        }
                        for n in chunk
                    ],
                )
                await session.execute(
                    insert(MemberIdentity),
                    [
                        {
                            "member_id": n + 1,
                            "platform": platform,
                            "workspace": workspace,
                            "user_id": users[n],
                            "created_at": now,
                        }
                        for n in chunk
                    ],
                )


def bulk_members(
    env: dict[str, str], work: Path, platform: str, workspace: str, users: Sequence[str]
) -> None:
    """``users`` as members on ``platform`` in ``workspace`` (tenant), in one language each
    (spread over LOCALES), across 40 teams."""
    asyncio.run(_insert_members(env, work, platform, workspace, users))
