"""A Slack workspace of many employees for the outbox's end-to-end tests: the fake Web API with
Slack's limits, the environment ``advocacy`` child processes run with, and a digest to send."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import open_application
from bot.config import Settings
from bot.services.content import add_content
from bot.services.digests import add_digest
from bot.services.members import add_member
from bot.services.permissions import OPERATOR
from bot.storage.models import Digest
from tests.slack_fake import FakeSlack
from tests.slack_support import SIGNING_SECRET, TEAM


def slack_env(fake: FakeSlack, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ADVOCACY_DATA_DIR": str(data_dir),
        "ADVOCACY_SECRET_KEY": "outbox-support-key-29f4851e912b8a8a22bae843",
        "LOG_LEVEL": "INFO",
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        **extra,
    }
    if "DATABASE_SCHEMA" not in extra:
        env.pop("DATABASE_SCHEMA", None)
    return env


def user_ids(prefix: str, count: int) -> list[str]:
    return [f"U{prefix}{n:05d}" for n in range(count)]


async def article_and_daily_digest(session: AsyncSession, title: str = "Read me") -> Digest:
    """An approved article and a content digest called 'daily' to every member."""
    await add_content(session, OPERATOR, "https://example.com/a", title=title)
    return await add_digest(
        session,
        OPERATOR,
        "daily",
        kind="content",
        audience="all",
        cron="0 9 * * *",
        timezone="UTC",
    )


async def employees_and_a_digest(env: dict[str, str], prefix: str, count: int) -> list[str]:
    """``count`` Slack members, an article and a digest called 'daily' to all of them."""
    users = user_ids(prefix, count)
    settings = Settings.from_env(env, dotenv=Path(os.devnull))
    async with (
        open_application(settings, with_adapters=False) as app,
        app.db.transaction() as session,
    ):
        for user in users:
            await add_member(session, OPERATOR, "slack", user, name=user, workspace=TEAM)
        await article_and_daily_digest(session)
    return users
