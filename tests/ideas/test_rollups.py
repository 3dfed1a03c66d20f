"""Rollups: counts by objective, team and status, ageing, response rate and who may see them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import Application
from bot.compose.suggestion_cards import rollup_message
from bot.domain import Role
from bot.errors import InvalidInput, PermissionDenied
from bot.events import CommandInvoked
from bot.services.members import get_member
from bot.services.objectives import add_objective
from bot.services.permissions import OPERATOR
from bot.services.rollups import (
    OTHER,
    Contributors,
    Rollup,
    RollupRow,
    build_rollup,
    merge_small_groups,
    parse_period,
)
from bot.services.suggestions import answer_suggestion, file_suggestion
from bot.storage.types import utcnow
from tests.conftest import actor, make_member


async def seed(app: Application) -> None:
    """Support: 6 people, an idea each on 'fast' (1-6 days old; the first answered after 2 days).
    Sales: 5 people, an idea each, no objective, 10 days old. Tiny: 4 people (one anonymous),
    ideas on 'fast' 3 days old, and one 45 days old."""
    await make_member(app, "head", role=Role.MANAGER, team="Leadership")
    await make_member(app, "boss", role=Role.MANAGER, team="Support", manager="head")
    await make_member(app, "seller", role=Role.MANAGER, team="Sales", manager="head")
    await make_member(app, "tinyboss", role=Role.MANAGER, team="Tiny", manager="head")
    plan = [(f"s{n}", "Support", "boss", n + 1, "fast", False) for n in range(6)]
    plan += [(f"x{n}", "Sales", "seller", 10, None, False) for n in range(5)]
    plan += [(f"t{n}", "Tiny", "tinyboss", 3, "fast", n == 0) for n in range(4)]
    plan += [("t1", "Tiny", "tinyboss", 45, "fast", False)]
    now = utcnow()
    authors = {}
    for user, team, manager, *_ in plan:
        if user not in authors:
            authors[user] = await make_member(app, user, team=team, manager=manager)
    async with app.db.transaction() as session:
        await add_objective(session, OPERATOR, "fast", "Reply fast")
        ideas = []
        for user, _team, _manager, days, objective, anonymous in plan:
            idea = await file_suggestion(
                session,
                app.sealer,
                authors[user],
                f"idea from {user}, {days} days old",
                platform="remote",
                objective_key=objective,
                anonymous=anonymous,
            )
            idea.created_at = now - timedelta(days=days)
            ideas.append(idea)
        boss = await get_member(session, "remote", "boss")
        await answer_suggestion(session, app.sealer, boss, ideas[0].id, "on it", status="planned")
        ideas[0].first_response_at = ideas[0].created_at + timedelta(days=2)


async def test_rollup_by_objective_counts_ageing_and_response_rate(app: Application) -> None:
    await seed(app)
    async with app.db.transaction() as session:
        rollup = await build_rollup(
            session, OPERATOR, app.sealer, by="objective", period=timedelta(days=30)
        )
    rows = {row.key: row for row in rollup.rows}
    assert set(rows) == {"fast", "(no objective)"}
    fast = rows["fast"]
    assert (fast.total, fast.answered, fast.waiting) == (10, 1, 9)
    assert fast.by_status == {"planned": 1, "new": 9}
    assert fast.response_rate == 0.1
    assert fast.median_time_to_answer == timedelta(days=2)
    assert rows["(no objective)"].total == 5
    assert rollup.total.total == 15  # the 45-day-old idea is outside the period
    assert rollup.previous_total == 1  # ... and in the 30 days before it
    assert [s.text for s in rollup.oldest_waiting][:1] == ["idea from x0, 10 days old"]
    assert (
        timedelta(days=9, hours=23)
        < rows["(no objective)"].oldest_wait
        < timedelta(days=10, hours=1)
    )


async def test_a_team_of_four_is_never_shown_on_its_own(app: Application) -> None:
    await seed(app)
    async with app.db.transaction() as session:
        by_team = await build_rollup(session, OPERATOR, app.sealer, by="team", period=None)
        by_status = await build_rollup(session, OPERATOR, app.sealer, by="status", period=None)
    # Tiny (4 people) is merged into "other"; "other" alone would still be Tiny, so the next
    # smallest team (Sales, 5 people) joins it.
    assert {r.key: r.total for r in by_team.rows} == {"Support": 6, OTHER: 10}
    assert all("Tiny" not in r.key for r in by_team.rows)
    # Only one person's idea is planned: that status cannot be shown apart either.
    assert [(r.key, r.total) for r in by_status.rows] == [(OTHER, 16)]


def test_small_groups_merge_until_other_is_large_enough() -> None:
    def row(key: str, people: int, anonymous: bool = False) -> RollupRow:
        who = Contributors(frozenset(f"{key}{n}" for n in range(people)), anonymous)
        return RollupRow(key=key, total=people, contributors=who)

    rows = {"a": row("a", 9), "b": row("b", 6), "c": row("c", 2), "d": row("d", 2)}
    assert {r.key: r.total for r in merge_small_groups(rows)} == {"a": 9, OTHER: 2 + 2 + 6}
    rows["e"] = row("e", 3)
    assert {r.key: r.total for r in merge_small_groups(rows)} == {"a": 9, "b": 6, OTHER: 7}
    assert {r.key for r in merge_small_groups({"a": row("a", 9), "b": row("b", 5)})} == {"a", "b"}
    # An untagged anonymous idea may be anyone's: counted low, never high.
    assert Contributors(frozenset({"a", "b", "c", "d"}), untagged_anonymous=True).at_least == 4
    assert Contributors(frozenset(), untagged_anonymous=True).at_least == 1


async def test_a_manager_sees_the_teams_below_them_only(app: Application) -> None:
    await seed(app)
    async with app.db.transaction() as session:
        boss = await get_member(session, "remote", "boss")
        head = await get_member(session, "remote", "head")
        mine = await build_rollup(session, boss, app.sealer, by="team", period=None)
        everything = await build_rollup(session, head, app.sealer, by="team", period=None)
    # Support's 6 ideas, and Tiny's anonymous one: Tiny has 4 people besides its manager and
    # Leadership none, so it is shown under no team, to every manager, never under Tiny.
    assert mine.total.total == 7
    assert "idea from t0, 3 days old" in [s.text for s in mine.oldest_waiting]
    assert not {s.text for s in mine.oldest_waiting} & {"idea from t1, 3 days old"}
    assert {r.key for r in everything.rows} == {"Support", OTHER}
    assert everything.total.total == 16


async def test_the_chat_rollup_names_objectives_by_title_and_exports_keep_the_key(
    app: Application,
) -> None:
    await seed(app)
    reply = await app.router.handle(
        CommandInvoked(actor("head"), command="rollup", text="--by objective --since all")
    )
    [breakdown] = [c for m in reply.messages for c in m.cards if c.title == "By objective"]
    lines = breakdown.text.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Reply fast", "(no objective)"]
    async with app.db.transaction() as session:
        rollup = await build_rollup(session, OPERATOR, app.sealer, by="objective", period=None)
    assert {row.as_dict()["key"] for row in rollup.rows} == {"fast", "(no objective)"}


def test_rollup_rows_read_as_words_and_objectives_with_one_title_stay_apart() -> None:
    def shown(by: str, *rows: RollupRow) -> list[str]:
        rollup = Rollup(by, None, utcnow(), "all teams", list(rows), RollupRow("total"), [])
        [card] = [c for c in rollup_message(rollup, "all time").cards if c.title == f"By {by}"]
        return [line.split(":")[0] for line in card.text.splitlines()]

    assert shown("status", RollupRow("under_review"), RollupRow("new"), RollupRow(OTHER)) == [
        "Under review",
        "New",
        OTHER,
    ]
    assert shown("objective", RollupRow("a", title="Grow"), RollupRow("b", title="Grow")) == [
        "Grow (a)",
        "Grow (b)",
    ]
    # A team named like a status is shown as it is named.
    assert shown("team", RollupRow("done")) == ["done"]


async def test_employees_do_not_see_rollups(app: Application) -> None:
    alice = await make_member(app, "alice")
    async with app.db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await build_rollup(session, alice, app.sealer)


def test_periods() -> None:
    assert parse_period("30d") == timedelta(days=30)
    assert parse_period("2w") == timedelta(days=14)
    assert parse_period("all") is None
    for bad in ("30", "d", "0d", "-1d", "3x"):
        with pytest.raises(InvalidInput):
            parse_period(bad)
