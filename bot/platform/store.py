"""The adapter's own records in our database (installations, conversation references, spaces),
sealed: what ``AdapterContext.store`` is, for an adapter's modules that keep it."""

from bot.services.adapter_store import AdapterStore

__all__ = ["AdapterStore"]
