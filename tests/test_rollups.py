"""Rollups: counts by objective, team and status, ageing, response rate and who may see them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import Application
from bot.domain import Role
from bot.errors import InvalidInput, PermissionDenied
from bot.services.members import get_member
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.services.rollups import build_rollup, parse_period
from bot.services.suggestions import answer_suggestion, file_suggestion
from bot.storage.types import utcnow
from tests.conftest import make_member


async def seed(app: Application) -> None:
    """Support: 3 ideas (one answered after 2 days); Sales: 1 idea; one idea 60 days old."""
    await make_member(app, "head", role=Role.MANAGER, team="Leadership")
    await make_member(app, "boss", role=Role.MANAGER, team="Support", manager="head")
    await make_member(app, "seller", role=Role.MANAGER, team="Sales", manager="head")
    alice = await make_member(app, "alice", team="Support", manager="boss")
    bob = await make_member(app, "bob", team="Sales", manager="seller")
    now = utcnow()
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "fast", "Reply fast")
        ideas = []
        for author, days, objective in (
            (alice, 10, "fast"),
            (alice, 4, None),
            (alice, 60, "fast"),
            (bob, 1, "fast"),
        ):
            idea = await file_suggestion(
                session,
                app.sealer,
                author,
                f"idea {days}",
                platform="remote",
                objective_key=objective,
            )
            idea.created_at = now - timedelta(days=days)
            ideas.append(idea)
        boss = await session.get(type(alice), alice.manager_id)
        await answer_suggestion(session, app.sealer, boss, ideas[0].id, "on it", status="planned")
        ideas[0].first_response_at = ideas[0].created_at + timedelta(days=2)


async def test_rollup_by_objective_counts_ageing_and_response_rate(app: Application) -> None:
    await seed(app)
    async with app.db.transaction() as session:
        rollup = await build_rollup(session, OPERATOR, by="objective", period=timedelta(days=30))
    rows = {row.key: row for row in rollup.rows}
    assert set(rows) == {"fast", "(no objective)"}
    fast = rows["fast"]
    assert (fast.total, fast.answered, fast.waiting) == (2, 1, 1)
    assert fast.by_status == {"planned": 1, "new": 1}
    assert fast.response_rate == 0.5
    assert fast.median_time_to_answer == timedelta(days=2)
    assert rollup.total.total == 3  # the 60-day-old idea is outside the period
    assert [s.text for s in rollup.oldest_waiting] == ["idea 4", "idea 1"]
    assert (
        timedelta(days=3, hours=23)
        < rows["(no objective)"].oldest_wait
        < timedelta(days=4, hours=1)
    )


async def test_rollup_by_team_and_status(app: Application) -> None:
    await seed(app)
    async with app.db.transaction() as session:
        by_team = await build_rollup(session, OPERATOR, by="team", period=None)
        by_status = await build_rollup(session, OPERATOR, by="status", period=None)
    assert {r.key: r.total for r in by_team.rows} == {"Support": 3, "Sales": 1}
    assert [(r.key, r.total) for r in by_status.rows] == [("new", 3), ("planned", 1)]


async def test_a_manager_sees_the_teams_below_them_only(app: Application) -> None:
    await seed(app)
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        head = await get_member(session, "remote", "head")
        mine = await build_rollup(session, boss, by="team", period=None)
        everything = await build_rollup(session, head, by="team", period=None)
    assert {r.key for r in mine.rows} == {"Support"}
    assert {r.key for r in everything.rows} == {"Support", "Sales"}


async def test_employees_do_not_see_rollups(app: Application) -> None:
    alice = await make_member(app, "alice")
    async with app.db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await build_rollup(session, alice)


def test_periods() -> None:
    assert parse_period("30d") == timedelta(days=30)
    assert parse_period("2w") == timedelta(days=14)
    assert parse_period("all") is None
    for bad in ("30", "d", "0d", "-1d", "3x"):
        with pytest.raises(InvalidInput):
            parse_period(bad)
