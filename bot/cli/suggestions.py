"""``advocacy suggestions`` and ``advocacy rollup``: ideas from employees, and how managers answer.

Anonymous authors appear nowhere in any output: their suggestions store no readable author.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.app import Application
from bot.cli.evidence import evidence_command
from bot.cli.runtime import RecordId, print_json, print_table, run_with_app
from bot.compose.authorship import shown_author
from bot.compose.notices import who_is_told
from bot.compose.text import humanise_duration, percent, plural, truncate
from bot.domain import SuggestionStatus
from bot.services.permissions import OPERATOR
from bot.services.promises import promise_from_options, promise_note
from bot.services.rollups import DIMENSIONS, Rollup, build_rollup, parse_period
from bot.services.suggestion_moderation import hide_suggestion, merge_suggestions
from bot.services.suggestions import (
    AnswerOutcome,
    answer_suggestion,
    list_suggestions,
    reseal_anonymous_ideas,
)
from bot.storage.models import Suggestion
from bot.storage.types import utcnow
from bot.text_safety import csv_row


@click.group("suggestions")
def suggestions_group() -> None:
    """Suggestions sent by employees."""


@suggestions_group.command("list")
@click.option(
    "--status", type=click.Choice([s.value for s in SuggestionStatus]), help="Only this status."
)
@click.option(
    "--sort",
    type=click.Choice(["newest", "votes", "evidence"]),
    default="newest",
    show_default=True,
    help="Order: newest, most voted, or most customers who said something similar.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(status: str | None, sort: str, as_json: bool) -> None:
    """List suggestions (anonymous ones show no author), with their customer evidence."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            return [_listed(s) for s in await list_suggestions(session, status=status, order=sort)]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Suggestions",
        ["#", "Status", "Votes", "Customers", "From", "Team", "Objective", "Answered", "Idea"],
        [
            [
                r["id"],
                r["status"],
                r["votes"],
                f"{r['customers']} ({r['customer_theme']})"
                if r["customer_theme"]
                else r["customers"],
                r["author"] or "anonymous",
                r["team"] or "",
                r["objective"] or "",
                "yes" if r["answered"] else "no",
                truncate(r["text"], 60),
            ]
            for r in records
        ],
        empty="No suggestions yet. Employees send them with /suggest in chat.",
    )


def _listed(s: Suggestion) -> dict[str, Any]:
    """One idea as `suggestions list` shows it (an anonymous one with no author and no team)."""
    shown = shown_author(s)
    return {
        "id": s.id,
        "status": s.status,
        "votes": s.vote_count,
        "anonymous": s.anonymous,
        "author": None if shown.anonymous else shown.label,
        "team": shown.team,
        "objective": s.objective.key if s.objective else None,
        "created_at": s.created_at.isoformat(),
        "answered": s.first_response_at is not None,
        "customers": s.evidence_count,
        "customer_theme": s.evidence_theme,
        "text": s.text,
    }


@click.command("rollup")
@click.option("--since", default="30d", show_default=True, help="Period: 7d, 4w, 6m or all.")
@click.option("--by", type=click.Choice(DIMENSIONS), default="objective", show_default=True)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def rollup(since: str, by: str, output: str) -> None:
    """Suggestions by objective, team or status: ageing and response rate."""

    async def work(app: Application) -> Rollup:
        async with app.db.transaction() as session:
            result = await build_rollup(
                session,
                OPERATOR,
                app.sealer,
                by=by,
                period=parse_period(since),
                scrub=app.extensions.scrubber,
            )
            for suggestion in [*result.oldest_waiting, *result.top_voted]:  # load in-session
                _ = suggestion.team, suggestion.objective
            return result

    result = run_with_app(work)
    rows = [row.as_dict() for row in result.rows]
    total = result.total.as_dict()
    now = utcnow()

    def idea(s: Suggestion) -> dict[str, object]:
        return {
            "id": s.id,
            "age_days": round((now - s.created_at).total_seconds() / 86_400, 2),
            "status": s.status,
            "team": shown_author(s).team,
            "objective": s.objective.key if s.objective else None,
            "votes": s.vote_count,
            "customers": s.evidence_count,
            "customer_theme": s.evidence_theme,
            "text": s.text,
        }

    waiting = [idea(s) for s in result.oldest_waiting]
    if output == "json":
        print_json(
            {
                "by": by,
                "since": result.since.isoformat() if result.since else None,
                "generated_at": result.generated_at.isoformat(),
                "rows": rows,
                "total": total,
                "previous_period_total": result.previous_total,
                "oldest_waiting": waiting,
                "top_voted": [idea(s) for s in result.top_voted],
                "most_customer_evidence": [idea(s) for s in result.most_evidence],
            }
        )
        return
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(total), lineterminator="\n")
        writer.writeheader()
        writer.writerows([csv_row(row) for row in (*rows, total)])
        click.echo(buffer.getvalue(), nl=False)
        return
    table_rows = [
        [
            r.key,
            r.total,
            r.by_status.get("new", 0),
            r.by_status.get("under_review", 0),
            r.by_status.get("planned", 0),
            r.by_status.get("done", 0),
            r.by_status.get("declined", 0),
            percent(r.answered, r.total),
            r.waiting,
            humanise_duration(r.median_wait),
            humanise_duration(r.oldest_wait),
            humanise_duration(r.median_time_to_answer),
            r.votes,
        ]
        for r in [*result.rows, result.total]
    ]
    print_table(
        f"Suggestions by {by}, {'all time' if result.since is None else 'last ' + since}",
        [
            by.capitalize(),
            "Ideas",
            "New",
            "Review",
            "Planned",
            "Done",
            "Declined",
            "Answered",
            "Waiting",
            "Median wait",
            "Oldest wait",
            "Time to answer",
            "Votes",
        ],
        table_rows if result.rows else [],
        empty="No suggestions in this period.",
    )
    if result.previous_total is not None:
        click.echo(
            f"{result.total.total} new ideas against {result.previous_total} in the period "
            f"before ({result.total.total - result.previous_total:+d})."
        )
    if result.top_voted:
        print_table(
            "Most voted",
            ["#", "Votes", "Status", "Idea"],
            [[s.id, s.vote_count, s.status, truncate(s.text, 70)] for s in result.top_voted],
            empty="",
        )
    if result.most_evidence:
        print_table(
            "Waiting ideas most customers said something similar about",
            ["#", "Customers", "Theme", "Idea"],
            [
                [s.id, s.evidence_count, s.evidence_theme or "", truncate(s.text, 70)]
                for s in result.most_evidence
            ],
            empty="",
        )
    if waiting:
        print_table(
            "Oldest ideas waiting for an answer",
            ["#", "Waiting", "Team", "Objective", "Idea"],
            [
                [
                    w["id"],
                    humanise_duration(now - s.created_at),
                    w["team"] or "",
                    w["objective"] or "",
                    truncate(w["text"], 60),
                ]
                for w, s in zip(waiting, result.oldest_waiting, strict=True)
            ],
            empty="",
        )


