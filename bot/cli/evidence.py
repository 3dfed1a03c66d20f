"""``advocacy suggestions evidence [ID] [--refresh]``: the customer voice that says what ideas
say. Without ID, the open ideas by customer evidence; with ID, one idea's evidence with quotes
(scrubbed of personal data). ``--refresh`` looks again (after a change of themes, say)."""

from __future__ import annotations

from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import RecordId, print_json, print_table, run_with_app
from bot.compose.text import plural, truncate
from bot.errors import InvalidInput
from bot.services.suggestion_evidence import (
    EvidenceMatcher,
    evidence_items,
    evidence_summaries,
    find_evidence,
    open_ideas,
    quote,
)
from bot.services.suggestions import get_suggestion, list_suggestions
from bot.storage.models import Suggestion


def _matcher(app: Application) -> EvidenceMatcher:
    if app.extensions.evidence is None:
        raise InvalidInput(
            "No evidence matcher is installed (the content plugin provides it): reinstall the "
            "project with pip install -e ."
        )
    return app.extensions.evidence


@click.command("evidence")
@click.argument("suggestion_id", type=RecordId("suggestion"), required=False)
@click.option("--refresh", is_flag=True, help="Look again for what customers said.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evidence_command(suggestion_id: int | None, refresh: bool, as_json: bool) -> None:
    """Customer voice that says what ideas say: all open ideas, or idea ID with quotes."""

    async def work(app: Application) -> dict[str, Any]:
        if suggestion_id is None:
            refreshed = 0
            if refresh:
                matcher = _matcher(app)
                async with app.db.transaction() as session:
                    ideas = await open_ideas(session)
                for idea in ideas:  # one transaction each: a long refresh holds no lock long
                    async with app.db.transaction() as session:
                        await find_evidence(session, matcher, idea, fresh=True)
                    refreshed += 1
            async with app.db.transaction() as session:
                ideas = await list_suggestions(session, open_only=True, order="evidence")
                return {"refreshed": refreshed, "ideas": [_idea(s) for s in ideas]}
        async with app.db.transaction() as session:
            idea = await get_suggestion(session, suggestion_id)
            if refresh:
                await find_evidence(session, _matcher(app), idea, fresh=True)
            scrub = app.extensions.scrubber
            summary = (await evidence_summaries(session, [idea], scrub)).get(idea.id)
            items = await evidence_items(session, idea.id)
            return {
                **_idea(idea),
                "headline": summary.headline if summary else "No customer said something similar.",
                # Customers' words are shown scrubbed, or not at all.
                "items": [
                    {
                        "voice_item": item.id,
                        "source": item.source,
                        "received_at": item.received_at.isoformat(),
                        "score": round(found.score, 3),
                        "theme": found.theme,
                        "text": quote(item.text, scrub) if scrub else None,
                    }
                    for item, found in items
                ],
            }

    result = run_with_app(work)
    if as_json:
        print_json(result)
        return
    if suggestion_id is None:
        if result["refreshed"]:
            click.echo(f"Looked again for {plural(result['refreshed'], 'open idea')}.")
        print_table(
            "Open ideas by customer evidence",
            ["#", "Customers", "Theme", "Votes", "Idea"],
            [
                [r["id"], r["customers"], r["theme"] or "", r["votes"], truncate(r["text"], 70)]
                for r in result["ideas"]
            ],
            empty="No open ideas.",
        )
        return
    click.echo(f"#{result['id']}: {truncate(result['text'], 200)}")
    click.echo(result["headline"])
    print_table(
        "What customers said",
        ["Item", "Received", "Score", "Theme", "Text"],
        [
            [
                i["voice_item"],
                i["received_at"][:10],
                i["score"],
                i["theme"] or "",
                truncate(i["text"] or "(not shown: no scrubber installed)", 90),
            ]
            for i in result["items"]
        ],
        empty="",
    )


def _idea(s: Suggestion) -> dict[str, Any]:
    # No author here, named or not: evidence depends on the idea's words only.
    return {
        "id": s.id,
        "status": s.status,
        "votes": s.vote_count,
        "customers": s.evidence_count,
        "theme": s.evidence_theme,
        "text": s.text,
    }
