"""``advocacy secret-key``: a strong ADVOCACY_SECRET_KEY, since a weak one is refused at start."""

from __future__ import annotations

import sys

import click

from bot.sealing import new_secret


@click.command("secret-key")
def secret_key() -> None:
    """Print a new, strong ADVOCACY_SECRET_KEY (32 random bytes).

    Set it once and keep it safe: it seals anonymous authors, and changing it later means the
    authors of earlier anonymous ideas can no longer be told about them. For example:

        echo "ADVOCACY_SECRET_KEY=$(advocacy secret-key)" >> .env
    """
    click.echo(new_secret())
    if sys.stdout.isatty():
        click.echo(
            "Set it as ADVOCACY_SECRET_KEY (in .env or the environment) and keep a copy.",
            err=True,
        )


def register(root: click.Group) -> None:
    root.add_command(secret_key)
