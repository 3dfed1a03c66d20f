"""Timing each report against its floor, engine by engine: seed, check, then alternate the
service and the hand-written SQL within each run."""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.report_scale.checks import check_report, check_rollup, check_seeded
from benchmarks.report_scale.company import DEPARTMENTS
from benchmarks.report_scale.floors import report_by_sql, rollup_by_sql
from benchmarks.report_scale.rows import Plan
from benchmarks.report_scale.seeding import seed
from benchmarks.results import Comparison, Figure, Section
from bot.sealing import Sealer
from bot.services.objectives_report import ObjectivesReport, build_objectives_report
from bot.services.rollups import MIN_CONTRIBUTORS, build_rollup
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Member, Suggestion
from bot.storage.types import utcnow

# The revision before migration 0016 (report counters): seeded there, then upgraded.
COUNTERS_REVISION_BEFORE = "0015"
ROLLUP_PERIOD = None  # all time: the heaviest rollup a manager can ask for
REPORT_PERIODS = (timedelta(days=365), timedelta(days=30))


async def opening_runs(db: Database, secret: str, repeat: int) -> tuple[int, list[float]]:
    """What a process's first rollup pays once on top of the (warm) timed figures: opening every
    anonymous idea's sealed tag. Microseconds per tag, a fresh Sealer (empty cache) each run."""
    async with db.sessions() as session:
        tags = list(
            await session.scalars(
                select(Suggestion.contributor_tag).where(
                    Suggestion.anonymous, Suggestion.contributor_tag.is_not(None)
                )
            )
        )
    runs = []
    for _ in range(repeat):
        sealer = Sealer(secret)
        started = time.perf_counter()
        for tag in tags:
            sealer.open_contributor(tag)
        runs.append((time.perf_counter() - started) * 1e6 / max(len(tags), 1))
    return len(tags), runs


@dataclass
class Case:
    """One report and its hand-written floor, with the check that they agree."""

    name: str
    service: Callable[[AsyncSession], Awaitable[Any]]
    floor: Callable[[AsyncSession, Any], Awaitable[Any]]  # given the service's result
    check: Callable[[Any, Any], list[str]]
    service_runs: list[float] = field(default_factory=list)
    floor_runs: list[float] = field(default_factory=list)


async def timed(db: Database, work: Callable[[AsyncSession], Awaitable[Any]]) -> tuple[Any, float]:
    """One run in its own session, as one request would be served."""
    started = time.perf_counter()
    async with db.sessions() as session, session.begin():
        result = await work(session)
    return result, time.perf_counter() - started


def cases(secret: str, ceo: Member, vp: Member, vp_name: str) -> list[Case]:
    # One sealer each, as two processes would have: neither side finds tags the other opened.
    # Each remembers what it opened (as the product's does), so after the first, untimed run
    # both open nothing; the cost of a first opening is timed on its own (opening_runs).
    sealer, floor_sealer = Sealer(secret), Sealer(secret)

    def rollup_case(name: str, viewer: Member, by: str) -> Case:
        return Case(
            name,
            lambda s: build_rollup(s, viewer, sealer, by=by, period=ROLLUP_PERIOD),
            lambda s, _r: rollup_by_sql(s, floor_sealer, viewer.id, by),
            lambda r, g: check_rollup(r, g, name),
        )

    def report_case(period: timedelta) -> Case:
        name = f"objectives report, last {period.days} days"

        async def floor(session: AsyncSession, report: ObjectivesReport | None) -> Any:
            # For the check, the service's own window; when timing, a window of its own.
            if report is not None:
                return await report_by_sql(session, report.since, report.until)
            until = utcnow()
            return await report_by_sql(session, until - period, until)

        return Case(
            name,
            lambda s: build_objectives_report(s, ceo, sealer, period),
            floor,
            lambda r, g: check_report(r, g, name),
        )

    return [
        rollup_case("rollup, CEO: whole company by team, all time", ceo, "team"),
        rollup_case(f"rollup, VP {vp_name}: by objective, all time", vp, "objective"),
        *(report_case(period) for period in REPORT_PERIODS),
    ]


