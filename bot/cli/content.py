"""``advocacy content``: the curated library."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from bot.app import Application
from bot.cli.runtime import print_json, print_table, run_with_app
from bot.domain import ContentStatus
from bot.errors import DomainError, InvalidInput
from bot.services.content import add_content, list_content
from bot.services.permissions import OPERATOR
from bot.storage.models import ContentItem
from bot.storage.types import utcnow


@click.group("content")
def content_group() -> None:
    """Curated content: articles and posts worth reading and sharing."""


@content_group.command("add")
@click.argument("url")
@click.option("--title", help="Headline shown on the card [default: the page's own title].")
@click.option("--summary", help="Why it matters [default: the page's description].")
@click.option("--share-text", help="Suggested text for employees' posts, any network.")
@click.option("--linkedin", "linkedin_text", help="Suggested LinkedIn post.")
@click.option("--x", "x_text", help="Suggested post on X (256 characters at most).")
@click.option("--objective", "objective_key", help="Key of the objective it serves.")
@click.option("--topic", "topics", multiple=True, help="A topic; repeat for several.")
@click.option(
    "--expires",
    type=click.IntRange(1, 3650),
    metavar="DAYS",
    help="Stop sending it after this many days.",
)
def add(
    url: str,
    title: str | None,
    summary: str | None,
    share_text: str | None,
    linkedin_text: str | None,
    x_text: str | None,
    objective_key: str | None,
    topics: tuple[str, ...],
    expires: int | None,
) -> None:
    """Curate URL: it goes out with the next content digest. Without --title, the page is
    read once for its title, description and image (Open Graph tags)."""

    async def work(app: Application) -> ContentItem:
        info = None
        if not title or not summary:
            if app.extensions.url_enricher is None:
                if not title:
                    raise InvalidInput("Give a --title (no installed plugin reads pages).")
            else:
                try:
                    info = await app.extensions.url_enricher(url)
                except DomainError as error:
                    if not title:
                        raise InvalidInput(f"{error.message} Give a --title instead.") from None
        async with app.db.transaction() as session:
            return await add_content(
                session,
                OPERATOR,
                url,
                title=title or (info.title if info else ""),
                summary=summary if summary is not None else (info.summary if info else None),
                share_text=share_text,
                share_texts={"linkedin": linkedin_text or "", "x": x_text or ""},
                objective_key=objective_key,
                topics=topics,
                image_url=info.image_url if info else None,
                expires_at=utcnow() + timedelta(days=expires) if expires else None,
            )

    item = run_with_app(work)
    click.echo(f"Added #{item.id} '{item.title}'.")


@content_group.command("list")
@click.option(
    "--status", type=click.Choice([s.value for s in ContentStatus]), help="Only this status."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(status: str | None, as_json: bool) -> None:
    """List curated content, newest first."""

    async def work(app: Application) -> list[dict[str, Any]]:
        async with app.db.transaction() as session:
            return [
                {
                    "id": i.id,
                    "title": i.title,
                    "url": i.url,
                    "status": i.status,
                    "objective": i.objective.key if i.objective else None,
                    "topics": i.topics,
                    "source": i.source,
                    "created_at": i.created_at.isoformat(),
                }
                for i in await list_content(session, status)
            ]

    records = run_with_app(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Content",
        ["#", "Title", "Objective", "Status", "URL"],
        [[r["id"], r["title"], r["objective"] or "", r["status"], r["url"]] for r in records],
        empty="The library is empty. Add an article with: advocacy content add URL --title TITLE",
    )


def register(root: click.Group) -> None:
    root.add_command(content_group)
