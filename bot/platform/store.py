"""The adapter's own records in our database (installations, conversation references), sealed
where secret: the type an adapter's stores are built on (``context.store`` is one)."""

from bot.services.adapter_store import AdapterStore

__all__ = ["AdapterStore"]
