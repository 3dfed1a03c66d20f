"""Commands content/ adds to ``advocacy content``: the draft queue and feeds."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from bot.app import Application
from bot.cli.runtime import RecordId, print_json, print_table, run_with_app
from bot.services.content import list_drafts, review_content
from bot.services.permissions import OPERATOR
from bot.storage.models import ContentFeed
from content.curated.feeds import add_feed, poll_all
from content.settings import content_settings


@click.command("drafts")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def drafts(as_json: bool) -> None:
    """Drafts waiting for a strategist (from feeds, mostly), newest first."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            feeds = {f.id: f.title or f.url for f in await session.scalars(select(ContentFeed))}
            return [
                {
                    "id": i.id,
                    "title": i.title,
                    "url": i.url,
                    "from": feeds.get(i.feed_id or 0, i.source),
                    "objective": i.objective.key if i.objective else None,
                    "created_at": i.created_at.isoformat(),
                }
                for i in await list_drafts(session)
            ]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Drafts",
        ["#", "Title", "From", "Objective", "URL"],
        [[r["id"], r["title"], r["from"], r["objective"] or "", r["url"]] for r in records],
        empty="No drafts are waiting. Feeds add them: advocacy content feeds add URL",
    )


def _review(ids: tuple[int, ...], approve: bool) -> None:
    async def work(app: Application) -> list[str]:
        async with app.db.transaction() as session:
            return [
                (await review_content(session, OPERATOR, item_id, approve=approve)).title
                for item_id in ids
            ]

    titles = run_with_app(work)
    verdict = "Approved" if approve else "Rejected"
    for item_id, title in zip(ids, titles, strict=True):
        click.echo(f"{verdict} #{item_id} '{title}'.")


@click.command("approve")
@click.argument("ids", nargs=-1, type=RecordId("draft"), required=True)
def approve(ids: tuple[int, ...]) -> None:
    """Approve drafts: they go out with the next content digest."""
    _review(ids, approve=True)


@click.command("reject")
@click.argument("ids", nargs=-1, type=RecordId("draft"), required=True)
def reject(ids: tuple[int, ...]) -> None:
    """Reject drafts."""
    _review(ids, approve=False)


@click.group("feeds")
def feeds_group() -> None:
    """RSS and Atom feeds polled into the draft queue (every FEED_POLL_MINUTES by the server)."""


@feeds_group.command("add")
@click.argument("url")
@click.option("--objective", "objective_key", help="The objective its articles serve.")
@click.option("--topic", "topics", multiple=True, help="A topic; repeat for several.")
def feeds_add(url: str, objective_key: str | None, topics: tuple[str, ...]) -> None:
    """Poll the feed at URL into the draft queue."""

    async def work(app: Application) -> ContentFeed:
        return await add_feed(app.db, OPERATOR, url, objective_key=objective_key, topics=topics)

    feed = run_with_app(work)
    click.echo(f"Added feed #{feed.id}; poll it now with: advocacy content feeds poll")


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def feeds_list(as_json: bool) -> None:
    """Feeds, with when each was last read and any error."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            return [
                {
                    "id": f.id,
                    "url": f.url,
                    "title": f.title,
                    "enabled": f.enabled,
                    "last_polled_at": f.last_polled_at.isoformat() if f.last_polled_at else None,
                    "last_error": f.last_error,
                }
                for f in await session.scalars(select(ContentFeed).order_by(ContentFeed.id))
            ]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Feeds",
        ["#", "Feed", "Last read", "Problem"],
        [
            [r["id"], r["title"] or r["url"], r["last_polled_at"] or "never", r["last_error"] or ""]
            for r in records
        ],
        empty="No feeds yet. Add one with: advocacy content feeds add URL",
    )


@feeds_group.command("poll")
def feeds_poll() -> None:
    """Read every feed now and queue its new articles as drafts."""

    async def work(app: Application) -> list[Any]:
        allow = content_settings(app.settings).fetch_private_addresses
        return await poll_all(app.db, allow_private=allow)

    results = run_with_app(work)
    for result in results:
        state = (
            f"error: {result.error}"
            if result.error
            else (f"{result.drafts} new drafts, {result.already} already known")
        )
        click.echo(f"{result.feed}: {state}")
    if not results:
        click.echo("No feeds yet. Add one with: advocacy content feeds add URL")
    if any(result.error for result in results):
        raise SystemExit(2)


def register_content_commands(root: click.Group) -> None:
    group = root.commands.get("content")
    if isinstance(group, click.Group):
        for command in (drafts, approve, reject, feeds_group):
            group.add_command(command)
