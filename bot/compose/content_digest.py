"""The content digest: the strategists' picks, each with one-click feedback and sharing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from bot.compose import actions
from bot.compose.text import truncate
from bot.i18n import _, ngettext
from bot.i18n.formats import format_date, format_number
from bot.messages import Button, ButtonStyle, Card, Fact, LinkButton, Message, subject_key
from bot.services.content import with_utm
from bot.storage.models import ContentItem
from bot.storage.types import utcnow

SUMMARY_LIMIT = 600


def share_urls(item: ContentItem) -> dict[str, str]:
    """Where the Share buttons go, per network: the article's link carries UTM parameters
    (the site sees employee advocacy in its analytics) and the network's suggested text."""
    campaign = item.objective.key if item.objective else "advocacy"

    def link(network: str) -> str:
        tagged = with_utm(item.url, source=network, medium="employee_advocacy", campaign=campaign)
        return quote(tagged, safe="")

    text = (item.share_texts or {}).get("x") or item.share_text or item.title
    return {
        "linkedin": f"https://www.linkedin.com/sharing/share-offsite/?url={link('linkedin')}",
        "x": f"https://twitter.com/intent/tweet?url={link('x')}&text={quote(text, safe='')}",
    }


def suggested_post(item: ContentItem) -> str:
    texts = item.share_texts or {}
    return texts.get("linkedin") or item.share_text or texts.get("x") or ""


NETWORK_NAMES = {"linkedin": "LinkedIn", "x": "X"}


def content_card(item: ContentItem) -> Card:
    subject = {"subject": subject_key("content", item.id)}
    facts = []
    if item.objective is not None:
        facts.append(Fact(_("Objective"), item.objective.title))
    if item.topics:
        facts.append(Fact(_("Topics"), ", ".join(item.topics)))
    buttons: list[Button | LinkButton] = [
        Button(_("Useful"), actions.FEEDBACK_USEFUL, subject, ButtonStyle.PRIMARY),
        Button(_("Not relevant"), actions.FEEDBACK_NOT_RELEVANT, subject),
        LinkButton(_("Read"), item.url),
    ]
    buttons += [
        LinkButton(
            _("Share on {network}").format(network=NETWORK_NAMES[network]),
            url,
            track={"subject": subject_key("content", item.id), "network": network},
        )
        for network, url in share_urls(item).items()
    ]
    buttons.append(Button(_("Comment"), actions.COMMENT_OPEN, subject))
    buttons.append(Button(_("Suggest an idea"), actions.SUGGEST_OPEN, subject))
    return Card(
        title=truncate(item.title, 150),
        text=truncate(item.summary, SUMMARY_LIMIT),
        facts=tuple(facts),
        image_url=item.image_url,
        image_alt=item.title,
        buttons=tuple(buttons),
        footer=truncate(_("Suggested post: {post}").format(post=suggested_post(item)), 300)
        if suggested_post(item)
        else "",
        subject=subject_key("content", item.id),
    )


def compose_content_digest(
    digest_name: str,
    run_id: int,
    items: Sequence[ContentItem],
    *,
    sent_on: datetime | None = None,
    zone: str | None = None,
) -> Message:
    """The digest's header (its name and the day it goes out: ``sent_on``, now by default, on
    ``zone``'s calendar), then a card per pick."""
    count = len(items)
    day = sent_on or utcnow()
    header = Card(
        title=digest_name,
        text=ngettext(
            "{count} pick from your strategists. Tell us what helps, and share what you believe "
            "in.",
            "{count} picks from your strategists. Tell us what helps, and share what you believe "
            "in.",
            count,
        ).format(count=format_number(count)),
        footer=format_date(day, "long", zone),
        subject=subject_key("digest_run", run_id),
    )
    fallback = f"{digest_name}: " + "; ".join(truncate(item.title, 80) for item in items)
    return Message(
        fallback=truncate(fallback, 300),
        cards=(header, *(content_card(item) for item in items)),
        kind="content_digest",
        subject=subject_key("digest_run", run_id),
    )
