"""Suggestions: limits, votes, answers, permissions, and anonymity that holds in the database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from bot.app import Application
from bot.domain import DeliveryStatus, Role, SuggestionStatus
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.events import ActionInvoked, CommandInvoked
from bot.messages import Button, Message
from bot.services.members import get_member
from bot.services.suggestions import answer_suggestion, file_suggestion, vote
from bot.storage.models import Base, Delivery, OutboundMessage, Suggestion, SuggestionVote
from tests.conftest import actor, make_member


async def test_suggestion_text_must_be_between_1_and_3000_characters(app: Application) -> None:
    alice = await make_member(app, "alice")
    for bad in ("", "   ", "x" * 3001):
        with pytest.raises(InvalidInput):
            async with app.db.transaction() as session:
                await file_suggestion(session, app.sealer, alice, bad, platform="remote")
    async with app.db.transaction() as session:
        ok = await file_suggestion(session, app.sealer, alice, "y" * 3000, platform="remote")
        assert len(ok.text) == 3000
        assert (await session.scalars(select(Suggestion))).all() == [ok]


async def test_an_unknown_objective_is_refused_and_nothing_is_written(app: Application) -> None:
    alice = await make_member(app, "alice")
    with pytest.raises(NotFound) as raised:
        async with app.db.transaction() as session:
            await file_suggestion(
                session, app.sealer, alice, "idea", platform="remote", objective_key="nope"
            )
    assert "objectives add" in raised.value.message
    async with app.db.transaction() as session:
        assert (await session.scalars(select(Suggestion))).all() == []


async def test_each_member_votes_once(app: Application) -> None:
    alice = await make_member(app, "alice")
    bob = await make_member(app, "bob")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, alice, "idea", platform="remote")
        _, first = await vote(session, bob, idea.id)
        _, again = await vote(session, bob, idea.id)
        _, alices = await vote(session, alice, idea.id)
        refreshed = await session.get(Suggestion, idea.id)
    assert (first, again, alices) == (True, False, True)
    assert refreshed is not None and refreshed.vote_count == 2


async def test_only_the_teams_manager_answers(app: Application) -> None:
    boss = await make_member(app, "boss", role=Role.MANAGER, team="Support")
    other = await make_member(app, "other", role=Role.MANAGER, team="Sales")
    alice = await make_member(app, "alice", team="Support", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, alice, "idea", platform="remote")
    for who, error in ((alice, PermissionDenied), (other, PermissionDenied)):
        with pytest.raises(error):
            async with app.db.transaction() as session:
                await answer_suggestion(session, app.sealer, who, idea.id, "no", status="declined")
    async with app.db.transaction() as session:
        outcome = await answer_suggestion(
            session, app.sealer, boss, idea.id, "Yes!", status="planned"
        )
    assert outcome.suggestion.status == SuggestionStatus.PLANNED
    assert outcome.author_notified


async def test_an_answer_needs_text_and_a_known_status(app: Application) -> None:
    boss = await make_member(app, "boss", role=Role.MANAGER)
    alice = await make_member(app, "alice", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, alice, "idea", platform="remote")
    for answer, status in (("", "planned"), ("ok", "maybe")):
        with pytest.raises(InvalidInput):
            async with app.db.transaction() as session:
                await answer_suggestion(session, app.sealer, boss, idea.id, answer, status=status)
    async with app.db.transaction() as session:
        assert (await session.get(Suggestion, idea.id)).first_response_at is None  # type: ignore[union-attr]


async def dump_database(app: Application) -> str:
    """Every row of every table, as text: what someone reading the database would see."""
    chunks = []
    async with app.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(text(f"SELECT * FROM {table.name}"))).all()
            chunks.append(json.dumps([list(map(str, row)) for row in rows]))
    return "\n".join(chunks)


async def test_an_anonymous_author_cannot_be_read_from_the_database(app: Application) -> None:
    boss = await make_member(app, "boss", role=Role.MANAGER)
    author = await make_member(app, "zed-the-author", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(
            session, app.sealer, author, "Secret idea", platform="remote", anonymous=True
        )
    async with app.db.transaction() as session:
        await answer_suggestion(session, app.sealer, boss, idea.id, "Thanks", status="planned")
    async with app.db.transaction() as session:
        stored = await session.get(Suggestion, idea.id)
        assert stored is not None and stored.author_id is None and stored.sealed_author
        notice = (await session.scalars(select(Delivery))).one()
        message = await session.get(OutboundMessage, notice.message_id)
    # The notice is queued without a readable recipient...
    assert notice.member_id is None and notice.recipient == "" and notice.sealed_recipient
    assert "Secret idea" in json.dumps(message.payload)  # type: ignore[union-attr]
    # ...and nothing in the database ties the idea to its author's identity.
    dump = await dump_database(app)
    sealed_rows = [line for line in dump.splitlines() if "Secret idea" in line]
    assert sealed_rows and all("zed-the-author" not in line for line in sealed_rows)
    assert app.sealer.open(stored.sealed_author) == {"member": author.id}


async def test_the_anonymous_author_is_told_and_the_delivery_keeps_no_reference(
    app: Application, remote
) -> None:
    boss = await make_member(app, "boss", role=Role.MANAGER)
    author = await make_member(app, "alice", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(
            session, app.sealer, author, "Idea", platform="remote", anonymous=True
        )
        await answer_suggestion(
            session, app.sealer, boss, idea.id, "Planned for May", status="planned"
        )
    assert app.worker is not None
    await app.worker.drain()
    assert [s.target.recipient for s in remote.sent] == ["alice"]
    assert "Planned for May" in remote.sent[0].message.cards[0].text
    async with app.db.transaction() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert delivery.status == DeliveryStatus.SENT and delivery.platform_ref is None


async def board_of(app: Application, user: str, text: str = "") -> Message:
    reply = await app.router.handle(CommandInvoked(actor(user), command="suggestions", text=text))
    assert reply.error is None, reply.error
    [message] = reply.messages
    return message


def idea_ids(message: Message) -> list[int]:
    return [int(c.subject.split(":")[1]) for c in message.cards if c.subject]


def pressed(message: Message, label: str) -> ActionInvoked:
    [button] = [b for c in message.cards for b in c.buttons if b.label.endswith(label)]
    assert isinstance(button, Button)
    return ActionInvoked(actor("bob"), action_id=button.action_id, value=dict(button.value))


async def test_the_board_shows_new_ideas_first_page_by_page_and_by_status(
    app: Application,
) -> None:
    """Ten ideas with a vote each and a new one with none: the new one is seen first."""
    await make_member(app, "boss", role=Role.MANAGER)
    alice = await make_member(app, "alice", manager="boss")
    bob = await make_member(app, "bob", manager="boss")
    async with app.db.transaction() as session:
        ideas = [
            await file_suggestion(session, app.sealer, alice, f"Idea {n}", platform="remote")
            for n in range(1, 12)
        ]
        for idea in ideas[:10]:
            await vote(session, bob, idea.id)
        await vote(session, alice, ideas[2].id)  # #3 is the most voted
    newest = [idea.id for idea in reversed(ideas)]

    first = await board_of(app, "bob")
    assert idea_ids(first) == newest[:5] and ideas[-1].id in idea_ids(first)
    assert first.cards[0].title == "Open ideas, newest first"
    assert "Page 1 of 3, 11 ideas" in first.cards[0].text
    votes = {c.subject: [b.label for b in c.buttons] for c in first.cards if c.subject}
    assert votes[f"suggestion:{ideas[-1].id}"] == ["Vote"]  # nobody has voted for it yet
    assert votes[f"suggestion:{ideas[-2].id}"] == ["Voted"]

    second = (await app.router.handle(pressed(first, "Next page ▶"))).update
    assert second is not None and idea_ids(second) == newest[5:10]
    back = (await app.router.handle(pressed(second, "◀ Previous page"))).update
    assert back is not None and idea_ids(back) == newest[:5]
    assert idea_ids(await board_of(app, "bob", "page 3")) == newest[10:]
    past = await board_of(app, "bob", "page 99")
    assert idea_ids(past) == newest[10:]  # the last page, and it says so
    assert "There is no page 99: these ideas fill 3 pages" in past.cards[0].text
    assert "There is no page" not in (await board_of(app, "bob", "page 3")).cards[0].text

    top = await board_of(app, "bob", "top")
    assert idea_ids(top)[0] == ideas[2].id and top.cards[0].title == "Open ideas, most voted first"
    by_button = (await app.router.handle(pressed(first, "Most voted"))).update
    assert by_button is not None and idea_ids(by_button) == idea_ids(top)

    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        await answer_suggestion(session, app.sealer, boss, ideas[0].id, "Yes", status="planned")
        await answer_suggestion(session, app.sealer, boss, ideas[1].id, "Shipped", status="done")
    assert idea_ids(await board_of(app, "bob", "planned")) == [ideas[0].id]
    done = await board_of(app, "bob", "most voted done")
    assert idea_ids(done) == [ideas[1].id]
    [done_card] = [c for c in done.cards if c.subject == f"suggestion:{ideas[1].id}"]
    assert {f.label: f.value for f in done_card.facts}["Answer"] == "Shipped"
    assert done_card.buttons == ()  # votes are closed on a done idea: no button that refuses
    assert "Votes on them are closed" in done.cards[0].text  # and no invitation to vote
    assert "Vote for the ones" not in done.cards[0].text
    planned = await board_of(app, "bob", "planned")
    [planned_card] = [c for c in planned.cards if c.subject == f"suggestion:{ideas[0].id}"]
    assert [b.label for b in planned_card.buttons] == ["Voted"]  # planned: still open
    assert ideas[1].id not in idea_ids(await board_of(app, "bob", "page 3"))  # not open
    everything = await board_of(app, "bob", "all page 3")
    assert "11 ideas" in everything.cards[0].text
    under_review = await board_of(app, "bob", "under review")
    assert idea_ids(under_review) == [] and "No under review ideas" in under_review.cards[0].text
    filtered = (await app.router.handle(pressed(first, "Done"))).update
    assert filtered is not None and idea_ids(filtered) == [ideas[1].id]


async def test_a_board_word_that_is_not_known_is_refused_with_the_closest(
    app: Application,
) -> None:
    await make_member(app, "bob")
    for typed, meant in (("planed", "planned"), ("newst", "newest"), ("declind", "declined")):
        reply = await app.router.handle(
            CommandInvoked(actor("bob"), command="suggestions", text=typed)
        )
        assert reply.error and f"Did you mean {meant}?" in reply.error, typed
        assert "/suggestions [newest|top|evidence]" in reply.error
    for typed in ("page", "page zero", "page 0"):
        reply = await app.router.handle(
            CommandInvoked(actor("bob"), command="suggestions", text=typed)
        )
        assert reply.error and "page" in reply.error.lower(), typed


async def test_the_board_hides_anonymous_authors_merged_and_hidden_ideas(
    app: Application,
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    alice = await make_member(app, "alice", manager="boss")
    async with app.db.transaction() as session:
        secret = await file_suggestion(
            session, app.sealer, alice, "Anonymous idea", platform="remote", anonymous=True
        )
        kept = await file_suggestion(session, app.sealer, alice, "Kept", platform="remote")
        merged = await file_suggestion(session, app.sealer, alice, "Again", platform="remote")
        hidden = await file_suggestion(session, app.sealer, alice, "Rude", platform="remote")
    await app.router.handle(
        CommandInvoked(actor("boss"), command="merge", text=f"{merged.id} into {kept.id}")
    )
    await app.router.handle(
        CommandInvoked(actor("boss"), command="hide", text=f"{hidden.id} Not kind")
    )
    board = await board_of(app, "boss", "all")
    assert sorted(idea_ids(board)) == sorted([secret.id, kept.id])
    [card] = [c for c in board.cards if c.subject == f"suggestion:{secret.id}"]
    assert ("From", "Anonymous") in [(f.label, f.value) for f in card.facts]
    assert "Team" not in [f.label for f in card.facts]
    assert "Alice" not in repr(card) and "Alice" not in board.fallback.split("Kept")[0]


async def test_a_vote_given_by_mistake_is_taken_back_while_the_idea_is_open(
    app: Application,
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    alice = await make_member(app, "alice", manager="boss")
    await make_member(app, "bob", manager="boss")
    async with app.db.transaction() as session:
        idea = await file_suggestion(session, app.sealer, alice, "Idea", platform="remote")

    async def say(user: str, command: str) -> str:
        reply = await app.router.handle(CommandInvoked(actor(user), command, str(idea.id)))
        return reply.error or reply.messages[0].fallback

    assert "it now has 1 vote" in await say("bob", "vote")
    assert f"/unvote {idea.id} takes it back" in await say("bob", "vote")
    assert "is taken back; it now has 0 votes" in await say("bob", "unvote")
    assert "You had not voted" in await say("bob", "unvote")
    assert "You had not voted" in await say("alice", "unvote")
    async with app.db.transaction() as session:
        assert (await session.get(Suggestion, idea.id)).vote_count == 0  # type: ignore[union-attr]
        assert (await session.scalar(select(func.count()).select_from(SuggestionVote))) == 0
    assert "it now has 1 vote" in await say("bob", "vote")
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        await answer_suggestion(session, app.sealer, boss, idea.id, "Shipped", status="done")
    assert "no longer open for votes" in await say("bob", "unvote")
    async with app.db.transaction() as session:
        assert (await session.get(Suggestion, idea.id)).vote_count == 1  # type: ignore[union-attr]
