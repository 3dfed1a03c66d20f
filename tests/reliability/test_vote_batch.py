"""Vote presses written many to a transaction (bot/chat/vote_batch.py): each counted once, under
redelivery too, and a press the batch cannot take, or a batch that fails, loses nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.chat import vote_batch
from bot.config import Settings
from bot.storage.models import Suggestion, SuggestionVote
from tests.slack_support import IDEAS_CHANNEL, SlackStack, button_press, slack_stack, unique

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

VOTERS = [f"UVOTER{n:02d}" for n in range(12)]


@pytest.fixture
async def slack(settings: Settings) -> AsyncIterator[SlackStack]:
    async with slack_stack(settings) as stack:
        yield stack


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[list[bool]]:
    """Each batch written, as which of its presses it took (True) or handed back (False)."""
    seen: list[list[bool]] = []
    real = vote_batch.write_ballots

    def spying(connection: Any, **kwargs: Any) -> list[Any]:
        results = real(connection, **kwargs)
        seen.append([result is not None for result in results])
        return results

    monkeypatch.setattr(vote_batch, "write_ballots", spying)
    return seen


async def idea_card(slack: SlackStack) -> tuple[dict[str, Any], dict[str, Any]]:
    await slack.command("/suggest", "Weekend rota", "UALICE")
    await slack.settle()
    [posted] = slack.fake.messages[IDEAS_CHANNEL]
    vote = next(e for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"])
    return posted, vote


async def press(
    slack: SlackStack, user: str, posted: dict[str, Any], vote: dict[str, Any], **kw: Any
) -> tuple[int, str]:
    payload = button_press(
        user,
        vote["action_id"],
        json.loads(vote["value"]),
        response_url=slack.fake.response_url(unique("act")),
        channel=IDEAS_CHANNEL,
        ts=posted["ts"],
        **kw,
    )
    return await slack.interaction(payload)


async def meet(slack: SlackStack) -> None:
    """Every voter's first contact (which the usual path handles: it creates the member)."""
    for user in VOTERS:
        await slack.command("/advocacy", "help", user)
    await slack.settle()


async def counts(slack: SlackStack) -> tuple[int, int]:
    async with slack.app.db.transaction() as session:
        idea = (await session.scalars(select(Suggestion))).one()
        votes = await session.scalar(select(func.count()).select_from(SuggestionVote))
    return idea.vote_count, int(votes or 0)


async def test_presses_together_are_written_in_one_batch_each_counted_once(
    slack: SlackStack, batches: list[list[bool]]
) -> None:
    posted, vote = await idea_card(slack)
    await meet(slack)
    batches.clear()
    answers = await asyncio.gather(*(press(slack, user, posted, vote) for user in VOTERS))
    assert {status for status, _ in answers} == {200}
    await slack.settle()
    assert await counts(slack) == (len(VOTERS), len(VOTERS))
    taken = [took for batch in batches for took in batch]
    assert taken.count(True) == len(VOTERS)
    assert any(len(batch) > 1 for batch in batches), "presses that wait together share a batch"
    # Each voter is told their vote counted; the card shows the count.
    assert f"*Votes*\\n{len(VOTERS)}" in json.dumps(slack.fake.messages[IDEAS_CHANNEL][0])


async def test_a_redelivered_press_counts_once(
    slack: SlackStack, batches: list[list[bool]]
) -> None:
    """Slack sends a press again (same action_ts) when it missed the ack: one vote, and the
    second delivery changes nothing, whether it arrives before or after the first is written."""
    posted, vote = await idea_card(slack)
    await meet(slack)
    batches.clear()
    stamp = "1700000000.123456"
    first = [press(slack, user, posted, vote, action_ts=stamp) for user in VOTERS[:6]]
    await asyncio.gather(
        *first, *[press(slack, u, posted, vote, action_ts=stamp) for u in VOTERS[:6]]
    )
    await slack.settle()
    for user in VOTERS[:6]:
        await press(slack, user, posted, vote, action_ts=stamp)
    await slack.settle()
    assert await counts(slack) == (6, 6)
    assert any(any(batch) for batch in batches)


async def test_a_second_press_of_the_same_person_is_not_counted(
    slack: SlackStack, batches: list[list[bool]]
) -> None:
    posted, vote = await idea_card(slack)
    await meet(slack)
    await asyncio.gather(*(press(slack, user, posted, vote) for user in VOTERS))
    await slack.settle()
    batches.clear()
    await asyncio.gather(*(press(slack, user, posted, vote) for user in VOTERS))
    await slack.settle()
    assert await counts(slack) == (len(VOTERS), len(VOTERS))
    assert any(any(batch) for batch in batches), "the repeats went through the batch"
    said = json.dumps([c.args for c in slack.fake.calls if c.method == "response_url"])
    assert said.count("You already voted for") == len(VOTERS)


async def test_presses_the_batch_cannot_take_go_the_usual_way(
    slack: SlackStack, batches: list[list[bool]]
) -> None:
    """First contacts (the member does not exist yet) are handed back and still counted."""
    posted, vote = await idea_card(slack)
    batches.clear()
    await asyncio.gather(*(press(slack, user, posted, vote) for user in VOTERS))
    await slack.settle()
    assert await counts(slack) == (len(VOTERS), len(VOTERS))
    assert batches and not any(any(batch) for batch in batches)


async def test_a_batch_that_fails_loses_none_of_its_presses(
    slack: SlackStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose transaction fails half-way writes nothing; each of its presses is then
    handled on its own, and counted once."""
    posted, vote = await idea_card(slack)
    await meet(slack)
    real = vote_batch.record_votes
    calls = 0

    def failing_after_writing(session: Any, votes: list[tuple[int, int]]) -> Any:
        nonlocal calls
        calls += 1
        real(session, votes)  # written, then the transaction fails: none of it stays
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(vote_batch, "record_votes", failing_after_writing)
    answers = await asyncio.gather(*(press(slack, user, posted, vote) for user in VOTERS))
    assert {status for status, _ in answers} == {200}
    await slack.settle()
    assert calls >= 1
    assert await counts(slack) == (len(VOTERS), len(VOTERS))
