"""Checks before timing: the comparison is only fair if both sides count the same thing, and
the seeded anonymous ideas are stored as the product stores them."""

from __future__ import annotations

from sqlalchemy import select

from benchmarks.report_scale.floors import ObjectiveSums, RollupFloor
from bot.sealing import Sealer
from bot.services.anonymous_scope import coarse_time, load_team_scopes
from bot.services.objectives_report import ObjectivesReport
from bot.services.rollups import MIN_CONTRIBUTORS, OTHER, Rollup
from bot.storage.database import Database
from bot.storage.models import Suggestion


def check_rollup(rollup: Rollup, floor: RollupFloor, what: str) -> list[str]:
    """Every figure of every row, people included, exactly; groups merged into "other" are the
    groups of fewer than 5 people by the floor's own count (and any that had to join them)."""
    groups = floor.groups
    problems = []
    if floor.unopened:
        problems.append(f"{what}: {floor.unopened} sealed contributor tags did not open")
    total = sum(g.total for g in groups.values())
    if rollup.total.total != total:
        problems.append(f"{what}: total {rollup.total.total} vs {total} by GROUP BY")
    everyone = set().union(*(g.people for g in groups.values()))
    if rollup.total.contributors.at_least != len(everyone):
        problems.append(
            f"{what}: {rollup.total.contributors.at_least} people in all, "
            f"{len(everyone)} by GROUP BY"
        )
    shown = {row.key for row in rollup.rows if row.key != OTHER}
    for row in rollup.rows:
        people = row.contributors.at_least
        if row.contributors.untagged_anonymous:
            problems.append(f"{what}: '{row.key}' has anonymous ideas counted as 'at least one'")
        if people < MIN_CONTRIBUTORS and len(rollup.rows) > 1:
            problems.append(f"{what}: '{row.key}' shown with {people} contributors")
        if row.key == OTHER:
            merged = [g for key, g in groups.items() if key not in shown]
            theirs_other = (
                sum(g.total for g in merged),
                len(set().union(*(g.people for g in merged))),
            )
            if (row.total, people) != theirs_other:
                problems.append(
                    f"{what}: other (ideas, people) {(row.total, people)} vs {theirs_other}"
                )
            continue
        group = groups.get(row.key)
        if group is None:
            problems.append(f"{what}: '{row.key}' has no GROUP BY row")
            continue
        mine = (row.total, row.by_status, row.answered, row.votes, row.waiting, people)
        theirs = (group.total, group.by_status, group.answered, group.votes)
        theirs += (group.total - group.answered, len(group.people))
        if mine != theirs:
            problems.append(f"{what}: '{row.key}' {mine} vs {theirs}")
    small = {key for key, g in groups.items() if len(g.people) < MIN_CONTRIBUTORS}
    if small & shown:
        problems.append(f"{what}: {sorted(small & shown)} shown apart with < {MIN_CONTRIBUTORS}")
    if any(key not in shown for key in groups) and OTHER not in {r.key for r in rollup.rows}:
        problems.append(f"{what}: groups missing, and no 'other' row")
    for idea in (*rollup.oldest_waiting, *rollup.top_voted):
        if idea.anonymous and idea.author_id is not None:
            problems.append(f"{what}: anonymous idea #{idea.id} shows its author")
    return problems


def check_report(report: ObjectivesReport, sums: dict[str, ObjectiveSums], what: str) -> list[str]:
    problems = []
    plain = (
        "items_sent",
        "messages_sent",
        "reached",
        "found_useful",
        "not_relevant",
        "shares",
        "clicks",
        "voice",
        "voice_before",
    )
    for row in report.rows:
        theirs = sums[row.key]
        for name in plain:
            if getattr(row, name) != getattr(theirs, name):
                problems.append(
                    f"{what}: {row.key}.{name} {getattr(row, name)} vs {getattr(theirs, name)}"
                )
        for name in ("sentiment", "sentiment_before"):
            a, b = getattr(row, name), getattr(theirs, name)
            if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-9):
                problems.append(f"{what}: {row.key}.{name} {a} vs {b}")
        s = row.suggestions
        if not s.merged_into_other:
            mine = (s.filed, s.answered, s.accepted, s.done)
            expected = (theirs.filed, theirs.answered, theirs.accepted, theirs.done)
            if mine != expected:
                problems.append(f"{what}: {row.key} suggestions {mine} vs {expected}")
    return problems


async def check_seeded(db: Database, sealer: Sealer) -> list[str]:
    """Anonymous ideas were stored as file_suggestion stores them, or the figures would be those
    of a product that no longer exists: no author, a sealed reference, a sealed tag that opens
    and differs from every other (even the same person's), a team the product would show them
    under today, and times to the hour."""
    problems = []
    async with db.sessions() as session:
        ideas = (
            await session.execute(
                select(
                    Suggestion.author_id,
                    Suggestion.sealed_author,
                    Suggestion.contributor_tag,
                    Suggestion.team_id,
                    Suggestion.created_at,
                    Suggestion.first_response_at,
                    Suggestion.updated_at,
                ).where(Suggestion.anonymous)
            )
        ).all()
        scopes = await load_team_scopes(session)
    readable = sum(1 for a, sealed, tag, *_ in ideas if a is not None or not sealed or not tag)
    if readable:
        problems.append(f"{readable} anonymous suggestions were seeded with a readable author")
    tags = [tag for _, _, tag, *_ in ideas if tag]
    if len(set(tags)) != len(tags):
        problems.append(f"{len(tags) - len(set(tags))} sealed contributor tags repeat another")
    if any(sealer.open_contributor(tag) is None for tag in tags):
        problems.append("some contributor tags were seeded unsealed (they do not open)")
    misplaced = sum(1 for *_, team, _c, _f, _u in ideas if scopes.place(team) != team)
    if misplaced:
        problems.append(f"{misplaced} anonymous ideas are under a team too small to hide them")
    exact = sum(
        1
        for *_, created, answered, updated in ideas
        if created != coarse_time(created) or (answered is None and updated != created)
    )
    if exact:
        problems.append(f"{exact} anonymous ideas were seeded with times finer than the hour")
    return problems
