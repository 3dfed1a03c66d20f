"""Extension points for packages that build on the core (content/ is one).

Like adapters, plugins are found through an entry point (``advocacy.plugins``), so the core never
imports them. Each adds what it offers to an ``Extensions`` object: digest composers, a way to
read a web page's metadata, background jobs, and HTTP routes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Message

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import Application
    from bot.sealing import Sealer
    from bot.services.suggestion_evidence import EvidenceMatcher
    from bot.storage.models import Digest, Member

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "advocacy.plugins"


@dataclass(frozen=True)
class PageInfo:
    """What a web page says about itself (Open Graph and meta tags)."""

    url: str
    title: str = ""
    summary: str = ""
    image_url: str | None = None
    site_name: str = ""


@dataclass(frozen=True)
class Job:
    """Work a running server repeats, every ``every_seconds``."""

    name: str
    every_seconds: float
    run: Callable[[], Awaitable[None]]


# compose(session, digest, run_id, since, now) -> (message, note), or the reason to skip.
Composer = Callable[
    [AsyncSession, "Digest", int, datetime | None, datetime], Awaitable[tuple[Message, str] | str]
]


class ContentComposer(Protocol):
    """The content digest's composer also hears which items its recipients already had
    (``exclude``): it must not pick them. Its message's cards name their items (subject
    ``content:ID``), which is how the run records who was sent what."""

    def __call__(
        self,
        session: AsyncSession,
        digest: Digest,
        run_id: int,
        since: datetime | None,
        now: datetime,
        *,
        exclude: frozenset[int] = frozenset(),
    ) -> Awaitable[tuple[Message, str] | str]: ...


@dataclass(frozen=True)
class EmployeeVoice:
    """Customer voice a colleague heard (a sales call, a support chat) and logs from chat."""

    text: str
    # Which customer or segment, as the colleague wrote it.
    customer: str = ""
    objective_key: str | None = None
    # The chat message it came from (a Slack permalink, a Teams message link).
    link: str | None = None
    platform: str = ""


@dataclass(frozen=True)
class VoiceLogged:
    """What became of logged voice, for the colleague's confirmation."""

    item_id: int
    themes: tuple[str, ...]
    sentiment: str
    # Why it is urgent ("mentions “refund”"), or None; ``alerted``: whether an alert went out.
    urgent: str | None = None
    alerted: bool = False
    # Themes this voice tipped into a spike, and whether the alert channels were told.
    spikes: tuple[str, ...] = ()
    spikes_alerted: bool = False
    # The open ideas it now weighs as customer evidence, closest first.
    ideas: tuple[int, ...] = ()
    # The words as stored and shown to colleagues (personal data masked).
    text: str = ""


# log(session, sealer, member, voice): store it through the customer-voice pipeline.
VoiceLogger = Callable[[AsyncSession, "Sealer", "Member", EmployeeVoice], Awaitable[VoiceLogged]]
UrlEnricher = Callable[[str], Awaitable[PageInfo]]
JobFactory = Callable[["Application"], Job]
RouteMounter = Callable[["web.Application", "Application"], None]


@dataclass
class Extensions:
    composers: dict[str, Composer] = field(default_factory=dict)
    url_enricher: UrlEnricher | None = None
    # Masks personal data in customers' words before employees see them (content/ provides it).
    scrubber: Callable[[str], str] | None = None
    # Finds the customer voice that says what an idea says (content/ provides it, themed).
    evidence: EvidenceMatcher | None = None
    # Stores customer voice that employees log from chat (/voice, message actions).
    voice_logger: VoiceLogger | None = None
    jobs: list[JobFactory] = field(default_factory=list)
    routes: list[RouteMounter] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    # What each plugin switched on and off, for the start-up log: {"content": "..."}.
    summaries: dict[str, str] = field(default_factory=dict)


class Plugin(Protocol):
    name: str

    def extend(self, extensions: Extensions, settings: Settings) -> None:
        """Add to ``extensions``; may set ``extensions.summaries[name]`` for the start-up log."""


def load_extensions(settings: Settings) -> Extensions:
    """Every installed plugin's extensions. A broken plugin is logged and left out; a plugin's
    bad setting (a ValueError) stops the start, as the core's own settings do."""
    extensions = Extensions()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugin = entry_point.load()()
            plugin.extend(extensions, settings)
        except ValueError as error:
            raise ValueError(str(error)) from None
        except Exception as error:
            log.error("plugin %s could not be loaded: %s", entry_point.name, error)
            continue
        extensions.names.append(entry_point.name)
    return extensions