async def run_backend(
    label: str,
    db: Database,
    plan: Plan,
    repeat: int,
    console: Console,
    section: Section,
) -> None:
    """Migrate, seed, check and time one engine; figures and comparisons go into ``section``."""
    # Seeded as it stood before the report counters, then upgraded: the migration that adds
    # them counts them from the rows, as on an existing installation (timed below).
    await migrate.upgrade(db, COUNTERS_REVISION_BEFORE)
    secret = secrets.token_urlsafe(32)
    seeded = await seed(db, plan, Sealer(secret), console)
    rows = sum(seeded.rows.values())
    console.print(
        f"  {label}: seeded {rows:,} rows in {seeded.seconds:.1f} s "
        f"({seeded.rows['feedback']:,} feedback, {seeded.rows['suggestions']:,} suggestions)"
    )
    started = time.perf_counter()
    await migrate.upgrade(db)
    backfill = time.perf_counter() - started
    console.print(f"  {label}: migrated to head, report counters backfilled, in {backfill:.1f} s")
    section.figures.append(
        Figure(
            f"{label}: migration 0016, report counters counted from the rows",
            "s",
            [backfill],
            f"{seeded.rows['feedback']:,} feedback rows, {seeded.rows['deliveries']:,} deliveries",
        )
    )
    section.figures.append(
        Figure(
            f"{label}: seeding (bulk load, all tables)",
            "rows/s",
            [rows / seeded.seconds],
            f"{rows:,} rows in {seeded.seconds:.1f} s",
        )
    )
    async with db.sessions() as session:
        ceo = await session.get(Member, seeded.company.ceo)
        vp = await session.get(Member, seeded.company.vps[0])
    assert ceo is not None and vp is not None
    problems = await check_seeded(db, Sealer(secret))
    placed = seeded.placed
    section.notes.append(
        f"{label}: of {placed.ideas:,} anonymous ideas, {placed.own_team:,} are under their "
        f"author's team, {placed.higher_up:,} higher up ({seeded.small_teams} of the "
        f"{len(seeded.company.teams)} teams have too few active members to show their "
        "own) and "
        f"{placed.no_team:,} under no team (anonymous_scope's placement, as at filing)."
    )
    tags, opening = await opening_runs(db, secret, repeat)
    section.figures.append(
        Figure(
            f"{label}: opening the sealed contributor tags, first rollup in a process",
            "us/tag",
            opening,
            f"{tags:,} tags, a fresh Sealer each run: "
            f"{statistics.median(opening) * tags / 1000:,.0f} ms once per process",
        )
    )
    todo = cases(secret, ceo, vp, DEPARTMENTS[0])
    for case in todo:
        # A first, untimed run of each side warms caches and checks that they agree.
        result, _ = await timed(db, case.service)
        floor, _ = await timed(db, lambda s, c=case, r=result: c.floor(s, r))
        problems += case.check(result, floor)
    with Progress(
        TextColumn(f"  {label}: timing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("timing", total=repeat * len(todo))
        for n in range(repeat):
            for case in todo:
                # Alternate which side goes first, so neither always finds the cache warmer.
                order = ("service", "floor") if n % 2 == 0 else ("floor", "service")
                for side in order:
                    if side == "service":
                        _, seconds = await timed(db, case.service)
                        case.service_runs.append(seconds)
                    else:
                        _, seconds = await timed(db, lambda s, c=case: c.floor(s, None))
                        case.floor_runs.append(seconds)
                progress.advance(task)
    for case in todo:
        section.figures.append(
            Figure(f"{label}: {case.name}", "ms", [s * 1000 for s in case.service_runs])
        )
        section.figures.append(
            Figure(
                f"{label}: {case.name}, hand-written GROUP BY",
                "ms",
                [s * 1000 for s in case.floor_runs],
            )
        )
        section.comparisons.append(
            Comparison(
                f"{label}: {case.name}",
                [a / b for a, b in zip(case.service_runs, case.floor_runs, strict=True)],
                "service time / hand-written GROUP BY time; 1.0 = no overhead",
            )
        )
    if problems:
        for problem in problems:
            console.print(f"  [red]MISMATCH[/] {problem}")
        section.notes.append(
            f"{label}: MISMATCH between services and GROUP BY: " + "; ".join(problems)
        )
    else:
        section.notes.append(
            f"{label}: every number the services return agreed with the hand-written GROUP BY "
            "(totals, counts by status, answers, votes, distinct people behind each rollup row "
            "and behind 'other', people reached, feedback, clicks, voice), no group of fewer "
            f"than {MIN_CONTRIBUTORS} people was shown apart, and the anonymous ideas were "
            "stored as the product stores them (sealed tags all distinct and all opening, "
            "placed teams, times to the hour)."
        )
