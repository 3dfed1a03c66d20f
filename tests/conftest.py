"""Shared fixtures: a real database (a SQLite file, and PostgreSQL when TEST_DATABASE_URL is set)
and the real application built by the composition root."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.shell import ShellAdapterFactory
from bot.app import Application, open_application
from bot.config import Settings
from bot.domain import Role
from bot.events import Actor
from bot.platform import AdapterRegistry, installed_platforms
from bot.services.members import add_member
from bot.services.permissions import OPERATOR
from bot.storage.database import normalise_database_url
from bot.storage.models import Member
from tests.fakes import RemoteAdapterFactory, RemotePlatform
from tests.postgres_lock import postgres_turn

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
SECRET = "conftest-key-c2cdebfe8c1d709ef3bbaf5c"


async def _postgres(statement: str) -> None:
    import asyncpg

    url = normalise_database_url(POSTGRES_URL or "").replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(autouse=True)
def _postgres_shared(request: pytest.FixtureRequest) -> Iterator[None]:
    """While PostgreSQL tests run, a test of another run on this machine may not restart it."""
    if not POSTGRES_URL or request.node.get_closest_marker("restarts_postgres"):
        yield
        return
    with postgres_turn(exclusive=False):
        yield


def make_settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    schema = None
    url = f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}"
    if backend == "postgresql":
        assert POSTGRES_URL
        schema = f"test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_postgres(f'CREATE SCHEMA "{schema}"'))
        url = POSTGRES_URL
    yield Settings(
        database_url=url,
        database_schema=schema,
        data_dir=tmp_path / "data",
        secret_key=SECRET,
        delivery_max_attempts=3,
    )
    if schema:
        asyncio.run(_postgres(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Runs the test once per available database engine."""
    yield from make_settings(request.param, tmp_path)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings("sqlite", tmp_path)


@pytest.fixture
def remote() -> RemotePlatform:
    return RemotePlatform()


@pytest.fixture
async def app(settings: Settings, remote: RemotePlatform) -> AsyncIterator[Application]:
    registry = AdapterRegistry([ShellAdapterFactory(), RemoteAdapterFactory(remote)])
    async with open_application(settings, registry=registry) as application:
        yield application


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running the real CLI against a fresh SQLite file in a scratch directory."""
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'advocacy.db'}",
        "ADVOCACY_DATA_DIR": str(tmp_path / "data"),
        "ADVOCACY_SECRET_KEY": SECRET,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("DATABASE_SCHEMA", "LOG_LEVEL"):
        monkeypatch.delenv(key, raising=False)
    return env


async def make_member(
    app: Application,
    user_id: str,
    *,
    role: Role = Role.EMPLOYEE,
    team: str | None = "Support",
    platform: str = "remote",
    manager: str | None = None,
) -> Member:
    async with app.db.transaction() as session:
        return await add_member(
            session,
            OPERATOR,
            platform,
            user_id,
            name=user_id.capitalize(),
            team=team,
            role=role,
            manager_user_id=manager,
            # The test's own platforms, and those installed (a Slack member without Slack).
            platforms={*app.registry.platforms, *installed_platforms()},
        )


def actor(user_id: str, platform: str = "remote") -> Actor:
    return Actor(platform=platform, user_id=user_id)
