"""Optional capabilities an adapter declares by having them: each is a small protocol, checked
with ``isinstance``, so the core and the contract suite ask an adapter what it can do instead
of knowing which platform it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.events import Actor
from bot.platform.contract import SignedEndpoint

if TYPE_CHECKING:
    from bot.platform.members import ImportReport


@runtime_checkable
class DirectorySync(Protocol):
    """Reads the platform's people (Slack's users.list, the rosters of the Teams teams the app
    is in) and imports them as members, with their managers where the platform knows them."""

    async def sync_directory(self, scope: str = "") -> ImportReport: ...


@runtime_checkable
class SignedRequests(Protocol):
    """The adapter's endpoints whose requests are signed (as configured now: Teams without an
    app id serves an emulator, unsigned). Every adapter with an HTTP endpoint declares them:
    the server refuses an unsigned request to them before reading its body."""

    signed_endpoints: tuple[SignedEndpoint, ...]


@runtime_checkable
class HomeSurface(Protocol):
    """A per-person home the bot draws (Slack's Home tab)."""

    async def publish_home(self, actor: Actor) -> None: ...


@runtime_checkable
class MessageActions(Protocol):
    """Actions on any message ("Turn into suggestion", "Log as customer voice"): the core
    action ids the adapter offers there (``bot.platform.actions``)."""

    message_actions: tuple[str, ...]


@runtime_checkable
class SocketConnection(Protocol):
    """Receives events over a connection the bot opens (Slack's Socket Mode): no public URL.
    ``connected`` says whether it is up. Nothing in the core reads it (the health check does
    not)."""

    @property
    def connected(self) -> bool: ...


def capabilities_of(adapter: object) -> list[str]:
    """The optional capabilities an adapter declares, by name (the start-up log says them)."""
    found = []
    for name, protocol in (
        ("directory sync", DirectorySync),
        ("home", HomeSurface),
        ("message actions", MessageActions),
        ("socket connection", SocketConnection),
        ("signed requests", SignedRequests),
    ):
        if isinstance(adapter, protocol):
            found.append(name)
    if "signed requests" in found and not adapter.signed_endpoints:  # type: ignore[attr-defined]
        found.remove("signed requests")  # none as configured (Slack over Socket Mode, say)
    return found
