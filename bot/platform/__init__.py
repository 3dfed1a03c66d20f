"""The adapter contract, whole and in one place: what the core gives an adapter and what an
adapter must give back. Adapters import the core only from here (and ``bot.messages`` and
``bot.events``, the neutral shapes); ``tests/operations/test_architecture.py`` keeps them so.

- ``contract``: the factory, ``ChatAdapter`` (mount, start, stop, send), ``DeliveryTarget``,
  ``SendResult`` and ``DeliveryError`` (a 429's ``retry_after``, ``permanent``, ``platform_down``).
- ``context``: ``AdapterContext``: the router, the inbox, the adapter's sealed store, members.
- ``reply``: ``ReplySurface`` and ``show_reply``, the one way a ``Reply`` is shown.
- ``capabilities``: optional protocols an adapter declares by having them (directory sync, a
  home surface, message actions, a socket connection).
- ``inbox``, ``pacing``, ``actions``, ``dialogs``, ``members``, ``forms``, ``store``, ``support``,
  ``cli``: what an adapter's inbound path, sends, cards, directory sync and commands need.
- ``registry``, ``entry_points``: how the core finds adapters (an ``advocacy.adapters`` entry
  point naming the factory class). ``docs/ADAPTERS.md`` is the contract in prose.
"""

from bot.platform.capabilities import (
    DirectorySync,
    HomeSurface,
    MessageActions,
    SignedRequests,
    SocketConnection,
    capabilities_of,
)
from bot.platform.context import AdapterContext
from bot.platform.contract import (
    AdapterFactory,
    AdapterStatus,
    ChatAdapter,
    DeliveryError,
    DeliveryTarget,
    SendResult,
    SignedEndpoint,
)
from bot.platform.entry_points import ENTRY_POINT_GROUP, installed_platforms
from bot.platform.registry import AdapterRegistry
from bot.platform.reply import ReplySurface, error_message, show_reply

__all__ = [
    "ENTRY_POINT_GROUP",
    "AdapterContext",
    "AdapterFactory",
    "AdapterRegistry",
    "AdapterStatus",
    "ChatAdapter",
    "DeliveryError",
    "DeliveryTarget",
    "DirectorySync",
    "HomeSurface",
    "MessageActions",
    "ReplySurface",
    "SendResult",
    "SignedEndpoint",
    "SignedRequests",
    "SocketConnection",
    "capabilities_of",
    "error_message",
    "installed_platforms",
    "show_reply",
]
