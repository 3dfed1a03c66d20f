"""The ``advocacy`` command: core commands plus those that installed plugins register.

Adapters and content/ add their own commands (``shell``, ``demo``...) through the
``advocacy.cli`` entry point group, so the core never imports them.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import click

from bot import __version__
from bot.cli import (
    console,
    content,
    db,
    deliveries,
    digests,
    inbox,
    keys,
    members,
    objectives,
    report,
    reviews,
    serve,
    suggestions,
)
from bot.cli.runtime import configure_logging

log = logging.getLogger(__name__)

PLUGIN_GROUP = "advocacy.cli"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="advocacy")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (DEBUG level) on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Employee-advocacy bot for Slack, Microsoft Teams and the terminal.

    Curated content and customer-voice digests, feedback on everything it sends, and bottom-up
    suggestions with manager answers, all tied to business objectives.

    Configuration comes from environment variables (and a .env file); DATABASE_URL defaults to
    the SQLite file advocacy.db in this directory. Start with: advocacy demo && advocacy shell
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    configure_logging("DEBUG" if verbose else "WARNING")


for module in (
    serve,
    db,
    members,
    objectives,
    content,
    digests,
    deliveries,
    inbox,
    suggestions,
    report,
    reviews,
    console,
    keys,
):
    module.register(cli)


def _load_plugins(root: click.Group) -> None:
    for entry_point in entry_points(group=PLUGIN_GROUP):
        try:
            entry_point.load()(root)
        except Exception as error:  # one broken plugin must not take the whole CLI down
            click.echo(f"warning: commands from {entry_point.name} unavailable: {error}", err=True)


_load_plugins(cli)


def main() -> None:
    cli(prog_name="advocacy")
