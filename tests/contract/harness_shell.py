"""The shell's contract harness. The shell has no HTTP side and no platform to fake: its
"platform" is the mailbox the adapter writes and each person's terminal session. So a person
here is a real ``ShellSession`` driven line by line (as a piped session is), recording what
its terminal shows; sends go through the adapter into the mailbox and are read by the session.

What the shell cannot do is declared, not faked: it has no signatures, no redeliveries (every
typed line is new), no rate limits, no home, no install event, and no shared conversations (so
no ephemeral replies: every reply is the person's own terminal)."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adapters.shell import ShellAdapterFactory
from adapters.shell.adapter import PLATFORM, mailbox_for
from adapters.shell.render import WIDTH, ActionNumbers, clean, render_form, render_message
from adapters.shell.session import ShellSession
from bot.app import open_application
from bot.config import Settings
from bot.messages import Button, FieldKind, Form, Message
from bot.platform import AdapterRegistry, DeliveryTarget, SendResult
from tests.contract.harness import (
    COMMAND,
    FORM,
    MESSAGE,
    PRESS,
    REACTION,
    UPDATE,
    PlatformHarness,
    PlatformSession,
    Recorder,
    Shown,
)

# What a terminal must never be sent: escape sequences, control characters, direction overrides.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Card lines (the box drawn around a card) are wrapped to the terminal's width.
_CARD_LINE = ("┌", "│", "└")
# Delivery ids for the harness's own sends, far from the outbox's.
_DELIVERY_IDS = itertools.count(10_000_000)


class RecordingSession(ShellSession):
    """A person's terminal: the real session, recording what it shows, with forms left open
    until the test fills them in (a piped session would read the answers from its input)."""

    def __init__(self, harness: ShellPlatform, person: str) -> None:
        super().__init__(
            harness.app,
            harness.mailbox,
            person,
            stdin=io.StringIO(""),
            stdout=io.StringIO(),
            interactive=False,
        )
        self._harness = harness
        self.open_form: Form | None = None

    def _show(self, kind: str, text: str, native: Any, ref: str | None = None) -> None:
        self._harness.record(Shown(kind, self.user_id, text, native, ref))

    def show_mail_message(self, message: Message, ref: str) -> None:
        super().show_mail_message(message, ref)
        self._show("message", render_message(message, ActionNumbers()), message, ref)

    def form_opened(self, form: Form) -> None:
        self._show("form", render_form(form), form)

    def show_update(self, message: Message, message_ref: str | None) -> None:
        super().show_update(message, message_ref)
        self._show("update", render_message(message, ActionNumbers()), message, message_ref)

    def tell(self, message: Message, *, error: str | None = None) -> None:
        super().tell(message, error=error)
        text = (
            f"! {clean(error)}" if error is not None else render_message(message, ActionNumbers())
        )
        self._show("message", text, message)

    async def submit_form(self, form: Form) -> None:
        self.open_form = form  # filled in by ``fill_in``

    async def fill_in(self, values: dict[str, Any]) -> None:
        """Answer the open form's fields one line each, as a person types them."""
        form, self.open_form = self.open_form, None
        assert form is not None, f"no form is open for {self.user_id}"
        self.stdin = io.StringIO("".join(_answer(field, values) + "\n" for field in form.fields))
        await ShellSession.submit_form(self, form)


def _answer(field: Any, values: dict[str, Any]) -> str:
    """The line that gives ``field`` its value; an empty line keeps its default."""
    if field.name not in values:
        return ""
    value = values[field.name]
    if field.kind == FieldKind.CHECKBOX:
        return "y" if value else "n"
    text = str(value)
    return "/" + text if text.startswith("/") else text  # '//' types a leading '/'


