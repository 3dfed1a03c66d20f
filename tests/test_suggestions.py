"""Suggestions: limits, votes, answers, permissions, and anonymity that holds in the database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from bot.app import Application
from bot.domain import DeliveryStatus, Role, SuggestionStatus
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.services.suggestions import answer_suggestion, file_suggestion, vote
from bot.storage.models import Base, Delivery, OutboundMessage, Suggestion
from tests.conftest import make_member


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
