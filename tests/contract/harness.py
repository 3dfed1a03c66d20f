"""What each adapter's contract harness provides: its fake platform, the real application and
server with the adapter enabled, and the platform's own way of doing each thing a person does.

The contract tests (``test_*.py`` here) speak only this interface, so every adapter runs the
same tests. A harness that does not support a kind of event (the shell has no home, and
no signed requests) says so in ``supports``, and those tests are skipped for it, naming why.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot.app import Application
from bot.config import Settings
from bot.events import Event, Reply
from bot.messages import Form, Message
from bot.platform import SendResult

# What a harness may support; a contract test names the ones it needs.
MESSAGE = "message"  # a person writes to the bot
COMMAND = "command"  # a slash command (or "/suggest ..." typed where there are none)
PRESS = "press"  # a button on a sent card
FORM = "form"  # a form opened by a reply, filled in and submitted
REACTION = "reaction"  # an emoji added to, and removed from, a sent card
INSTALL = "install"  # the app installed, or opened for the first time
HOME = "home"  # a home surface (Slack's Home tab, a Teams personal tab, ...)
RETRIES = "retries"  # the platform redelivers a request with the same id: counted once
SIGNED = "signed"  # requests carry a signature or token: forged and expired ones refused
RATE_LIMITS = "rate_limits"  # the platform's API answers 429 with Retry-After, and errors
EPHEMERAL = "ephemeral"  # replies only the person sees, in the conversation
UPDATE = "update"  # a pressed card is replaced in place
# The update is an API call of its own (Slack's chat.update), shown in the reply's order and
# refusable; on Teams it is the press's HTTP answer, seen after what the turn sent.
UPDATE_BY_API = "update_by_api"

ALL_KINDS = frozenset(
    {
        MESSAGE,
        COMMAND,
        PRESS,
        FORM,
        REACTION,
        INSTALL,
        HOME,
        RETRIES,
        SIGNED,
        RATE_LIMITS,
        EPHEMERAL,
        UPDATE,
        UPDATE_BY_API,
    }
)


@dataclass(frozen=True)
class Shown:
    """One thing the platform showed a person or a conversation, as its fake recorded it."""

    kind: str  # "message" (posted or DM), "ephemeral", "update", "form", "home"
    to: str  # the person's or the conversation's id on the platform
    text: str  # everything a person reads in it, in order (labels and buttons included)
    native: Any  # the platform's own payload: blocks, an Adaptive Card, a cards v2 card, text
    # The message reference of a post, for a later press or reaction; of an "update", the
    # reference of the card it replaced (the one pressed).
    ref: str | None = None


@dataclass
class Recorder:
    """Wraps the application's router: records each event the adapter hands the core, and
    answers with ``script``'s reply instead of the core's when a test sets one."""

    events: list[Event] = field(default_factory=list)
    # None from the script lets the core answer that event itself.
    script: Callable[[Event], Reply | None] | None = None

    def install(self, app: Application) -> Recorder:
        real = app.router.handle

        async def handle(event: Event, receipt: Any = None) -> Reply:
            self.events.append(event)
            scripted = self.script(event) if self.script is not None else None
            if scripted is not None:
                return scripted
            return await real(event, receipt)

        app.router.handle = handle  # type: ignore[method-assign]
        return self

    def of_type(self, kind: type[Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


class PlatformSession(ABC):
    """A running platform: its fake, the application with the adapter enabled, a real aiohttp
    server on loopback. People are named ("alice", "bob"); the harness maps them to ids."""

    app: Application
    recorder: Recorder

    # ----- what a person does (each returns the HTTP status the platform saw, 200 family ok) --

    @abstractmethod
    async def say(self, person: str, text: str, *, delivery_id: str | None = None) -> int: ...

    @abstractmethod
    async def command(
        self, person: str, name: str, text: str, *, delivery_id: str | None = None
    ) -> int: ...

    @abstractmethod
    async def press(
        self, person: str, ref: str, label: str, *, delivery_id: str | None = None
    ) -> int:
        """Press the button labelled ``label`` on the card that was sent as ``ref``, as the
        platform would send the press (built from the card as rendered, not from the core)."""

    @abstractmethod
    async def submit(
        self, person: str, values: dict[str, Any], *, delivery_id: str | None = None
    ) -> int:
        """Fill in the last form shown to ``person`` with ``values`` (by field name) and send
        it, as the platform would. A field not in ``values`` is left as the form showed it
        (its initial value); a select is given its option's value, a checkbox True or False."""

    @abstractmethod
    async def react(
        self,
        person: str,
        ref: str,
        emoji: str,
        *,
        added: bool = True,
        delivery_id: str | None = None,
    ) -> int: ...

    @abstractmethod
    async def install(self, person: str, *, delivery_id: str | None = None) -> int: ...

    @abstractmethod
    async def open_home(self, person: str, *, delivery_id: str | None = None) -> int: ...

    @abstractmethod
    async def forged(self) -> int:
        """A request with a forged signature or token: the status it was answered with."""

    @abstractmethod
    async def expired(self) -> int:
        """A request signed in the past (a stale timestamp, an expired token): its status."""

    @abstractmethod
    async def settle(self) -> None:
        """Wait until the inbox has handled what was acknowledged and the outbox is drained."""

    # ----- what the platform shows, and the adapter's outbound side ----------------------------

    @abstractmethod
    def shown(self, person: str | None = None) -> list[Shown]:
        """Everything shown since the start (or the last ``forget``), oldest first; with
        ``person``, only what that person sees."""

    @abstractmethod
    def forget(self) -> None: ...

    @abstractmethod
    async def send(self, person: str, message: Message, *, sealed: bool = False) -> SendResult:
        """The adapter's own ``send`` to the person's direct conversation."""

    def user_id(self, person: str) -> str:
        """The person's user id on the platform (what a ``DeliveryTarget`` names), for the
        checks that a sealed delivery never shows it; harnesses should say it."""
        raise NotImplementedError

    @abstractmethod
    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        """The fake platform answers the next API call with ``status`` (a 429 with
        ``Retry-After``, a 403 for a permanent refusal, a 500). Only that one call fails."""

    # ----- rendering, checked without a network --------------------------------------------------

    @abstractmethod
    def render(self, message: Message) -> Any: ...

    @abstractmethod
    def render_form(self, form: Form) -> Any: ...

    @abstractmethod
    def limit_problems(self, native: Any) -> list[str]:
        """How the native payload breaks the platform's published limits (block counts, text
        lengths, card size, schema); empty when it is within them."""

    @abstractmethod
    def readable_text(self, native: Any) -> str:
        """All the text a person reads in the native payload."""

    @abstractmethod
    def pings(self, native: Any) -> list[str]:
        """Every live mention or markup in the native payload that would notify people or act
        as a link (<!channel>, <at>, a markdown link...): must be empty for people's text."""


class PlatformHarness(ABC):
    """One adapter's way into the contract suite."""

    platform: ClassVar[str]
    supports: ClassVar[frozenset[str]]

    @abstractmethod
    def running(self, settings: Settings) -> AbstractAsyncContextManager[PlatformSession]: ...


HarnessFactory = Callable[[], PlatformHarness]
