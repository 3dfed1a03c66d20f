"""Curation cards: drafts (from feeds, say) that strategists approve, reject or edit."""

from __future__ import annotations

from collections.abc import Sequence

from bot.compose import actions
from bot.compose.text import truncate
from bot.domain import ContentStatus
from bot.i18n import N_, _, ngettext
from bot.i18n.formats import format_date, format_number
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
    ContentStatus.APPROVED: N_("✓ Approved: it goes out with the next content digest."),
    ContentStatus.REJECTED: N_("✗ Rejected."),
}


def curation_card(item: ContentItem, source: str = "") -> Card:
    value = {"content": item.id}
    facts = [Fact(_("From"), source or item.source)]
    if item.objective is not None:
        facts.append(Fact(_("Objective"), item.objective.title))
    if item.topics:
        facts.append(Fact(_("Topics"), ", ".join(item.topics)))
    if item.published_at is not None:
        facts.append(Fact(_("Published"), format_date(item.published_at)))
    buttons: list[Button | LinkButton] = [LinkButton(_("Read"), item.url)]
    if item.status == ContentStatus.DRAFT:
        buttons = [
            Button(_("Approve"), actions.CONTENT_APPROVE, value, ButtonStyle.PRIMARY),
            Button(_("Reject"), actions.CONTENT_REJECT, value, ButtonStyle.DANGER),
            Button(_("Edit"), actions.CONTENT_EDIT, value),
            *buttons,
        ]
    return Card(
        title=f"#{item.id}: {truncate(item.title, 120)}",
        text=truncate(item.summary, 600),
        facts=tuple(facts),
        image_url=item.image_url,
        image_alt=item.title,
        buttons=tuple(buttons),
        footer=_(STATE_NOTES.get(ContentStatus(item.status), "")),
        subject=subject_key("content", item.id),
    )


def drafts_message(items: Sequence[ContentItem], sources: dict[int, str]) -> Message:
    if not items:
        return Message.text(
            _(
                "No drafts are waiting. Feeds add drafts as they publish; "
                "add one yourself with /content add URL."
            )
        )
    count = len(items)
    return Message(
        fallback=ngettext(
            "{count} draft waiting for review", "{count} drafts waiting for review", count
        ).format(count=format_number(count)),
        kind="curation",
        cards=(
            Card(
                title=ngettext("{count} draft to review", "{count} drafts to review", count).format(
                    count=format_number(count)
                ),
                text=_("Approve what is worth sending; it goes out with the next content digest."),
            ),
            *(curation_card(item, sources.get(item.feed_id or 0, "")) for item in items),
        ),
    )


def edit_form(item: ContentItem, objectives: Sequence[Objective]) -> Form:
    texts = item.share_texts or {}
    return Form(
        form_id=actions.FORM_CONTENT_EDIT,
        title=_("Edit #{number}").format(number=item.id),
        submit_label=_("Save"),
        context={"content": item.id},
        fields=(
            FormField("title", _("Title"), required=True, max_length=300, initial=item.title),
            FormField(
                "summary",
                _("Why it matters"),
                FieldKind.MULTILINE,
                max_length=3000,
                initial=item.summary,
            ),
            FormField(
                "linkedin",
                _("Suggested LinkedIn post"),
                FieldKind.MULTILINE,
                max_length=3000,
                initial=texts.get("linkedin") or item.share_text,
            ),
            FormField(
                "x",
                _("Suggested post on X"),
                FieldKind.MULTILINE,
                max_length=256,
                initial=texts.get("x", ""),
            ),
            FormField(
                "objective",
                _("Objective"),
                FieldKind.SELECT,
                initial=item.objective.key if item.objective else "",
                options=(
                    Option(_("No particular objective"), ""),
                    *(Option(truncate(o.title, 75), o.key) for o in objectives),
                ),
            ),
            FormField("topics", _("Topics (comma-separated)"), initial=", ".join(item.topics)),
            FormField(
                "expires", _("Stop sending it after (days from now; empty: never)"), max_length=4
            ),
        ),
    )


def content_form(
    objectives: Sequence[Objective], url: str = "", info: PageInfo | None = None
) -> Form:
    """The form that adds an article, filled in from what the page says about itself."""
    return Form(
        form_id=actions.FORM_CONTENT_ADD,
        title=_("Curate content"),
        submit_label=_("Add"),
        context={"image_url": info.image_url} if info and info.image_url else {},
        fields=(
            FormField("url", _("URL"), required=True, max_length=2000, initial=url),
            FormField(
                "title",
                _("Title"),
                required=True,
                max_length=300,
                initial=info.title if info else "",
            ),
            FormField(
                "summary",
                _("Why it matters"),
                FieldKind.MULTILINE,
                max_length=3000,
                initial=info.summary if info else "",
            ),
            FormField("share_text", _("Suggested post text"), FieldKind.MULTILINE, max_length=3000),
            FormField(
                "objective",
                _("Objective"),
                FieldKind.SELECT,
                options=(
                    Option(_("No particular objective"), ""),
                    *(Option(o.title[:75], o.key) for o in objectives),
                ),
            ),
        ),
    )


def library_message(items: Sequence[ContentItem]) -> Message:
    """The approved articles, the first 20 of them."""
    return Message(
        fallback=ngettext(
            "{count} item in the library", "{count} items in the library", len(items)
        ).format(count=format_number(len(items))),
        cards=(
            Card(
                title=_("Content library"),
                facts=tuple(
                    Fact(f"#{i.id}", f"{i.title} ({i.objective.key if i.objective else '-'})")
                    for i in items[:20]
                ),
            ),
        ),
    )
