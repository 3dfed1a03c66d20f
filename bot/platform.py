"""The contract between the core and a chat platform adapter, and the registry that finds them.

A platform is one package under ``adapters/`` that declares an ``advocacy.adapters`` entry
point naming its factory; the core discovers it at run time and never imports it by name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aiohttp import web

from bot.config import Settings
from bot.messages import Message
from bot.sealing import Sealer
from bot.services.adapter_store import AdapterStore

if TYPE_CHECKING:
    from bot.chat.router import EventRouter
    from bot.inbox import Inbox
    from bot.metrics import Metrics
    from bot.storage.database import Database

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "advocacy.adapters"


@dataclass(frozen=True)
class DeliveryTarget:
    """Where one delivery goes. ``recipient`` is a user id (a DM) or a channel id."""

    delivery_id: int
    platform: str
    recipient: str
    workspace: str = ""
    # A shared channel rather than one person's direct messages.
    channel: bool = False


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


@dataclass(frozen=True)
class AdapterContext:
    """The narrow set of capabilities an adapter gets from the core."""

    settings: Settings
    db: Database
    router: EventRouter
    metrics: Metrics
    sealer: Sealer
    # Where inbound events are written before the platform is told they arrived.
    inbox: Inbox | None = None
    # The adapter's own records in our database; set per adapter by the registry.
    store: AdapterStore | None = None


@runtime_checkable
class ChatAdapter(Protocol):
    platform: str

    def mount(self, app: web.Application) -> None:
        """Add the adapter's HTTP routes to the shared aiohttp application."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        """Deliver one message; raise DeliveryError on failure."""
        ...


class AdapterFactory(Protocol):
    platform: str

    def status(self, settings: Settings) -> AdapterStatus:
        """Whether the configuration enables this adapter, and why (for the start-up log)."""
        ...

    def create(self, context: AdapterContext) -> ChatAdapter: ...


def installed_platforms() -> list[str]:
    """The platforms whose adapters are installed (their entry points' names; none is loaded):
    what a member may be created on when no registry is at hand."""
    return sorted({entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)})


class AdapterRegistry:
    def __init__(self, factories: Iterable[AdapterFactory] = ()) -> None:
        self._factories: dict[str, AdapterFactory] = {}
        for factory in factories:
            self.register(factory)

    @classmethod
    def discover(cls) -> AdapterRegistry:
        """Every adapter installed with the project (``advocacy.adapters`` entry points)."""
        registry = cls()
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                factory_class = entry_point.load()
            except Exception as error:  # a broken optional adapter must not stop the bot
                log.error("adapter %s could not be loaded: %s", entry_point.name, error)
                continue
            registry.register(factory_class())
        return registry

    def register(self, factory: AdapterFactory) -> None:
        self._factories[factory.platform] = factory

    @property
    def platforms(self) -> list[str]:
        return sorted(self._factories)

    def statuses(self, settings: Settings) -> dict[str, AdapterStatus]:
        return {name: self._factories[name].status(settings) for name in self.platforms}

    def create_enabled(self, context: AdapterContext) -> dict[str, ChatAdapter]:
        adapters = {}
        for name, status in self.statuses(context.settings).items():
            if status.enabled:
                store = AdapterStore(context.db, context.sealer, name)
                adapters[name] = self._factories[name].create(replace(context, store=store))
        return adapters
