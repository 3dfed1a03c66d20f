"""Curated content: pages read safely (public addresses only) for their metadata, RSS/Atom feeds
polled into the draft queue, the content digest's ranking, and ``advocacy content``."""
