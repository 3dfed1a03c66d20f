"""``advocacy console-link``: a console sign-in link for an admin with no chat platform."""

from __future__ import annotations

import click

from bot.app import Application
from bot.cli.runtime import run_with_app
from bot.compose.text import with_article
from bot.console.auth import LINK_TTL
from bot.console.invite import link_for
from bot.console.sections import CONSOLE_ROLES
from bot.errors import InvalidInput
from bot.services.members import get_member
from bot.services.permissions import has_role


@click.command("console-link")
@click.argument("platform")
@click.argument("user_id")
@click.option("--workspace", default="", help="The Slack team or Teams tenant of the user id.")
def console_link(platform: str, user_id: str, workspace: str) -> None:
    """Print a one-time sign-in link to the web console for member PLATFORM USER_ID."""

    async def work(app: Application) -> tuple[str, str]:
        async with app.db.transaction() as session:
            member = await get_member(session, platform, user_id, workspace.strip())
            if not has_role(member, *CONSOLE_ROLES):
                # A link would open a console with no page for them, as chat's /console says.
                raise InvalidInput(
                    f"{member.display_name} is {with_article(member.role)}, and the console has "
                    "no page for employees: give them a role first, e.g. advocacy roles grant "
                    f"{platform} {user_id} manager (or strategist, admin)."
                )
            return await link_for(session, member, app.settings.public_url), member.role

    url, role = run_with_app(work)
    minutes = int(LINK_TTL.total_seconds() // 60)
    click.echo(url)
    click.echo(
        f"Open it in a browser and press Sign in: it works once, for {minutes} minutes, and "
        f"opens the console as {with_article(role)}. PUBLIC_URL must be where this server is "
        "reached.",
        err=True,
    )


def register(root: click.Group) -> None:
    root.add_command(console_link)
