"""``advocacy demo``: load the sample organisation and send its first digests to the shell."""

from __future__ import annotations

import getpass

import click

from bot.app import Application
from bot.cli.runtime import run_with_app
from bot.services.digest_runs import start_run
from bot.services.digests import get_digest
from bot.services.permissions import OPERATOR
from content.demo.loader import DemoReport, load_demo

FIRST_DIGESTS = ("Monday picks", "Customer voice weekly")


@click.command("demo")
@click.option("--you", default=None, help="Your shell user id [default: your login].")
@click.option("--no-send", is_flag=True, help="Load the data without sending the first digests.")
def demo_command(you: str | None, no_send: bool) -> None:
    """Load a sample organisation, objectives, content, customer voice, digests and ideas.

    Then the first content and customer-voice digests are sent, so that 'advocacy shell' shows
    them at once. Running it again adds nothing twice.
    """
    user = you or getpass.getuser()

    async def work(app: Application) -> tuple[DemoReport, list[str]]:
        report = await load_demo(app.db, app.sealer, you=user)
        sent: list[str] = []
        if not no_send:
            for name in FIRST_DIGESTS:
                async with app.db.transaction() as session:
                    digest = await get_digest(session, name)
                    outcome = await start_run(
                        session,
                        app.sealer,
                        digest,
                        actor=OPERATOR,
                        composers=app.extensions.composers,
                    )
                if outcome is not None and outcome.queued:
                    sent.append(f"'{name}' to {outcome.queued} members")
            assert app.worker is not None
            await app.worker.drain(wait_for_retries=False)
        return report, sent

    report, sent = run_with_app(work, adapters=True)
    click.echo(
        f"Demo loaded: {report.members} members, {report.objectives} objectives, "
        f"{report.content} articles, {report.voice} customer voices, {report.digests} digests, "
        f"{report.suggestions} suggestions."
    )
    for note in report.notes:
        click.echo(note)
    if sent:
        click.echo("Sent " + " and ".join(sent) + ".")
    click.echo(
        "\nTry it:\n"
        f"  advocacy shell                      # you, as an employee ({user})\n"
        "  advocacy shell --user mike          # Mike, manager of Support: try /rollup\n"
        "  advocacy shell --user dana          # Dana, strategist: try /digest list\n"
    )
