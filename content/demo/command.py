"""``advocacy demo``: load the sample organisation and send its first digests to the shell; say
so when it is already loaded; start it again from scratch (``--reset``) or take it away
(``--remove``), from a database that holds nothing else; print the tour (``--tour``)."""

from __future__ import annotations

import getpass
import shutil
from importlib.resources import files

import click

from bot.app import Application
from bot.cli.runtime import run_with_app
from bot.errors import Conflict
from bot.services.digest_runs import start_run
from bot.services.digests import get_digest
from bot.services.permissions import OPERATOR
from content.demo.loader import PLATFORM, DemoReport, load_demo
from content.demo.reset import not_the_demos, remove_everything

FIRST_DIGESTS = ("Monday picks", "Customer voice weekly")


def tour_text() -> str:
    """The scripted tour, from the installed package (so pip and Docker installs have it)."""
    return files("content.demo").joinpath("tour.txt").read_text(encoding="utf-8")


@click.command("demo")
@click.option("--you", default=None, help="Your shell user id [default: your login].")
@click.option("--no-send", is_flag=True, help="Load the data without sending the first digests.")
@click.option(
    "--reset",
    is_flag=True,
    help="Remove the demo (and what was done with it in the shell), then load it afresh.",
)
@click.option("--remove", is_flag=True, help="Remove the demo and load nothing.")
@click.option("--yes", "confirmed", is_flag=True, help="Do not ask before removing.")
@click.option(
    "--tour",
    is_flag=True,
    help="Print the scripted tour, for: advocacy demo --tour | advocacy shell --user alice",
)
def demo_command(
    you: str | None, no_send: bool, reset: bool, remove: bool, confirmed: bool, tour: bool
) -> None:
    """Load a sample organisation, objectives, content, customer voice, digests and ideas.

    Then the first content and customer-voice digests are sent, so that 'advocacy shell' shows
    them at once. Running it again adds nothing and says what is there. --reset and --remove
    work only on a database that holds nothing but the demo: any Slack or Teams member, any
    article, customer voice or digest that is not the demo's stops them, with what it is.
    """
    if tour:
        click.echo(tour_text(), nl=False)
        return
    if (reset or remove) and not confirmed:
        click.confirm(
            "Remove the demo and everything done with it in the shell?", abort=True, err=True
        )
    user = you or getpass.getuser()

    async def work(app: Application) -> tuple[DemoReport | None, list[str], bool]:
        removed = False
        if reset or remove:
            async with app.db.transaction() as session:
                others = await not_the_demos(session)
                if others:
                    raise Conflict(
                        "This database holds data that is not the demo's ("
                        + ", ".join(others)
                        + "); nothing was removed. Try the demo with its own database: "
                        "DATABASE_URL=sqlite+aiosqlite:///demo.db advocacy demo"
                    )
                await remove_everything(session)
            # The shell's mailboxes (its "server side") go too: their messages name ideas and
            # articles that are gone, and whose numbers the fresh demo gives to others.
            shutil.rmtree(app.settings.data_dir / PLATFORM, ignore_errors=True)
            removed = True
            if remove:
                return None, [], removed
        report = await load_demo(
            app.db,
            app.sealer,
            you=user,
            join_if_loaded=you is not None,
            evidence=app.extensions.evidence,
        )
        sent: list[str] = []
        if not no_send and not report.already_loaded:
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
        return report, sent, removed

    report, sent, removed = run_with_app(work, adapters=True)
    if removed:
        click.echo("The demo was removed.")
    if report is None:
        return
    if report.already_loaded:
        click.echo(
            f"The demo is already loaded: the database holds {report.describe()}. Nothing "
            f"{'else ' if report.notes else ''}was added. To start again from scratch: "
            "advocacy demo --reset"
        )
    else:
        click.echo(f"Demo loaded: {report.describe()}.")
    for note in report.notes:
        click.echo(note)
    if sent:
        click.echo("Sent " + " and ".join(sent) + ".")
    click.echo(
        "\nTry it:\n"
        f"  advocacy shell                      # you, as an employee ({user}): try /voice\n"
        "  advocacy shell --user mike          # Mike, manager of Support: /review waits for\n"
        "                                      # him (did #35 lower first reply time?), /rollup\n"
        "  advocacy shell --user dana          # Dana, strategist: try /report, /digest list\n"
        "  advocacy report objectives --since 90d --kpi-chart kpi.png\n"
        "                                      # each KPI with the ideas done and their reviews\n"
        "  advocacy demo --reset --yes && advocacy demo --tour | advocacy shell --user alice\n"
        "                                      # the scripted tour, from a fresh demo\n"
    )
