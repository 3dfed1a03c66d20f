"""What the core hands an adapter: everything it may use, so it never reaches inside the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.metrics import Metrics
from bot.sealing import Sealer
from bot.services.adapter_store import AdapterStore

if TYPE_CHECKING:
    from bot.chat.router import EventRouter
    from bot.inbox import Inbox
    from bot.platform.forms import FormAnswers
    from bot.platform.members import MemberDirectory
    from bot.storage.database import Database


@dataclass(frozen=True)
class AdapterContext:
    """The capabilities an adapter gets from the core.

    ``router`` takes the neutral events; ``inbox`` holds inbound requests before they are
    acknowledged; ``store`` keeps the adapter's own records (installations, conversation
    references, spaces), sealed; ``members`` meets, finds and imports people; ``forms`` checks a
    form's answer before it is submitted. ``db`` is the core's own: adapters use the above."""

    settings: Settings
    db: Database
    router: EventRouter
    metrics: Metrics
    sealer: Sealer
    # Where inbound events are written before the platform is told they arrived. Always set by
    # the application; None only in a context built by hand (a unit test of a parser, say).
    inbox: Inbox | None = None
    # The adapter's own records in our database; set per adapter by the registry.
    store: AdapterStore | None = None

    # Imported when asked for: the core's services import this package's entry points.
    @property
    def members(self) -> MemberDirectory:
        from bot.platform.members import MemberDirectory

        return MemberDirectory(self.db)

    @property
    def forms(self) -> FormAnswers:
        from bot.platform.forms import FormAnswers

        return FormAnswers(self.db)
