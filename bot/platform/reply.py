"""The one way every adapter shows a core ``Reply``: the adapter supplies a ``ReplySurface``
(its means of opening a form, updating the card, telling the person, refreshing their home)
and ``show_reply`` decides what is shown, in which order, and what a failure does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol, TypeVar

from bot.events import Reply
from bot.i18n import _, speaking
from bot.messages import Form, Message
from bot.platform.contract import DeliveryError

log = logging.getLogger(__name__)

T = TypeVar("T")

# A 429 on a reply is waited out once when it asks for no more than this; a longer wait would
# hold up the person's next click, so the part is dropped (and logged) instead.
REPLY_RETRY_LIMIT_SECONDS = 5.0


class ReplySurface(Protocol):
    """Where one event's reply is shown. Each method raises ``DeliveryError`` on failure."""

    async def open_form(self, form: Form) -> bool:
        """Open the form (a modal, a dialog, a card form); False when it can no longer be
        opened (Slack's 3-second trigger has passed, say): the person is asked to try again."""
        ...

    async def update_card(self, message: Message) -> None:
        """Replace the card the event came from (the one its ``message_ref`` names; the core
        sends an update only for an event that has one)."""
        ...

    async def tell(self, message: Message) -> None:
        """Show a message to the person: ephemeral where the platform allows, else by DM."""
        ...

    async def refresh_home(self) -> None:
        """Show the person's home surface as it now is; nothing where the platform has none."""
        ...


def error_message(error: str) -> Message:
    """A reply's error as every platform shows it."""
    return Message.text(f"⚠️ {error}")


def form_not_opened(form: Form) -> Message:
    return Message.text(
        _("The form '{title}' could not open in time; please try again.").format(title=form.title)
    )


async def show_reply(
    reply: Reply,
    surface: ReplySurface,
    *,
    platform: str,
    quiet: bool = False,
    refresh_home: bool = False,
) -> None:
    """Show a reply: its form, then the card updated in place, then its messages and its error;
    then the home, when the reply changed what it shows (``reply.refresh_home``) or the adapter
    knows the event came from it (``refresh_home``). ``quiet`` leaves the messages out (a press
    on the home, whose refresh is the answer). One failed part is logged; the rest is shown."""
    with speaking(reply.locale):  # the notes added here are in the reply's language
        await _show(reply, surface, platform=platform, quiet=quiet, refresh_home=refresh_home)


async def _show(
    reply: Reply, surface: ReplySurface, *, platform: str, quiet: bool, refresh_home: bool
) -> None:
    messages = [] if quiet else list(reply.messages)
    if reply.form is not None:
        opened = await _attempt(platform, "open a form", surface.open_form, reply.form)
        if opened is False:
            messages.append(form_not_opened(reply.form))
    if reply.update is not None:
        await _attempt(platform, "update a card", surface.update_card, reply.update)
    if reply.error:
        messages.append(error_message(reply.error))
    for message in messages:
        await _attempt(platform, "show a reply", surface.tell, message)
    if refresh_home or reply.refresh_home:
        await _attempt(platform, "refresh the home", surface.refresh_home)


async def _attempt(
    platform: str, what: str, step: Callable[..., Awaitable[T]], *args: object
) -> T | None:
    """Run one part of a reply, waiting out one short 429; None when it failed."""
    for attempt in (1, 2):
        try:
            return await step(*args)
        except DeliveryError as error:
            short = error.retry_after is not None and error.retry_after <= REPLY_RETRY_LIMIT_SECONDS
            if attempt == 1 and short and not error.permanent:
                await asyncio.sleep(error.retry_after or 0)
                continue
            log.warning("%s: could not %s: %s", platform, what, error)
            return None
    return None


def without_update(reply: Reply) -> Reply:
    """The reply with its card update taken out (shown separately, in the card's turn)."""
    return replace(reply, update=None)
