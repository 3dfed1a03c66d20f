"""What every CLI command shares: settings, logging, running async work, errors and output."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Application, open_application
from bot.chat.parsing import parse_id
from bot.config import Settings
from bot.errors import DomainError, InvalidInput
from bot.i18n import ENGLISH, speaking
from bot.storage.database import describe_database_url, normalise_database_url
from bot.text_safety import in_written_order

T = TypeVar("T")

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Our own code logs under these names, and its lines are written to name nobody: no user or
# conversation id, no member's name. Every other library is held at WARNING, whatever LOG_LEVEL
# or -v says, because below it they log what people sent and who they are: slack_sdk logs each
# Web API call's body and answer (users.info with the user id, then the profile with the name),
# slack_bolt the requests it routes, msrest and botbuilder the Bot Framework URLs (the person's
# conversation id) and bodies, urllib3 and aiohttp the URLs they fetch, SQLAlchemy the values of
# each statement. One such line a few milliseconds before an anonymous idea names its author.
OWN_LOGGERS = frozenset({"bot", "content", "adapters", "advocacy"})
LIBRARY_CEILING = logging.WARNING
# Set to the ceiling as well, so that they do not even build the lines the filter would drop.
CHATTY_LIBRARIES = (
    "slack_sdk",
    "slack_bolt",
    "botbuilder",
    "botframework",
    "msrest",
    "msal",
    "azure",
    "urllib3",
    "requests",
    "aiohttp",
    "asyncio",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "apscheduler",
    "matplotlib",
    "PIL",
    "charset_normalizer",
    "feedparser",
)
# What could still name someone in a line that is kept: an exception's text (a database error
# quotes its statement's values; a failed HTTP call its URL) or an id quoted by mistake.
REDACTIONS = (
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: hidden]"),
    (re.compile(r"(/conversations/)[^\s'\"?]+"), r"\1(hidden)"),
    (re.compile(r"(https?://hooks\.slack\.com/)\S+"), r"\1(hidden)"),
    # Slack user, enterprise user and direct-message ids (channels are not people: kept).
    (re.compile(r"\b[UWD](?=[A-Z0-9]*[0-9])[A-Z0-9]{8,}\b"), "(a Slack id)"),
    # Teams user (29:, 8:orgid:) and personal conversation (a:) ids.
    (re.compile(r"\b(?:29:1|a:1|8:orgid:)[\w\-]{8,}"), "(a Teams id)"),
)


def redact(text: str) -> str:
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class PrivacyFilter(logging.Filter):
    """On the handler, so it sees every record, whichever logger it was sent to."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name.split(".", 1)[0] in OWN_LOGGERS
        if record.levelno < LIBRARY_CEILING and not own:
            return False
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(PrivacyFilter())
    for library in CHATTY_LIBRARIES:
        logging.getLogger(library).setLevel(max(LIBRARY_CEILING, logging.getLevelName(level)))
    logging.getLogger(__name__).debug(
        "logging at %s; libraries log only warnings and errors (below that they name people)",
        level,
    )


class RecordId(click.ParamType):
    """An id as a command takes it (``42`` or ``#42``): a number too long to be one is refused
    in one line, as in chat, instead of failing inside the database driver."""

    name = "ID"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_id(str(value), self.what)
        except InvalidInput as error:
            self.fail(error.message, param, ctx)


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
    except OSError as error:
        if error.filename is None:
            raise click.ClickException(database_problem(error)) from None
        # A file the command reads or writes (an --output, a --chart): not the database.
        raise click.ClickException(f"cannot use {error.filename}: {error.strerror}.") from None
    except SQLAlchemyError as error:
        raise click.ClickException(database_problem(error)) from None


def database_problem(error: Exception) -> str:
    """One line: which database could not be used, why, and what to check."""
    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
    return (
        f"cannot use the database {describe_database_url(cli_settings().database_url)}: "
        f"{reason}. Check DATABASE_URL and that the server is running."
    )


def run_with_app(
    work: Callable[[Application], Awaitable[T]],
    *,
    adapters: bool = False,
    existing_database: bool = False,
) -> T:
    """Open the application (migrating the database), run ``work``, close everything.
    ``existing_database``: a command that only looks (an admin checking the inbox, say) refuses
    to create a new, empty SQLite file, which would report that all is well."""
    settings = cli_settings()
    if existing_database:
        require_existing_database(settings)

    async def main() -> T:
        async with open_application(settings, with_adapters=adapters) as app:
            # The admin CLI speaks English whatever ADVOCACY_LOCALE says: its own words are
            # English, and a refusal from the core must not arrive in another language.
            with speaking(ENGLISH):
                return await work(app)

    with fail_on_domain_error():
        return asyncio.run(main())


def require_existing_database(settings: Settings) -> None:
    url = make_url(normalise_database_url(settings.database_url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    if not Path(url.database).exists():
        raise click.ClickException(
            f"there is no database at {url.database}: run this where 'advocacy serve' runs "
            "(its directory), or set DATABASE_URL to its database."
        )


def file_progress(*, quiet: bool = False) -> Progress:
    """A progress bar for reading a large file, by bytes, on stderr (stdout stays for the
    report); ``quiet`` (--json) hides it, and so does a stderr that is no terminal (a log file
    or a pipe would get a stray blank line where the bar was)."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )


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
    """A table cell as written: no direction override may reorder it ("evil" shown "live")."""
    return Text("" if value is None else in_written_order(str(value)))
