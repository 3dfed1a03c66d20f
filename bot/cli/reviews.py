"""``advocacy reviews``: decisions as promises. List the reviews (due: asked and not answered;
overdue: unanswered for SUGGESTION_ANSWER_DAYS), answer one, or ask the due ones now (what the
server's job does every quarter hour)."""

from __future__ import annotations

from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import RecordId, print_json, print_table, run_with_app
from bot.compose.kpi_text import kpi_value
from bot.compose.text import plural
from bot.services.decision_reviews import (
    ReviewOutcome,
    answer_review,
    ask_due_reviews,
    describe_state,
    escalate_overdue_reviews,
    kpi_change,
    list_reviews,
)
from bot.services.permissions import OPERATOR
from bot.storage.types import utcnow


@click.group("reviews")
def reviews_group() -> None:
    """Did decisions move their KPI? Reviews of ideas set to planned or done."""


@reviews_group.command("list")
@click.option("--due", is_flag=True, help="Only those asked and not answered.")
@click.option("--overdue", is_flag=True, help="Only those unanswered past SUGGESTION_ANSWER_DAYS.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(due: bool, overdue: bool, as_json: bool) -> None:
    """Reviews, the soonest first (replaced ones left out)."""

    async def work(app: Application) -> list[dict[str, Any]]:
        now = utcnow()
        after = app.settings.answer_after if overdue else None
        async with app.db.transaction() as session:
            reviews = await list_reviews(session, now, due=due, overdue_after=after)
            # Not asked yet: the KPI so far, so the table shows where it is heading.
            so_far = {
                r.id: (await kpi_change(session, r, now)).after
                for r in reviews
                if r.review_value is None
            }
            return [
                {
                    "id": r.id,
                    "suggestion": r.suggestion_id,
                    "objective": r.objective.key,
                    "kpi": r.objective.kpi,
                    "expected": r.expected,
                    "decided_status": r.decided_status,
                    "decided_at": r.decided_at.isoformat(),
                    "review_on": r.review_on.isoformat(),
                    "state": r.state,
                    "verdict": r.verdict,
                    "baseline_value": r.baseline_value,
                    "review_value": r.review_value,
                    "latest_value": so_far.get(r.id),
                    "unit": r.objective.kpi_unit,
                    "postponed": r.postponed,
                    "escalation_level": r.escalation_level,
                    "described": describe_state(r, now),
                }
                for r in reviews
            ]

    records = run_with_app(work)
    if as_json:
        print_json([{k: v for k, v in r.items() if k != "described"} for r in records])
        return
    print_table(
        "Decision reviews",
        ["#", "Idea", "Objective", "Expected", "Decided", "Review on", "KPI then → now", "State"],
        [
            [
                r["id"],
                f"#{r['suggestion']}",
                r["objective"],
                r["expected"],
                f"{r['decided_status']} {r['decided_at'][:10]}",
                r["review_on"][:10],
                f"{kpi_value(r['baseline_value'], r['unit'])} → " + _after(r),
                r["described"],
            ]
            for r in records
        ],
        empty="No reviews here. A manager makes one by answering an idea as planned or done "
        "with --objective KEY.",
    )


@reviews_group.command("answer")
@click.argument("review_id", type=RecordId("review"))
@click.argument("answer", type=click.Choice(["helped", "revisit", "later"]))
@click.argument("days", type=click.IntRange(1, 365), required=False)
def answer(review_id: int, answer: str, days: int | None) -> None:
    """Answer review REVIEW_ID: helped, revisit, or later DAYS (ask again in DAYS days). The
    idea's author and backers are told of helped and revisit."""

    async def work(app: Application) -> ReviewOutcome:
        async with app.db.transaction() as session:
            return await answer_review(
                session, app.sealer, OPERATOR, review_id, answer, utcnow(), days=days
            )

    outcome = run_with_app(work)
    click.echo(outcome.note)
    if outcome.author_told or outcome.others_told:
        told = outcome.others_told + outcome.author_told
        click.echo(f"{plural(told, 'person', 'people')} will be told (the author and backers).")


@reviews_group.command("ask")
def ask() -> None:
    """Ask the reviews whose date came, and flag overdue ones up the hierarchy, now (the
    server does it every quarter hour); the messages go out with the server's outbox."""

    async def work(app: Application) -> tuple[int, int]:
        now = utcnow()
        async with app.db.transaction() as session:
            asked = await ask_due_reviews(session, app.sealer, now)
            flagged = await escalate_overdue_reviews(
                session, app.sealer, now, app.settings.answer_after
            )
            return asked, flagged

    asked, flagged = run_with_app(work)
    click.echo(
        f"{plural(asked, 'review card')} and {plural(flagged, 'overdue flag')} queued; "
        "advocacy serve sends them."
    )


def register(root: click.Group) -> None:
    root.add_command(reviews_group)


def _after(record: dict[str, Any]) -> str:
    """The KPI the review compared, or (not asked yet) its latest reading so far."""
    if record["review_value"] is not None:
        return kpi_value(record["review_value"], record["unit"])
    if record["latest_value"] is not None:
        return f"{kpi_value(record['latest_value'], record['unit'])} so far"
    return "no reading since"
