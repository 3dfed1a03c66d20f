"""Persistence: the SQLAlchemy models, the async database handle and the migrations."""

from bot.storage.database import Database

__all__ = ["Database"]