@suggestions_group.command("answer")
@click.argument("suggestion_id", type=RecordId("suggestion"))
@click.argument("text")
@click.option(
    "--status", type=click.Choice([s.value for s in SuggestionStatus]), help="The new status."
)
@click.option("--objective", help="Planned or done: the objective whose KPI it should move.")
@click.option(
    "--expect",
    type=click.Choice(["higher", "lower"]),
    help="Which way the KPI should go (default: the way that is better for it).",
)
@click.option("--review-in", help="When to check, as a wait: 30d, 4w (done: 30d by default).")
@click.option("--review-on", help="When to check, as a date: 2027-03-01.")
def answer(
    suggestion_id: int,
    text: str,
    status: str | None,
    objective: str | None,
    expect: str | None,
    review_in: str | None,
    review_on: str | None,
) -> None:
    """Answer idea SUGGESTION_ID with TEXT (told to its author and backers); a planned or done
    answer may name the KPI it should move, checked on the review date."""

    async def work(app: Application) -> AnswerOutcome:
        async with app.db.transaction() as session:
            promise = promise_from_options(objective, expect, review_in, review_on)
            outcome = await answer_suggestion(
                session, app.sealer, OPERATOR, suggestion_id, text, status=status, promise=promise
            )
            if outcome.review is not None:  # read in-session for the note below
                _ = outcome.review.objective
            return outcome

    outcome = run_with_app(work)
    state = SuggestionStatus(outcome.suggestion.status).label
    click.echo(
        f"Answer recorded: #{outcome.suggestion.id} is {state}. "
        + who_is_told(outcome.author_notified, outcome.others_notified)
    )
    if outcome.review is not None:
        click.echo(f"Review #{outcome.review.id}: " + promise_note(outcome.review, ZoneInfo("UTC")))


@suggestions_group.command("merge")
@click.argument("duplicate", type=RecordId("suggestion"))
@click.option(
    "--into", "target", type=RecordId("suggestion"), required=True, help="The idea it repeats."
)
def merge(duplicate: int, target: int) -> None:
    """Fold idea DUPLICATE into another; its votes move and its author is told."""

    async def work(app: Application) -> Suggestion:
        async with app.db.transaction() as session:
            return await merge_suggestions(session, app.sealer, OPERATOR, duplicate, target)

    merged = run_with_app(work)
    click.echo(
        f"#{duplicate} joined #{merged.id}, which now has {plural(merged.vote_count, 'vote')}."
    )


@suggestions_group.command("hide")
@click.argument("suggestion_id", type=RecordId("suggestion"))
@click.option("--reason", required=True, help="Told to the author.")
def hide(suggestion_id: int, reason: str) -> None:
    """Take an abusive idea off the board; the author is told the reason."""

    async def work(app: Application) -> Suggestion:
        async with app.db.transaction() as session:
            return await hide_suggestion(session, app.sealer, OPERATOR, suggestion_id, reason)

    hidden = run_with_app(work)
    click.echo(f"#{hidden.id} is hidden; its author will be told why.")


@suggestions_group.command("reseal")
def reseal() -> None:
    """Seal again the anonymous ideas filed before version 0010's sealed tags (once, after the
    upgrade): their authors are counted as people again, and their sealed references no longer
    show when they were made."""

    async def work(app: Application) -> int:
        async with app.db.transaction() as session:
            return await reseal_anonymous_ideas(session, app.sealer)

    count = run_with_app(work)
    click.echo(
        f"{plural(count, 'anonymous idea')} sealed again." if count else "Nothing to seal again."
    )


suggestions_group.add_command(evidence_command)


def register(root: click.Group) -> None:
    root.add_command(suggestions_group)
    root.add_command(rollup)
