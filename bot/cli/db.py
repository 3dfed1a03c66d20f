"""``advocacy db``: schema migrations."""

from __future__ import annotations

import asyncio

import click
from alembic import command

from bot.cli.runtime import cli_settings, fail_on_domain_error
from bot.storage import migrate
from bot.storage.database import Database, describe_database_url


@click.group("db")
def db_group() -> None:
    """Database schema: migrations are also applied whenever the bot starts."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply pending migrations."""
    settings = cli_settings()

    async def main() -> tuple[str | None, str | None]:
        database = Database(settings.database_url, search_path=settings.database_schema)
        try:
            return await migrate.upgrade(database, revision)
        finally:
            await database.dispose()

    with fail_on_domain_error():
        before, after = asyncio.run(main())
    where = describe_database_url(settings.database_url)
    if before == after:
        click.echo(f"{where} is up to date (revision {after}).")
    else:
        click.echo(f"{where} upgraded from {before or 'an empty database'} to {after}.")


@db_group.command("current")
def current() -> None:
    """Show the database's schema revision and the newest one this version knows; exits 1
    when an upgrade is due, so a deployment script can check before starting."""
    settings = cli_settings()

    async def main() -> str | None:
        database = Database(settings.database_url, search_path=settings.database_schema)
        try:
            await migrate.require_schema(database)
            return await migrate.current_revision(database)
        finally:
            await database.dispose()

    with fail_on_domain_error():
        revision = asyncio.run(main())
    head = migrate.head_revision()
    state = "up to date" if revision == head else "needs: advocacy db upgrade"
    click.echo(f"revision {revision or 'none'} (newest {head}): {state}")
    if revision != head:
        raise SystemExit(1)


@db_group.command("revision")
@click.argument("message")
def revision(message: str) -> None:
    """For developers: write a new migration from the difference between the models and the
    database (which is first brought up to date)."""
    settings = cli_settings()

    async def main() -> None:
        database = Database(settings.database_url, search_path=settings.database_schema)
        try:
            await migrate.upgrade(database)
            async with database.engine.begin() as connection:
                await connection.run_sync(
                    lambda sync: command.revision(
                        migrate.alembic_config(sync), message=message, autogenerate=True
                    )
                )
        finally:
            await database.dispose()

    with fail_on_domain_error():
        asyncio.run(main())


def register(root: click.Group) -> None:
    root.add_command(db_group)
