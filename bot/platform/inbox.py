"""The inbox as an adapter sees it: accept a request before acknowledging it, then handle the
stored item in the worker with its receipt (which marks it done in the handler's commit)."""

from bot.inbox import Accepted, Inbox, InboxItem, Receipt, RetryLater

__all__ = ["Accepted", "Inbox", "InboxItem", "Receipt", "RetryLater"]
