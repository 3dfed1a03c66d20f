"""What every CLI command shares: settings, logging, running async work, errors and output."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Application, open_application
from bot.config import Settings
from bot.errors import DomainError
from bot.storage.database import describe_database_url

T = TypeVar("T")

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)
    # Each SQL statement or HTTP access line is noise at INFO; raise them only when debugging.
    for noisy in ("sqlalchemy.engine", "aiosqlite", "alembic.runtime.migration", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def cli_settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@contextmanager
def fail_on_domain_error() -> Iterator[None]:
    """Show a domain error as one line on stderr and exit non-zero; nothing was committed."""
    try:
        yield
    except DomainError as error:
        raise click.ClickException(error.message) from None
    except ValueError as error:
        # Configuration problems (a bad DATABASE_URL, for example) arrive as ValueError.
        raise click.ClickException(str(error)) from None
    except (OSError, SQLAlchemyError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise click.ClickException(
            f"cannot use the database {describe_database_url(cli_settings().database_url)}: "
            f"{reason}. Check DATABASE_URL and that the server is running."
        ) from None


def run_with_app(work: Callable[[Application], Awaitable[T]], *, adapters: bool = False) -> T:
    """Open the application (migrating the database), run ``work``, close everything."""
    settings = cli_settings()

    async def main() -> T:
        async with open_application(settings, with_adapters=adapters) as app:
            return await work(app)

    with fail_on_domain_error():
        return asyncio.run(main())


def stdout_console() -> Console:
    """Tables fit the terminal; piped into a file or another program, they are not squeezed."""
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=False, width=160)
    return console


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str
) -> None:
    """A table for people; ``empty`` says what to do when there is nothing to show."""
    console = stdout_console()
    if not rows:
        console.print(empty, markup=False)
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # Values come from users: never let them be read as rich markup.
        table.add_row(*[_cell(value) for value in row])
    console.print(table)


def _cell(value: Any) -> Text:
    return Text("" if value is None else str(value))
