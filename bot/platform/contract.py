"""What every adapter must be: its factory, its send, and the shapes both sides exchange.

``message_ref`` on an inbound event must equal the ``SendResult.platform_ref`` the adapter gave
when it sent that card: the core finds the delivery (and so the card's subject) by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aiohttp import web

from bot.config import Settings
from bot.messages import Message

if TYPE_CHECKING:
    from bot.platform.context import AdapterContext


@dataclass(frozen=True)
class DeliveryTarget:
    """Where one delivery goes. ``recipient`` is a user id (a DM) or a channel id."""

    delivery_id: int
    platform: str
    recipient: str
    workspace: str = ""
    # A shared channel rather than one person's direct messages.
    channel: bool = False
    # An anonymous author's notice: the recipient must not be logged, stored with the message
    # or named in an error (the core keeps no message reference for it either).
    sealed: bool = False


@dataclass(frozen=True)
class SignedEndpoint:
    """A POST endpoint whose requests carry a signature or token in these headers. The server
    refuses a request without them (401) before reading its body, so an unsigned flood costs
    nothing. ``unless_unset`` names a setting that turns the check off while it is empty (the
    core's own webhooks, off until their secret is set)."""

    path: str
    headers: tuple[str, ...]
    unless_unset: str = ""


@dataclass(frozen=True)
class SendResult:
    """The platform's reference to the sent message, so the card can be updated later."""

    platform_ref: str | None = None


class DeliveryError(Exception):
    """A send failed. ``retry_after`` honours a 429; ``permanent`` dead-letters at once;
    ``platform_down`` says nothing can be sent to that workspace until an operator acts (a
    wrong or revoked token): the outbox holds its deliveries instead of failing each one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        platform_down: bool = False,
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.platform_down = platform_down


@dataclass(frozen=True)
class AdapterStatus:
    enabled: bool
    reason: str
    # Enabled in a way an operator must know about (no authentication, say): logged as a warning.
    warning: bool = False


@runtime_checkable
class ChatAdapter(Protocol):
    """What every adapter does. Inbound: verify each request (refuse forged or stale ones),
    write it to ``context.inbox`` before the platform is told it arrived, parse it into the
    neutral events of ``bot.events`` (with the platform's delivery id as ``event_id``, so a
    retry counts once), hand them to ``context.router`` and show the ``Reply`` with
    ``bot.platform.show_reply``. Outbound: render every ``Message`` within the platform's
    limits, escaping people's text, and map failures to ``DeliveryError``. The contract suite
    (``tests/contract/``) checks all of it against each platform's fake."""

    platform: str

    def mount(self, app: web.Application) -> None:
        """Add the adapter's HTTP routes to the shared aiohttp application."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        """Deliver one message; raise DeliveryError on failure."""
        ...


class AdapterFactory(Protocol):
    """Named by the platform's ``advocacy.adapters`` entry point (the class; called with no
    arguments). ``platform`` is also the actors', the delivery targets' and the inbox kind's."""

    platform: str

    def status(self, settings: Settings) -> AdapterStatus:
        """Whether the configuration enables this adapter, and why (for the start-up log). The
        adapter's keys are in ``settings.env``; a missing one is a reason, not an exception."""
        ...

    def create(self, context: AdapterContext) -> ChatAdapter: ...
