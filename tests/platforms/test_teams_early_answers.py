"""A Vote press in Teams is answered from what is known once it is durably in the inbox, before
the inbox's worker writes it; the write follows, and where it comes out otherwise than
answered (a repeat, a refusal) the person is told, and a pressed card is put right."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Settings, parse_channel_list
from bot.events import Actor
from bot.services.members import find_member, resolve_actor
from bot.storage.models import Suggestion, SuggestionVote
from bot.storage.types import utcnow
from tests.inbox_support import inbox_settled
from tests.platforms.test_teams import add, sent_to
from tests.teams_support import (
    TENANT,
    TeamsStack,
    action,
    actions_in,
    cards_in,
    install_in_team,
    teams_stack,
    user,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ALICE, BOB = user("Alice"), user("Bob")
MESSAGE_ANSWER = "application/vnd.microsoft.activity.message"
CARD_ANSWER = "application/vnd.microsoft.card.adaptive"
IDEAS_TEAM = "19:ideas@thread.tacv2"


@pytest.fixture
async def teams(settings: Settings) -> AsyncIterator[TeamsStack]:
    async with teams_stack(settings) as stack:
        yield stack


@asynccontextmanager
async def writes_held(stack: TeamsStack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The inbox's worker takes events but writes none until the block ends (a worker busy
    with a burst, say): what a press is answered with then is known before its write."""
    gate = asyncio.Event()
    router = stack.app.router
    handle = router.handle

    async def held(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await handle(*args, **kwargs)

    monkeypatch.setattr(router, "handle", held)
    try:
        yield
    finally:
        gate.set()
        await inbox_settled(stack.app)


async def votes(stack: TeamsStack) -> int:
    async with stack.app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(SuggestionVote)) or 0)


async def board_vote(stack: TeamsStack) -> tuple[dict[str, Any], str]:
    """Bob's idea #1, and its Vote button on the board Alice asked for in her chat."""
    await add(stack, ALICE)
    await add(stack, BOB)
    await stack.say(BOB, "suggest Fewer meetings on Fridays")
    await stack.say(ALICE, "suggestions")
    board = sent_to(stack, ALICE)[-1]
    vote = next(a for card in cards_in(board) for a in actions_in(card) if a["title"] == "Vote")
    return vote, board["id"]


def votes_shown(card: dict[str, Any]) -> str:
    """The Votes fact of an idea's card."""
    [shown] = re.findall(
        r'"text": "Votes: ", "weight": "Bolder"}, {"type": "TextRun", "text": "([^"]*)"',
        json.dumps(card),
    )
    return shown


def texts_to(stack: TeamsStack, person: Any, since: int = 0) -> str:
    return json.dumps(sent_to(stack, person)[since:], ensure_ascii=False)


