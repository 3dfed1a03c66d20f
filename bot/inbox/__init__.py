"""The durable inbox: what a platform was told it delivered is written down first.

An adapter (or a webhook) calls ``Inbox.accept`` and answers the platform only once it returns:
by then the event is committed, sealed with the server's key, under a keyed hash of the
platform's event id (a retried delivery finds it and counts once). Many acceptances share one
commit, so acknowledging stays fast under a burst.

A worker then hands each event to the handler registered for its kind. The handler marks it done
inside its own transaction (``Receipt.mark_done``, through the EventRouter), so the event's work
is recorded exactly once: a crash before that commit leaves the event pending, a crash after it
leaves it done (on a SQLite file the inbox has a file of its own, and the mark is a marker in the
main database: see ``store.py``). Leases work as in the outbox: an event is held by one worker at
a time, renewed while it works; a dead worker's events come back when its lease expires. On
SIGTERM the worker stops taking events, lets the ones in hand finish for a few seconds and
releases the rest for the next start, which says how many it resumed.
"""

from __future__ import annotations

from bot.inbox.items import (
    DONE,
    FAILED,
    PENDING,
    Accepted,
    InboxClosed,
    InboxItem,
    Receipt,
    RetryLater,
    Waiter,
)
from bot.inbox.worker import Inbox, InboxStats

__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "Accepted",
    "Inbox",
    "InboxClosed",
    "InboxItem",
    "InboxStats",
    "Receipt",
    "RetryLater",
    "Waiter",
]
