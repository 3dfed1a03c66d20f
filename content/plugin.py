"""What content/ adds to the core: the customer-voice digest, the content digest's ranking,
reading a page's metadata, feed polling, and the customer-voice webhook."""

from __future__ import annotations

from bot.config import Settings
from bot.plugins import Extensions


class ContentPlugin:
    name = "content"

    def extend(self, extensions: Extensions, settings: Settings) -> None:
        return None
