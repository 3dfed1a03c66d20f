"""Sending a member their one-time console link: by DM from chat, or printed by the CLI."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.auth import LINK_TTL, create_link
from bot.console.sections import CONSOLE_ROLES
from bot.errors import InvalidInput
from bot.i18n import _, speaking
from bot.messages import Card, LinkButton, Message
from bot.outbox.queue import enqueue, member_recipient
from bot.sealing import Sealer
from bot.services.permissions import require_role
from bot.storage.models import Member


def console_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/console/login/{token}"


async def link_for(session: AsyncSession, member: Member, public_url: str) -> str:
    return console_url(public_url, await create_link(session, member))


async def send_link_by_dm(
    session: AsyncSession, sealer: Sealer, member: Member, public_url: str
) -> None:
    """Only the member's own direct messages get the link; quiet hours do not hold it back
    (they just asked for it). Nobody gets a link to a console with no page for them."""
    require_role(member, CONSOLE_ROLES, "use the web console")
    recipient = member_recipient(member)
    if recipient is None:
        raise InvalidInput(_("You have no chat identity the bot can message; ask an admin."))
    url = await link_for(session, member, public_url)
    minutes = int(LINK_TTL.total_seconds() // 60)
    with speaking(member.locale):  # the DM is theirs: in their language
        text = _(
            "Your sign-in link for the console. It works once, for {minutes} minutes; "
            "do not forward it."
        ).format(minutes=minutes)
        message = Message(
            fallback=f"{text} {url}",
            kind="console_link",
            cards=(
                Card(
                    title=_("Open the advocacy console"),
                    text=text,
                    buttons=(LinkButton(_("Open the console"), url),),
                ),
            ),
        )
    await enqueue(session, message, [replace(recipient, not_before=None)], sealer=sealer)
