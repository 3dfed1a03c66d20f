"""What a chat handler gets: one transaction, the acting member and the bot's capabilities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chart_links import ChartLinks
from bot.config import ChannelRef
from bot.events import Event
from bot.links import TrackedLinks
from bot.metrics import Metrics
from bot.plugins import Extensions
from bot.sealing import Sealer
from bot.storage.models import Member


@dataclass
class ChatContext:
    session: AsyncSession
    member: Member
    event: Event
    sealer: Sealer
    metrics: Metrics
    # Channels where new ideas are posted for colleagues to vote on.
    suggestion_channels: tuple[ChannelRef, ...] = ()
    # What plugins add: digest composers, reading a page's metadata...
    extensions: Extensions = field(default_factory=Extensions)
    # Run only once the transaction committed: metrics must count what was really recorded.
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    queued_messages: bool = False
    # Set when commands arrive through an umbrella command (Slack's /advocacy).
    umbrella: str | None = None
    # Signed, expiring chart URLs for cards (None where no server serves them).
    charts: ChartLinks | None = None
    # This server's address as people reach it (console links).
    public_url: str = "http://localhost:3978"
    # Tracked share links: a card updated in place keeps counting its clicks.
    links: TrackedLinks | None = None
    # How long ideas and decision reviews wait for an answer before they are overdue.
    answer_after: timedelta = timedelta(days=7)

    @property
    def platform(self) -> str:
        return self.event.actor.platform

    def count(self, callback: Callable[[], None]) -> None:
        self.after_commit.append(callback)