async def test_a_vote_is_answered_before_it_is_written_and_is_in_the_database_after(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote, board = await board_vote(teams)
    shown = len(sent_to(teams, ALICE))
    async with writes_held(teams, monkeypatch):
        status, answer = await teams.execute(ALICE, vote, board)
        assert status == 200
        assert answer["type"] == MESSAGE_ANSWER and answer["value"] == "Done."
        # Answered, not yet written, and durably received: it waits in the inbox.
        assert await votes(teams) == 0
        assert await teams.app.inbox.pending_count() == 1
    assert await votes(teams) == 1
    assert "Your vote for #1 is counted" in texts_to(teams, ALICE, shown)
    assert teams.connector.calls_to("update") == []  # it came out as answered


async def test_a_redelivered_press_counts_once(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote, board = await board_vote(teams)
    press = teams.activity(
        "invoke",
        ALICE,
        name="adaptiveCard/action",
        replyToId=board,
        value={
            "action": {"type": "Action.Execute", "verb": vote["verb"], "data": vote["data"]},
            "trigger": "manual",
        },
    )
    async with writes_held(teams, monkeypatch):
        _, first = await teams.post(press)
        _, again = await teams.post(press)  # Teams sending the same activity again
        assert (first["value"], again["value"]) == ("Done.", "Already counted.")
    assert await votes(teams) == 1


async def test_answers_run_at_most_max_early_presses_ahead_of_the_writes(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote, board = await board_vote(teams)
    monkeypatch.setattr("adapters.teams.adapter.MAX_EARLY", 1)
    monkeypatch.setattr("adapters.teams.adapter.INVOKE_BUDGET_SECONDS", 0.2)
    async with writes_held(teams, monkeypatch):
        _, alice = await teams.execute(ALICE, vote, board)
        _, bob = await teams.execute(BOB, vote, board)  # waits for his write, which is held
        assert alice["value"] == "Done."
        assert bob["value"] == "Working on it: the card will update."
    assert await votes(teams) == 2


async def test_a_second_press_is_answered_already_counted_before_and_after_the_first_is_written(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote, board = await board_vote(teams)
    async with writes_held(teams, monkeypatch):
        _, first = await teams.execute(ALICE, vote, board)
        _, second = await teams.execute(ALICE, vote, board)  # pressed again, not yet written
        assert (first["value"], second["value"]) == ("Done.", "Already counted.")
    _, third = await teams.execute(ALICE, vote, board)
    assert third["value"] == "Already counted."
    await inbox_settled(teams.app)
    assert await votes(teams) == 1
    async with teams.app.db.transaction() as session:
        assert await session.scalar(select(Suggestion.vote_count)) == 1


async def test_a_press_answered_as_counted_that_the_write_finds_a_repeat_is_told_so(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote, board = await board_vote(teams)
    shown = len(sent_to(teams, ALICE))
    async with writes_held(teams, monkeypatch):
        _, answer = await teams.execute(ALICE, vote, board)
        assert answer["value"] == "Done."
        await _vote_elsewhere(teams, ALICE.aad)  # another instance wrote her vote meanwhile
    assert await votes(teams) == 1
    assert "You already voted for #1" in texts_to(teams, ALICE, shown)


async def test_a_press_answered_as_counted_whose_idea_closed_before_the_write_is_told_why(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote, board = await board_vote(teams)
    shown = len(sent_to(teams, ALICE))
    async with writes_held(teams, monkeypatch):
        _, answer = await teams.execute(ALICE, vote, board)
        assert answer["value"] == "Done."
        async with teams.app.db.transaction() as session:
            idea = await session.get(Suggestion, 1)
            assert idea is not None
            idea.hidden_at = utcnow()
    assert await votes(teams) == 0
    assert "votes are closed" in texts_to(teams, ALICE, shown)


async def test_a_press_on_a_closed_idea_waits_for_the_write_which_says_why(
    teams: TeamsStack,
) -> None:
    vote, board = await board_vote(teams)
    async with teams.app.db.transaction() as session:
        idea = await session.get(Suggestion, 1)
        assert idea is not None
        idea.hidden_at = utcnow()
    status, answer = await teams.execute(ALICE, vote, board)
    assert status == 200 and "votes are closed" in answer["value"]
    assert await votes(teams) == 0


async def test_a_first_contact_s_vote_is_answered_early_and_the_write_creates_them(
    teams: TeamsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote, board = await board_vote(teams)
    carol = user("Carol")
    async with writes_held(teams, monkeypatch):
        _, answer = await teams.execute(carol, vote, board)
        assert answer["value"] == "Done."
    assert await votes(teams) == 1
    async with teams.app.db.transaction() as session:
        assert await find_member(session, "teams", carol.aad, TENANT) is not None


async def test_a_vote_on_a_channel_s_idea_card_is_answered_with_the_card_as_the_vote_leaves_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with teams_stack(settings) as teams:
        teams.app.router.suggestion_channels = parse_channel_list(f"teams:{IDEAS_TEAM}")
        for person in (ALICE, BOB):
            teams.connector.add_member(
                IDEAS_TEAM, user_id=person.teams_id, aad_object_id=person.aad, name=person.name
            )
        await install_in_team(teams, IDEAS_TEAM, "Ideas")
        await teams.settle()
        await teams.say(ALICE, "hello")  # her first event (her language is noted)
        await teams.say(BOB, "suggest Fewer meetings on Fridays")
        await teams.settle()
        [posted] = [
            a for a in teams.connector.activities[IDEAS_TEAM] if "New idea" in json.dumps(a)
        ]
        vote = action(cards_in(posted)[0], "Vote")
        channel = {"conversationType": "channel", "id": IDEAS_TEAM, "tenantId": TENANT}

        def press(sender: Any) -> dict[str, Any]:
            return teams.activity(
                "invoke",
                sender,
                conversation=channel,
                name="adaptiveCard/action",
                replyToId=posted["id"],
                value={
                    "action": {
                        "type": "Action.Execute",
                        "verb": vote["verb"],
                        "data": vote["data"],
                    },
                    "trigger": "manual",
                },
            )

        async with writes_held(teams, monkeypatch):
            status, answer = await teams.post(press(ALICE))
            assert status == 200 and answer["type"] == CARD_ANSWER, answer
            assert votes_shown(answer["value"]) == "1"  # the count with her vote
            assert await votes(teams) == 0
        assert await votes(teams) == 1
        assert teams.connector.calls_to("update") == []  # as answered: nothing to put right
        # Bob's press, answered as counted, meets his vote written meanwhile elsewhere (and a
        # third vote): the card is put right through the Connector with the database's count.
        async with writes_held(teams, monkeypatch):
            _, answer = await teams.post(press(BOB))
            assert votes_shown(answer["value"]) == "2"
            await _vote_elsewhere(teams, BOB.aad)
            await _vote_elsewhere(teams, "someone-else")
        [update] = teams.connector.calls_to("update")
        assert update.activity_id == posted["id"]
        assert votes_shown(cards_in(update.body)[0]) == "3"


async def _vote_elsewhere(stack: TeamsStack, aad: str) -> None:
    """A vote another process wrote: the row and the idea's count (a member it creates)."""
    async with stack.app.db.transaction() as session:
        member = await resolve_actor(session, Actor("teams", aad, TENANT, "Someone"))
        session.add(SuggestionVote(suggestion_id=1, member_id=member.id, created_at=utcnow()))
        idea = await session.get(Suggestion, 1)
        assert idea is not None
        idea.vote_count += 1
