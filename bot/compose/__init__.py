"""Composers: turn domain objects into platform-neutral messages (pure functions, no I/O)."""
