"""Keeping to a platform's rate limits: a pacer per key (conversation, workspace, tenant) and
locks that keep one card's updates in the order they were recorded. ``pacer_for`` gives a
platform-wide limit's pacer, shared by every instance on PostgreSQL."""

from bot.keyed_locks import KeyedLocks
from bot.ratelimit import Pacer
from bot.shared_pacing import PacingUnavailable, SharedPacer, pacer_for

# Either kind: both have ``wait(key)`` and ``refused(key)``.
AnyPacer = Pacer | SharedPacer

__all__ = ["AnyPacer", "KeyedLocks", "Pacer", "PacingUnavailable", "SharedPacer", "pacer_for"]
