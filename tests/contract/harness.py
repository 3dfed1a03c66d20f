"""What each adapter's contract harness provides: its fake platform, the real application and
server with the adapter enabled, and the platform's own way of doing each thing a person does.

The contract tests (``test_*.py`` here) speak only this interface, so every adapter runs the
same tests. A harness that does not support a kind of event (the shell has no home, and
no signed requests) says so in ``supports``, and those tests are skipped for it, naming why.

A platform joins with ``tests/contract/harness_<platform>.py``, which must define a module-level
``HARNESS`` (an instance of its ``PlatformHarness``), and its name in ``PLATFORMS`` in
``conftest.py``. ``running`` is usually: start the fake platform API, then
``serving(settings, factory, env)`` below (the real application with only this adapter, and
the real aiohttp server on loopback), and a ``PlatformSession`` whose ``settle`` is
``settle_application(app)``. The adapter's keys (secrets, the fake's URL) go in ``env``: an
adapter reads its configuration from ``Settings.env``.

The fake and the rendering checks (``limit_problems``, ``pings``, ``readable_text``) stand for
the platform, not for the adapter: write them from the platform's published limits and markup,
and never import them from the adapter (a check built on the adapter's own constants or its
own escaping can only agree with it).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from aiohttp.test_utils import TestServer

from bot.app import Application, open_application
from bot.config import Settings
from bot.events import Event, Reply
from bot.messages import Form, Message
from bot.platform import AdapterFactory, AdapterRegistry, SendResult
from bot.web import build_web_app
from tests.inbox_support import inbox_settled

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
    answers with ``script``'s reply instead of the core's when a test sets one.

    It replaces ``app.router.handle`` after the adapter was created, so the adapter must look
    ``context.router.handle`` up when it hands an event over (not keep the bound method)."""

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
    server on loopback. People are named ("alice", "bob", "carol"); the harness maps them to
    ids. ``recorder`` is ``Recorder().install(app)``, made when the session starts.

    Each thing a person does is sent as the platform sends it, signed, over HTTP. Its
    ``delivery_id`` is the platform's id for the request: the same id again is a redelivery
    (counted once); None is a fresh delivery, for which a harness that supports ``RETRIES``
    makes up a new id (the tests check the event carries one). A harness raises
    ``NotImplementedError`` for what its platform cannot do (``open_home`` without ``HOME``)."""

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

    def server_url(self) -> str:
        """The real server's base URL (http://127.0.0.1:PORT), for requests the platform would
        never send (unsigned ones); harnesses of platforms with signed requests must say it."""
        raise NotImplementedError

    def user_id(self, person: str) -> str:
        """The person's user id on the platform (what a ``DeliveryTarget`` names), for the
        checks that a sealed delivery never shows it; harnesses should say it."""
        raise NotImplementedError

    @abstractmethod
    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        """The fake platform answers the next API call with ``status`` (a 429 with
        ``Retry-After``, a 401 for a wrong or revoked credential, a 403 for a permanent
        refusal, a 500), as the platform reports each (Slack says it in an HTTP 200's body).
        Only that one call fails."""

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


# ----- building blocks for a harness's ``running`` ------------------------------------------------


@asynccontextmanager
async def serving(
    settings: Settings, factory: AdapterFactory, env: Mapping[str, str]
) -> AsyncIterator[tuple[Application, str]]:
    """The real application with only ``factory``'s adapter (``env`` is its configuration, as
    ``Settings.env``) and the real web app on a loopback port: the application and the server's
    base URL (``http://127.0.0.1:PORT``, the adapter's routes under it)."""
    configured = replace(settings, env={**settings.env, **env})
    registry = AdapterRegistry([factory])
    async with open_application(configured, registry=registry) as app:
        server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
        await server.start_server()
        try:
            yield app, f"http://127.0.0.1:{server.port}"
        finally:
            await server.close()


async def settle_application(app: Application) -> None:
    """Wait until the inbox has handled what was acknowledged and the outbox has sent what is
    due (a handled event may queue a send, a send may follow a reply): a session's ``settle``."""
    assert app.worker is not None
    for _ in range(3):
        await inbox_settled(app)
        await app.worker.drain(wait_for_retries=False)
        await asyncio.sleep(0.01)
