"""How an idea's author is shown, surface by surface: the chat card, the command line's list and
rollup export, and the console board agree (bot/compose/authorship.py owns the rule). An
anonymous idea shows no name and no team anywhere; a named one shows both."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from click.testing import CliRunner

from bot.app import Application
from bot.cli.main import cli
from bot.compose.suggestion_cards import voting_card
from bot.domain import Role
from bot.services.members import get_member
from bot.services.suggestions import file_suggestion
from bot.storage.models import Suggestion
from tests.conftest import make_member
from tests.operations.test_console import Browser, signed_in

pytest_plugins = ["tests.operations.test_console"]  # its server and browsers fixtures


async def file(app: Application, user: str, text: str, *, anonymous: bool) -> Suggestion:
    async with app.db.transaction() as session:
        author = await get_member(session, "remote", user)
        return await file_suggestion(
            session, app.sealer, author, text, platform="remote", anonymous=anonymous
        )


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


async def test_every_surface_shows_a_named_idea_s_author_and_no_anonymous_one_s(
    app: Application, cli_env: dict[str, str], browsers: list[Browser]
) -> None:
    if not app.settings.database_url.startswith("sqlite"):
        pytest.skip("the command line here reads the SQLite file the app writes")
    await make_member(app, "boss", role=Role.MANAGER, team="Support")
    for n in range(1, 7):  # a team large enough that an anonymous idea stays under it
        await make_member(app, f"u{n}", team="Support", manager="boss")
    async with app.db.transaction() as session:
        for n in (1, 2):
            member = await get_member(session, "remote", f"u{n}")
            assert member is not None
            member.display_name = f"Author Number{n}"
    named = await file(app, "u1", "Named idea", anonymous=False)
    hidden = await file(app, "u2", "Hidden idea", anonymous=True)
    assert hidden.team is not None and hidden.team.name == "Support"  # there to be hidden

    # The chat card.
    cards = {s.id: {f.label: f.value for f in voting_card(s).facts} for s in (named, hidden)}
    assert cards[named.id]["From"] == "Author Number1" and cards[named.id]["Team"] == "Support"
    assert cards[hidden.id]["From"] == "Anonymous" and "Team" not in cards[hidden.id]

    # The command line's list and the rollup's export.
    listed = {
        r["id"]: r
        for r in json.loads(await asyncio.to_thread(run_cli, "suggestions", "list", "--json"))
    }
    assert (listed[named.id]["author"], listed[named.id]["team"]) == ("Author Number1", "Support")
    assert (listed[hidden.id]["author"], listed[hidden.id]["team"]) == (None, None)
    exported = await asyncio.to_thread(
        run_cli, "rollup", "--since", "all", "--by", "status", "--format", "json"
    )
    waiting = {i["id"]: i for i in json.loads(exported)["oldest_waiting"]}
    assert waiting[named.id]["team"] == "Support" and waiting[hidden.id]["team"] is None
    table = await asyncio.to_thread(run_cli, "suggestions", "list")
    assert "Author Number1" in table and "Number2" not in table

    # The console's board.
    await signed_in(app, browsers[0], "boss")
    status, html = await browsers[0].get("/console/suggestions")
    assert status == 200
    shown = {
        int(n): " ".join(re.sub(r"<[^>]+>", "", meta).split())
        for n, meta in re.findall(
            r'id="idea-(\d+)".*?<p class="meta">(From .*?)</p>', html, flags=re.S
        )
    }
    assert shown[named.id].startswith("From Author Number1, Support ·")
    assert shown[hidden.id].startswith("From someone anonymous ·")
    assert "Number2" not in html
