"""Keeping to a platform's rate limits: a pacer per key (conversation, workspace, tenant) and
locks that keep one card's updates in the order they were recorded."""

from bot.keyed_locks import KeyedLocks
from bot.ratelimit import Pacer

__all__ = ["KeyedLocks", "Pacer"]
