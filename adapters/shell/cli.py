"""``advocacy shell``: registered into the core CLI through the ``advocacy.cli`` entry point."""

from __future__ import annotations

import asyncio
import getpass
import sys

import click

from adapters.shell.adapter import PLATFORM, ShellAdapterFactory, mailbox_for
from adapters.shell.session import ShellSession
from adapters.shell.users import require_shell_user
from bot.events import Actor
from bot.i18n import SUPPORTED, normalize_locale, speaking
from bot.platform.cli import cli_settings, fail_on_domain_error, open_local
from bot.platform.members import ROLES

# The shell's counterpart of a platform's user locale (``--locale``), for a terminal set up once.
LOCALE_VARIABLE = "ADVOCACY_SHELL_LOCALE"


def _supported_locale(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    """``de-DE``, ``ja`` or ``Deutsch`` as the language the bot speaks; refused otherwise."""
    if not value:
        return None
    locale = normalize_locale(value)
    if locale is None:
        raise click.BadParameter(
            f"'{value}' is not a language the bot speaks; use one of {', '.join(SUPPORTED)}."
        )
    return locale


@click.command("shell")
@click.option(
    "--user", "user_id", default=None, help="Who you are in the shell [default: your login]."
)
@click.option("--name", default=None, help="Your display name, used when you are new.")
@click.option(
    "--new",
    "create",
    is_flag=True,
    help="Create the user as a new employee if they are not a member yet (without it, an "
    "unknown user is refused, with the closest existing one).",
)
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=None,
    help="Act as this role (for example strategist or manager); saved for the user.",
)
@click.option(
    "--locale",
    envvar=LOCALE_VARIABLE,
    show_envvar=True,
    callback=_supported_locale,
    default=None,
    help="Your language, as Slack or Teams would say it: "
    + ", ".join(SUPPORTED)
    + " (or de-DE, ja-JP...). A language chosen with /prefs language wins over it.",
)
def shell_command(
    user_id: str | None, name: str | None, role: str | None, create: bool, locale: str | None
) -> None:
    """Chat with the bot in this terminal (works with piped input, for scripts).

    Piped input exits with status 1 when any command in it failed (each failure is shown with
    '!', and the count at the end)."""
    user = user_id or getpass.getuser()
    settings = cli_settings()

    async def main() -> int:
        # The session delivers shell messages itself; other platforms stay queued for the server.
        async with open_local(settings, ShellAdapterFactory()) as local:
            members = local.context.members
            if not create:
                with speaking(locale):
                    await require_shell_user(members, user, create_with="--new")
            if role:
                await members.grant_role(
                    Actor(PLATFORM, user, display_name=name, locale=locale), role
                )
            session_ = ShellSession(
                local,
                mailbox_for(settings),
                user,
                display_name=name,
                locale=locale,
                stdin=sys.stdin,
                stdout=sys.stdout,
                interactive=sys.stdin.isatty(),
            )
            return await session_.run()

    with fail_on_domain_error():
        sys.exit(asyncio.run(main()))


def register(root: click.Group) -> None:
    root.add_command(shell_command)
