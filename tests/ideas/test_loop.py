"""Closing the loop: duplicates merged with their votes, everyone concerned told of an answer,
similar ideas offered at filing, moderation, escalation of unanswered ideas, and the objectives
report with its chart."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.app import Application
from bot.chart_links import ChartLinkError
from bot.compose import actions
from bot.domain import Role
from bot.errors import InvalidInput, PermissionDenied
from bot.events import ActionInvoked, CommandInvoked
from bot.services.escalation import escalate_waiting
from bot.services.members import get_member
from bot.services.objectives import add_objective
from bot.services.objectives_report import build_objectives_report
from bot.services.permissions import OPERATOR
from bot.services.rollups import build_rollup
from bot.services.suggestion_moderation import hide_suggestion, merge_suggestions
from bot.services.suggestions import (
    answer_suggestion,
    file_suggestion,
    list_suggestions,
    vote,
)
from bot.storage.models import Delivery, Suggestion, SuggestionVote
from bot.storage.types import utcnow
from bot.web import build_web_app
from content.demo.loader import load_demo
from tests.conftest import actor, make_member
from tests.fakes import RemotePlatform


async def file(app: Application, user: str, text: str, **options: object) -> Suggestion:
    async with app.db.transaction() as session:
        author = await get_member(session, "remote", user)
        return await file_suggestion(
            session,
            app.sealer,
            author,
            text,
            platform="remote",
            **options,  # type: ignore[arg-type]
        )


async def votes_for(app: Application, suggestion_id: int, *users: str) -> None:
    async with app.db.transaction() as session:
        for user in users:
            await vote(session, await get_member(session, "remote", user), suggestion_id)


async def delivered(app: Application, remote: RemotePlatform) -> list[tuple[str, str]]:
    """(recipient, title) of everything sent so far; a sealed recipient's id comes from the
    sealed reference, as the adapter sees it."""
    assert app.worker is not None
    await app.worker.drain()
    return [(s.target.recipient, s.message.cards[0].title) for s in remote.sent]


async def test_a_merged_duplicate_carries_its_votes_and_everyone_hears_of_the_answer(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    for user in ("ann", "ben", "vic", "wes", "xia"):
        await make_member(app, user, manager="boss")
    original = await file(app, "ann", "A weekend support rota")
    duplicate = await file(app, "ben", "Weekend support rota please", anonymous=True)
    await votes_for(app, original.id, "vic", "xia")
    await votes_for(app, duplicate.id, "wes", "xia")  # xia backs both: she counts once

    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        target = await merge_suggestions(session, app.sealer, boss, duplicate.id, original.id)
    assert target.vote_count == 3  # vic, xia, and wes whose vote moved
    async with app.db.transaction() as session:
        listed = [s.id for s in await list_suggestions(session)]
        with pytest.raises(InvalidInput, match=f"joined #{original.id}"):
            await vote(session, await get_member(session, "remote", "vic"), duplicate.id)
    assert listed == [original.id]

    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        outcome = await answer_suggestion(
            session, app.sealer, boss, original.id, "Starting next month.", status="planned"
        )
    assert outcome.author_notified and outcome.others_notified == 4  # 3 voters + ben
    sent = await delivered(app, remote)
    told = {recipient for recipient, title in sent if "now planned" in title}
    assert told == {"ann", "ben", "vic", "wes", "xia"}  # the author, the merged author, voters
    assert len([r for r, t in sent if "now planned" in t]) == 5  # nobody twice, not the boss
    assert ("ben", f"Your anonymous suggestion #{duplicate.id} joined #{original.id}") in sent
    # Ben is told it is his idea that moved, not an idea he voted for (he did not vote).
    joined = f"The idea your anonymous suggestion #{duplicate.id} joined (#{original.id})"
    assert [r for r, t in sent if t.startswith(joined)] == ["ben"]
    assert not [t for r, t in sent if r == "ben" and "you voted for" in t]


async def test_merging_needs_a_manager_of_the_team_or_the_author(app: Application) -> None:
    await make_member(app, "ann")
    await make_member(app, "ben")
    first = await file(app, "ann", "Idea one")
    second = await file(app, "ben", "Idea one again")
    async with app.db.transaction() as session:
        ann = await get_member(session, "remote", "ann")
        with pytest.raises(PermissionDenied):
            await merge_suggestions(session, app.sealer, ann, second.id, first.id)
        with pytest.raises(InvalidInput, match="Only the author"):
            await merge_suggestions(session, app.sealer, ann, second.id, first.id, by_author=True)
        with pytest.raises(InvalidInput, match="into itself"):
            await merge_suggestions(session, app.sealer, OPERATOR, first.id, first.id)


async def test_a_similar_idea_is_offered_and_the_author_can_back_it(app: Application) -> None:
    for user in ("ann", "ben", "cat"):
        await make_member(app, user)
    existing = await file(
        app, "ann", "Put one support engineer on a weekend rota for urgent tickets"
    )
    await file(app, "cat", "Publish the release notes every Friday")
    reply = await app.router.handle(
        CommandInvoked(
            actor("ben"),
            command="suggest",
            text="--anonymous A weekend rota in support so urgent tickets do not wait",
        )
    )
    [message] = reply.messages
    offer = message.cards[-1]
    assert offer.title == "Similar ideas are already on the board"
    assert [b.label for b in offer.buttons] == [f"Back #{existing.id} instead"]
    assert "release notes" not in offer.text
    folded = await app.router.handle(
        ActionInvoked(actor("ben"), action_id=actions.SUGGESTION_FOLD, value=offer.buttons[0].value)
    )
    # Ben's idea was anonymous: no vote in his name is added (it would tie him to the idea).
    assert f"now joins #{existing.id} (0 votes)" in folded.messages[0].fallback
    assert "No vote was added in your name" in folded.messages[0].fallback
    async with app.db.transaction() as session:
        assert not list(await session.scalars(select(SuggestionVote)))
    # Someone else pressing the same button cannot fold ben's idea.
    refused = await app.router.handle(
        ActionInvoked(actor("cat"), action_id=actions.SUGGESTION_FOLD, value=offer.buttons[0].value)
    )
    assert refused.error


async def test_a_manager_hides_an_abusive_idea_and_its_author_is_told_why(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    for user in ("ann", "ben", "cal", "dee", "eve"):
        await make_member(app, user, manager="boss")
    rude = await file(app, "ann", "Something abusive", anonymous=True)
    reply = await app.router.handle(
        CommandInvoked(actor("boss"), command="hide", text=f"{rude.id} Personal attacks")
    )
    assert f"#{rude.id} is hidden" in reply.messages[0].fallback
    async with app.db.transaction() as session:
        assert await list_suggestions(session) == []
        rollup = await build_rollup(session, OPERATOR, app.sealer)
        with pytest.raises(InvalidInput, match="hidden"):
            await vote(session, await get_member(session, "remote", "ben"), rude.id)
        with pytest.raises(InvalidInput, match="already hidden"):
            await hide_suggestion(session, app.sealer, OPERATOR, rude.id, "again")
    assert rollup.total.total == 0
    sent = await delivered(app, remote)
    assert ("ann", f"Your anonymous suggestion #{rude.id} was hidden by a manager") in sent
    to_author = [s for s in remote.sent if s.target.recipient == "ann"]
    assert "Personal attacks" in to_author[-1].message.cards[0].text


async def test_an_unanswered_idea_is_flagged_up_the_hierarchy(
    app: Application, remote: RemotePlatform
) -> None:
    await make_member(app, "ceo", role=Role.MANAGER, team="Leadership")
    await make_member(app, "lead", role=Role.MANAGER, team="Support", manager="ceo")
    # Five people besides its manager: an anonymous idea stays with Support (in a smaller team
    # it would go higher up at once, so that its manager's flag could not point at its author).
    for user in ("ann", "bea", "cid", "dot", "eve"):
        await make_member(app, user, team="Support", manager="lead")
    idea = await file(app, "ann", "Faster refunds", anonymous=True)
    now = utcnow()
    async with app.db.transaction() as session:
        stored = await session.get(Suggestion, idea.id)
        assert stored is not None
        stored.created_at = now - timedelta(days=8)
    week = timedelta(days=7)
    for when, expected in ((now, 1), (now, 0), (now + week, 1), (now + 3 * week, 0)):
        async with app.db.transaction() as session:
            assert await escalate_waiting(session, app.sealer, when, week) == expected
        sent = await delivered(app, remote)  # each step's flag goes out before the next step
    assert [r for r, _ in sent] == ["lead", "ceo"]
    # Not "from your team": an anonymous idea's flag says only where it is counted.
    assert all(f"Anonymous idea #{idea.id} (counted under Support)" in t for _, t in sent)
    assert "ann" not in str([s.message.to_dict() for s in remote.sent])
    # Answered ideas are not flagged.
    other = await file(app, "ann", "Another one")
    async with app.db.transaction() as session:
        stored = await session.get(Suggestion, other.id)
        assert stored is not None
        stored.created_at = now - timedelta(days=8)
        await answer_suggestion(session, app.sealer, OPERATOR, other.id, "On it")
        assert await escalate_waiting(session, app.sealer, now, week) == 0


async def test_the_objectives_report_on_the_demo_shows_every_figure(app: Application) -> None:
    await load_demo(app.db, app.sealer, you=None)
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer)
    rows = {row.key: row for row in report.rows}
    reply = rows["reply-within-1h"]
    assert reply.owner == "Mike Chen" and reply.kpi and reply.target
    assert (reply.items_sent, reply.reached) == (1, 26)
    assert reply.found_useful == 7 and reply.useful_share == pytest.approx(7 / 26)
    assert (reply.shares, reply.clicks) == (3, 5)  # LinkedIn shares are clicked twice each
    assert reply.voice >= 1 and reply.voice_before >= 1
    assert reply.sentiment is not None and reply.sentiment_trend is not None
    s = reply.suggestions
    assert (s.filed, s.answered, s.accepted, s.done) == (10, 5, 5, 0)
    assert s.median_days_to_answer == 2.0
    assert all(not row.suggestions.merged_into_other for row in report.rows)


async def test_a_group_of_four_is_never_shown_in_the_report(app: Application) -> None:
    await make_member(app, "boss", role=Role.MANAGER)
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "big", "Big objective")
        await add_objective(session, OPERATOR, "tiny", "Tiny objective")
    for n in range(6):
        await make_member(app, f"b{n}", manager="boss")
        await file(app, f"b{n}", f"big idea {n}", objective_key="big")
    for n in range(4):
        await make_member(app, f"t{n}", manager="boss")
        await file(app, f"t{n}", f"tiny idea {n}", objective_key="tiny", anonymous=n == 0)
    async with app.db.transaction() as session:
        report = await build_objectives_report(session, OPERATOR, app.sealer)
    rows = {row.key: row for row in report.rows}
    assert rows["tiny"].suggestions.merged_into_other
    assert rows["tiny"].as_dict()["suggestions_filed"] is None
    # "other" holds tiny alone, which would show it: big joins it.
    assert rows["big"].suggestions.merged_into_other
    assert report.other_suggestions is not None and report.other_suggestions.filed == 10


async def test_the_chart_is_served_under_a_signed_expiring_url(
    app: Application, tmp_path: Path
) -> None:
    await load_demo(app.db, app.sealer, you=None)
    good = app.charts.url_for("objectives", 30)
    token = good.rsplit("/", 1)[1]
    with pytest.raises(ChartLinkError, match="expired"):
        app.charts.read(app.charts.url_for("objectives", 30, ttl=-1).rsplit("/", 1)[1])
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    try:
        base = f"http://127.0.0.1:{server.port}/charts/"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + token) as answer:
                assert answer.status == 200
                assert answer.content_type == "image/png"
                png = await answer.read()
            tampered = token.replace(token[3], "A" if token[3] != "A" else "B", 1)
            async with http.get(base + tampered) as answer:
                assert answer.status == 403
                assert "not valid" in await answer.text()
            expired = app.charts.url_for("objectives", 30, now=time.time() - 10 * 86_400)
            async with http.get(base + expired.rsplit("/", 1)[1]) as answer:
                assert answer.status == 403
                assert "expired" in await answer.text()
    finally:
        await server.close()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    (tmp_path / "objectives.png").write_bytes(png)


async def test_managers_get_the_report_card_in_chat_and_employees_do_not(
    app: Application,
) -> None:
    await load_demo(app.db, app.sealer, you=None)
    async with app.db.transaction() as session:
        await session.execute(select(Delivery.id))  # the demo is loaded
    await make_member(app, "boss", role=Role.MANAGER)
    await make_member(app, "emp")
    reply = await app.router.handle(CommandInvoked(actor("boss"), command="report", text=""))
    [message] = reply.messages
    header = message.cards[0]
    assert header.image_url and "/charts/" in header.image_url
    app.charts.read(header.image_url.rsplit("/", 1)[1])  # a valid, signed link
    titles = [card.title for card in message.cards[1:]]
    assert "Answer every customer within one hour" in titles
    assert any(fact.label == "Found it useful" for fact in message.cards[1].facts)
    refused = await app.router.handle(CommandInvoked(actor("emp"), command="report", text=""))
    assert refused.error and "managers" in refused.error