class ShellPlatform(PlatformSession):
    def __init__(self, app: Any) -> None:
        self.app = app
        self.recorder = Recorder().install(app)
        self.mailbox = mailbox_for(app.settings)
        self.adapter = app.adapters[PLATFORM]
        self._sessions: dict[str, RecordingSession] = {}
        self._shown: list[Shown] = []

    def record(self, shown: Shown) -> None:
        self._shown.append(shown)

    def session(self, person: str) -> RecordingSession:
        if person not in self._sessions:
            self._sessions[person] = RecordingSession(self, person)
        return self._sessions[person]

    async def _line(self, person: str, line: str) -> int:
        session = self.session(person)
        await session.show_mail()
        await session.handle_line(line)
        return 200

    # ----- what a person does ----------------------------------------------------------------

    async def say(self, person: str, text: str, *, delivery_id: str | None = None) -> int:
        return await self._line(person, text)

    async def command(
        self, person: str, name: str, text: str, *, delivery_id: str | None = None
    ) -> int:
        return await self._line(person, f"/{name} {text}".strip())

    async def press(
        self, person: str, ref: str, label: str, *, delivery_id: str | None = None
    ) -> int:
        session = self.session(person)
        await session.show_mail()
        [number] = [
            number
            for number, numbered in session.numbers.actions.items()
            if numbered.message_ref == ref
            and isinstance(numbered.button, Button)
            and numbered.button.label == label
        ]
        return await self._line(person, str(number))

    async def submit(
        self, person: str, values: dict[str, Any], *, delivery_id: str | None = None
    ) -> int:
        await self.session(person).fill_in(values)
        return 200

    async def react(
        self,
        person: str,
        ref: str,
        emoji: str,
        *,
        added: bool = True,
        delivery_id: str | None = None,
    ) -> int:
        session = self.session(person)
        await session.show_mail()
        [number] = [n for n, known in session.message_refs.items() if known == ref]
        return await self._line(person, f"/{'react' if added else 'unreact'} {number} {emoji}")

    async def install(self, person: str, *, delivery_id: str | None = None) -> int:
        raise NotImplementedError("the shell has no install event")

    async def open_home(self, person: str, *, delivery_id: str | None = None) -> int:
        raise NotImplementedError("the shell has no home")

    async def forged(self) -> int:
        raise NotImplementedError("the shell's input is the person's own terminal")

    async def expired(self) -> int:
        raise NotImplementedError("the shell's input is the person's own terminal")

    async def settle(self) -> None:
        for session in self._sessions.values():
            await session.show_mail()

    # ----- what the platform shows, and the adapter's outbound side --------------------------

    def shown(self, person: str | None = None) -> list[Shown]:
        return [s for s in self._shown if person is None or s.to == person]

    def forget(self) -> None:
        self._shown.clear()

    async def send(self, person: str, message: Message, *, sealed: bool = False) -> SendResult:
        target = DeliveryTarget(next(_DELIVERY_IDS), PLATFORM, person, sealed=sealed)
        result = await self.adapter.send(target, message)
        await self.session(person).show_mail()  # the session shows what its mailbox got
        return result

    def user_id(self, person: str) -> str:
        return person

    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        raise NotImplementedError("the mailbox is a local file: it has no rate limits")

    # ----- rendering -------------------------------------------------------------------------

    def render(self, message: Message) -> str:
        return render_message(message, ActionNumbers())

    def render_form(self, form: Form) -> str:
        return render_form(form)

    def limit_problems(self, native: Any) -> list[str]:
        return [
            f"card line {number} is {len(line)} wide (over {WIDTH})"
            for number, line in enumerate(str(native).split("\n"), 1)
            if line.startswith(_CARD_LINE) and len(line) > WIDTH
        ]

    def readable_text(self, native: Any) -> str:
        return str(native)

    def pings(self, native: Any) -> list[str]:
        """A terminal has no mentions or links; what acts there is an escape sequence or a
        control character (it could rewrite the screen): every one left in is reported."""
        return [repr(found) for found in _UNSAFE.findall(str(native))]


class ShellHarness(PlatformHarness):
    platform = PLATFORM
    supports = frozenset({MESSAGE, COMMAND, PRESS, FORM, REACTION, UPDATE})

    @asynccontextmanager
    async def running(self, settings: Settings) -> AsyncIterator[PlatformSession]:
        registry = AdapterRegistry([ShellAdapterFactory()])
        async with open_application(settings, registry=registry) as app:
            yield ShellPlatform(app)


HARNESS = ShellHarness()
