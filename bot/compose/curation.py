"""Curation cards: drafts (from feeds, say) that strategists approve, reject or edit."""

from __future__ import annotations

from collections.abc import Sequence

from bot.compose import actions
from bot.compose.text import plural, truncate
from bot.domain import ContentStatus
from bot.messages import (
    Button,
    ButtonStyle,
    Card,
    Fact,
    FieldKind,
    Form,
    FormField,
    LinkButton,
    Message,
    Option,
    subject_key,
)
from bot.plugins import PageInfo
from bot.storage.models import ContentItem, Objective

STATE_NOTES = {
    ContentStatus.APPROVED: "✓ Approved: it goes out with the next content digest.",
    ContentStatus.REJECTED: "✗ Rejected.",
}


def curation_card(item: ContentItem, source: str = "") -> Card:
    value = {"content": item.id}
    facts = [Fact("From", source or item.source)]
    if item.objective is not None:
        facts.append(Fact("Objective", item.objective.title))
    if item.topics:
        facts.append(Fact("Topics", ", ".join(item.topics)))
    if item.published_at is not None:
        facts.append(Fact("Published", item.published_at.strftime("%d %b %Y")))
    buttons: list[Button | LinkButton] = [LinkButton("Read", item.url)]
    if item.status == ContentStatus.DRAFT:
        buttons = [
            Button("Approve", actions.CONTENT_APPROVE, value, ButtonStyle.PRIMARY),
            Button("Reject", actions.CONTENT_REJECT, value, ButtonStyle.DANGER),
            Button("Edit", actions.CONTENT_EDIT, value),
            *buttons,
        ]
    return Card(
        title=f"#{item.id}: {truncate(item.title, 120)}",
        text=truncate(item.summary, 600),
        facts=tuple(facts),
        image_url=item.image_url,
        image_alt=item.title,
        buttons=tuple(buttons),
        footer=STATE_NOTES.get(ContentStatus(item.status), ""),
        subject=subject_key("content", item.id),
    )


def drafts_message(items: Sequence[ContentItem], sources: dict[int, str]) -> Message:
    if not items:
        return Message.text(
            "No drafts are waiting. Feeds add drafts as they publish; "
            "add one yourself with /content add URL."
        )
    return Message(
        fallback=f"{plural(len(items), 'draft')} waiting for review",
        kind="curation",
        cards=(
            Card(
                title=f"{plural(len(items), 'draft')} to review",
                text="Approve what is worth sending; it goes out with the next content digest.",
            ),
            *(curation_card(item, sources.get(item.feed_id or 0, "")) for item in items),
        ),
    )


def edit_form(item: ContentItem, objectives: Sequence[Objective]) -> Form:
    texts = item.share_texts or {}
    return Form(
        form_id=actions.FORM_CONTENT_EDIT,
        title=f"Edit #{item.id}",
        submit_label="Save",
        context={"content": item.id},
        fields=(
            FormField("title", "Title", required=True, max_length=300, initial=item.title),
            FormField(
                "summary",
                "Why it matters",
                FieldKind.MULTILINE,
                max_length=3000,
                initial=item.summary,
            ),
            FormField(
                "linkedin",
                "Suggested LinkedIn post",
                FieldKind.MULTILINE,
                max_length=3000,
                initial=texts.get("linkedin") or item.share_text,
            ),
            FormField(
                "x",
                "Suggested post on X",
                FieldKind.MULTILINE,
                max_length=256,
                initial=texts.get("x", ""),
            ),
            FormField(
                "objective",
                "Objective",
                FieldKind.SELECT,
                initial=item.objective.key if item.objective else "",
                options=(
                    Option("No particular objective", ""),
                    *(Option(truncate(o.title, 75), o.key) for o in objectives),
                ),
            ),
            FormField("topics", "Topics (comma-separated)", initial=", ".join(item.topics)),
            FormField(
                "expires", "Stop sending it after (days from now; empty: never)", max_length=4
            ),
        ),
    )


def content_form(
    objectives: Sequence[Objective], url: str = "", info: PageInfo | None = None
) -> Form:
    """The form that adds an article, filled in from what the page says about itself."""
    return Form(
        form_id=actions.FORM_CONTENT_ADD,
        title="Curate content",
        submit_label="Add",
        context={"image_url": info.image_url} if info and info.image_url else {},
        fields=(
            FormField("url", "URL", required=True, max_length=2000, initial=url),
            FormField(
                "title", "Title", required=True, max_length=300, initial=info.title if info else ""
            ),
            FormField(
                "summary",
                "Why it matters",
                FieldKind.MULTILINE,
                max_length=3000,
                initial=info.summary if info else "",
            ),
            FormField("share_text", "Suggested post text", FieldKind.MULTILINE, max_length=3000),
            FormField(
                "objective",
                "Objective",
                FieldKind.SELECT,
                options=(
                    Option("No particular objective", ""),
                    *(Option(o.title[:75], o.key) for o in objectives),
                ),
            ),
        ),
    )


def library_message(items: Sequence[ContentItem]) -> Message:
    """The approved articles, the first 20 of them."""
    return Message(
        fallback=f"{plural(len(items), 'item')} in the library",
        cards=(
            Card(
                title="Content library",
                facts=tuple(
                    Fact(f"#{i.id}", f"{i.title} ({i.objective.key if i.objective else '-'})")
                    for i in items[:20]
                ),
            ),
        ),
    )
