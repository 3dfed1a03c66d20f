"""The demo organisation: large enough that every manager view shows real groups, loaded once
(a second run says what is there), removed or reset only from a database that holds nothing
else, and its tour shipped with the package."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from bot.app import Application
from bot.cli.main import cli
from bot.domain import ReviewState
from bot.events import CommandInvoked
from bot.services.members import get_member
from bot.services.rollups import MIN_CONTRIBUTORS, OTHER, build_rollup
from bot.storage.models import (
    ContentItem,
    DecisionReview,
    Delivery,
    Member,
    OutboundMessage,
    Suggestion,
)
from content.demo.loader import PLATFORM, demo_file, load_demo
from content.demo.reset import not_the_demos, remove_everything
from tests.conftest import actor

PERIODS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}


def demo_managers() -> list[str]:
    """Every manager in the sample organisation, read from its file, so one added is checked."""
    org = files("content.demo").joinpath("org.csv").read_text(encoding="utf-8")
    return [row["user_id"] for row in csv.DictReader(io.StringIO(org)) if row["role"] == "manager"]


async def age_the_demo(app: Application, days: int) -> None:
    """As if the demo had been loaded ``days`` ago: every idea and answer that much older."""
    async with app.db.transaction() as session:
        for idea in await session.scalars(select(Suggestion)):
            idea.created_at -= timedelta(days=days)
            if idea.first_response_at is not None:
                idea.first_response_at -= timedelta(days=days)


# Loaded today, or some days ago: a demo set up on Monday still shows real groups in the last
# week's views on Wednesday, and in the last month's a week later (then 'advocacy demo --reset
# --yes' dates it afresh).
@pytest.mark.parametrize(
    ("since", "days_since_loading"),
    [(since, 0) for since in PERIODS] + [("7d", 2), ("30d", 7), ("all", 7)],
)
async def test_every_manager_view_of_the_demo_shows_real_groups_of_five_or_more(
    app: Application, since: str, days_since_loading: int
) -> None:
    await load_demo(app.db, app.sealer, you="tester")
    await age_the_demo(app, days_since_loading)
    period = PERIODS[since]
    managers = demo_managers()
    assert {"maria", "mike", "sam", "nadia"} <= set(managers)
    async with app.db.transaction() as session:
        for user in managers:
            manager = await get_member(session, PLATFORM, user)
            for by in ("objective", "team", "status"):
                # The service the chat's /rollup, the Home view and the rollup digest use.
                rollup = await build_rollup(session, manager, app.sealer, by=by, period=period)
                keys = [row.key for row in rollup.rows]
                assert keys and keys != [OTHER], (user, by, since, keys)
                assert OTHER not in keys, (user, by, since, keys)
                assert all(row.contributors.at_least >= MIN_CONTRIBUTORS for row in rollup.rows)
        everyone = await get_member(session, PLATFORM, "maria")
        teams = await build_rollup(session, everyone, app.sealer, by="team", period=period)
        statuses = await build_rollup(session, everyone, app.sealer, by="status", period=period)
    if since != "7d":  # the month shows every team and every answer
        assert {row.key for row in teams.rows} == {"Support", "Product", "Sales"}
        assert {row.key for row in statuses.rows} == {"new", "under_review", "planned", "done"}


async def test_the_demo_rollups_in_chat_show_real_groups_and_objectives_by_title(
    app: Application,
) -> None:
    """What a manager reads after /rollup: no 'other' row, and objectives by their title."""
    await load_demo(app.db, app.sealer, you="tester")
    objectives = demo_file("objectives.json")
    for user in demo_managers():
        for by in ("objective", "team", "status"):
            reply = await app.router.handle(
                CommandInvoked(
                    actor(user, PLATFORM), command="rollup", text=f"--by {by} --since all"
                )
            )
            assert reply.error is None, reply.error
            [breakdown] = [c for m in reply.messages for c in m.cards if c.title == f"By {by}"]
            assert breakdown.text and OTHER not in breakdown.text, (user, by, breakdown.text)
            if by == "objective":
                assert not any(o["key"] in breakdown.text for o in objectives), breakdown.text
            if user == "maria" and by == "objective":
                shown = [line.split(": ")[0] for line in breakdown.text.splitlines()]
                assert sorted(shown) == sorted(o["title"] for o in objectives)


def demo(*args: str) -> Result:
    return CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)


def one_line(result: Result) -> str:
    return " ".join(result.output.split())


def test_a_second_demo_run_says_it_is_already_loaded_and_adds_nothing(
    cli_env: dict[str, str],
) -> None:
    first = demo("--you", "tester")
    assert first.exit_code == 0 and "Demo loaded: 27 members" in first.output
    assert "Sent 'Monday picks' to 27 members" in first.output
    again = demo()
    assert again.exit_code == 0
    text = one_line(again)
    assert "The demo is already loaded: the database holds 27 members, 3 objectives, " in text
    assert "8 articles, 31 customer voices, 4 digests, 35 suggestions. Nothing was added." in text
    assert "advocacy demo --reset" in text and "Sent" not in text
    joined = one_line(demo("--you", "newcomer"))
    assert "holds 28 members" in joined and "You are 'newcomer'" in joined
    assert "Nothing else was added" in joined


def test_reset_starts_the_demo_again_and_remove_takes_it_away(cli_env: dict[str, str]) -> None:
    demo("--you", "tester", "--no-send")
    play = CliRunner().invoke(
        cli,
        ["shell", "--user", "alice"],
        # Customer voice logged in the shell is play with the demo too.
        input="/suggest A shell idea\n/voice The invoice was late again\n\nAcme\n\n/quit\n",
    )
    assert "Your suggestion #36 is filed" in play.output
    assert "Customer voice #32 logged" in play.output
    mailbox = Path(cli_env["ADVOCACY_DATA_DIR"]) / "shell" / "alice.jsonl"
    assert mailbox.exists()
    refused = demo("--reset")  # asks first; no answer is a no
    assert refused.exit_code != 0 and "Aborted" in refused.output
    reset = demo("--reset", "--yes", "--you", "tester", "--no-send")
    assert reset.exit_code == 0, reset.output
    assert "The demo was removed." in reset.output and "Demo loaded: 27 members" in reset.output
    assert not mailbox.exists()
    again = CliRunner().invoke(cli, ["shell", "--user", "alice"], input="/suggest Again\n/quit\n")
    assert "Your suggestion #36 is filed" in again.output  # the same numbers every time
    removed = demo("--remove", "--yes")
    assert removed.exit_code == 0 and "The demo was removed." in removed.output
    listed = CliRunner().invoke(cli, ["members", "list", "--json"])
    assert json.loads(listed.output) == []


@pytest.mark.parametrize(
    ("setup", "named"),
    [
        (["members", "add", "slack", "U123", "--name", "Real Person"], "1 member on Slack"),
        (["content", "add", "https://example.org/ours", "--title", "Ours"], "1 article"),
    ],
)
def test_reset_refuses_a_database_that_holds_more_than_the_demo(
    cli_env: dict[str, str], setup: list[str], named: str
) -> None:
    demo("--you", "tester", "--no-send")
    assert CliRunner().invoke(cli, setup).exit_code == 0
    refused = demo("--reset", "--yes")
    assert refused.exit_code == 1
    text = one_line(refused)
    assert "holds data that is not the demo's" in text and named in text
    assert "nothing was removed" in text
    listed = CliRunner().invoke(cli, ["members", "list", "--json"])
    assert len(json.loads(listed.output)) == 27 + (setup[0] == "members")


async def test_an_article_that_is_not_the_demos_is_named(app: Application) -> None:
    await load_demo(app.db, app.sealer, you="tester")
    async with app.db.transaction() as session:
        assert await not_the_demos(session) == []
        session.add(ContentItem(url="https://example.org/x", url_key="x", title="X"))
    async with app.db.transaction() as session:
        assert await not_the_demos(session) == ["1 article"]
        counts = [
            await session.scalar(select(func.count(model.id)))
            for model in (Member, Suggestion, ContentItem)
        ]
    assert counts == [27, len(demo_file("suggestions.json")), 9]


def test_the_tour_ships_in_the_package_and_prints(cli_env: dict[str, str]) -> None:
    shipped = files("content.demo").joinpath("tour.txt").read_text(encoding="utf-8")
    assert "/answer 36 planned" in shipped
    assert demo("--tour").output == shipped


async def test_removing_the_demo_empties_every_table_and_numbers_start_again(
    app: Application,
) -> None:
    await load_demo(app.db, app.sealer, you="tester")
    async with app.db.transaction() as session:
        await remove_everything(session)
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count(Member.id))) == 0
    await load_demo(app.db, app.sealer, you="tester")
    async with app.db.transaction() as session:
        ids = (
            await session.execute(select(func.min(Suggestion.id), func.max(Suggestion.id)))
        ).one()
    assert tuple(ids) == (1, len(demo_file("suggestions.json")))


async def test_the_demo_s_answered_reviews_reach_the_manager_as_answered_cards(
    app: Application,
) -> None:
    """A review the demo's manager answered weeks ago reads as a pressed card would (its answer,
    no buttons); only the reviews still waiting on a manager ask "did it help?"."""
    await load_demo(app.db, app.sealer, you=None)
    async with app.db.transaction() as session:
        states = dict(
            (await session.execute(select(DecisionReview.id, DecisionReview.state))).all()
        )
        cards = (
            await session.execute(
                select(Delivery.dedupe_key, OutboundMessage.payload)
                .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
                .where(Delivery.dedupe_key.like("review:%"))
            )
        ).all()
    asking = {int(key.split(":")[1]) for key, payload in cards if payload["cards"][0]["buttons"]}
    answered = {
        int(key.split(":")[1]) for key, payload in cards if not payload["cards"][0]["buttons"]
    }
    assert asking == {i for i, state in states.items() if state == ReviewState.ASKED}
    assert answered == {i for i, state in states.items() if state == ReviewState.ANSWERED}
    assert asking and answered
