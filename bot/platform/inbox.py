"""The inbox as an adapter sees it: accept a request before acknowledging it, then handle the
stored item in the worker with its receipt (which marks it done in the handler's commit).

In ``create``: ``context.inbox.register(kind, handler, order_key=...)``, with ``kind`` the
platform's name (kinds are shared by every adapter and plugin; registering one again replaces
its handler), ``handler(item: InboxItem, receipt: Receipt)`` async, passing ``receipt`` on to
``context.router.handle`` and letting its ``RetryLater`` out. Per request:
``await context.inbox.accept(platform, kind, event_id, payload)`` (``payload`` a JSON-able
dict, handed back as ``item.payload``) answers ``Accepted``; acknowledge a ``duplicate`` too.
``InboxClosed`` while the server stops: answer 503, and the platform sends it again."""

from bot.inbox import Accepted, Inbox, InboxClosed, InboxItem, Receipt, RetryLater

__all__ = ["Accepted", "Inbox", "InboxClosed", "InboxItem", "Receipt", "RetryLater"]
