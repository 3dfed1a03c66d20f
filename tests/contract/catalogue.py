"""Every kind of card the core produces, made by running the real core: the demo organisation
loaded, people of each role running every command they may run, pressing the buttons of what
they were shown, opening their home, and each digest run; plus ideas and customer voice written
to break things (very long, many themes, mentions, links, markup). Built once per test session:
the catalogue is the same for every platform, and each harness renders all of it."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from adapters.shell import ShellAdapterFactory
from bot.app import Application, open_application
from bot.config import Settings
from bot.domain import Role
from bot.errors import DomainError
from bot.events import ActionInvoked, Actor, CommandInvoked, Event, HomeOpened, Reply
from bot.messages import Button, Form, Message
from bot.platform import AdapterRegistry
from bot.platform.members import MemberDirectory
from bot.services.digest_runs import start_run
from bot.services.permissions import OPERATOR
from bot.storage.models import Digest, OutboundMessage
from content.demo.loader import PLATFORM, load_demo

# Written to break a card: every way of pinging, linking or marking up, and a long run of text.
HOSTILE = (
    "@channel @here <!channel> <!here> <!everyone> <@U123> <users/all> <at>Everyone</at> "
    "[click me](http://evil.example) <a href='http://evil.example'>link</a> <b>bold</b> "
    "<script>alert(1)</script> *star* _under_ ~strike~ `tick` ```fence``` & &amp; > quote "
    # What rewrites a terminal or reorders what is read: an escape sequence, a direction override.
    "\x1b[2J\x1b[31mred\x1b[0m \u202eevil\u202c \x07"
)
LONG_IDEA = ("A very long idea, said at length. " + HOSTILE + " ") * 12  # well over 3,000 chars
THEMES = 40
# One person of each role in the demo organisation (and "you", made an admin).
PEOPLE = {
    Role.EMPLOYEE: "alice",
    Role.MANAGER: "mike",
    Role.STRATEGIST: "dana",
    Role.ADMIN: "you",
}
# The language each of them reads (their platform's tag): translations are longer or wider than
# English (German), or written without spaces (Japanese), and must fit every platform's limits too.
LANGUAGES = {
    Role.EMPLOYEE: "de-DE",
    Role.MANAGER: "ja-JP",
    Role.STRATEGIST: "pt-BR",
    Role.ADMIN: None,
}
# Arguments worth giving a command besides none (its usage, or its form).
ARGUMENTS = {
    "suggest": ["", LONG_IDEA[:2900], HOSTILE],
    "suggestions": ["", "top", "evidence", "planned", "page 2"],
    "voice": ["", HOSTILE],
    "vote": ["1"],
    "unvote": ["1"],
    "content add": ["", "http://localhost:9/not-there"],
    "digest run": ["Monday picks", "Customer voice weekly --include-sent", "Manager rollup"],
    "rollup": ["", "--by team", "--by status", "--since 7d"],
    "answer": ["36 planned " + HOSTILE, "37 declined " + LONG_IDEA[:1000], "38"],
    "review": ["", "1 helped"],
    "merge": ["2 into 3"],
    "hide": ["4 " + HOSTILE],
    "report": ["", "--since 7d"],
}
# Each kind of button is pressed a few times per person (on different cards).
PRESSES_PER_ACTION = 3


@dataclass
class Catalogue:
    """Messages and forms the core produced, each with where it came from, without repeats."""

    messages: list[tuple[str, Message]] = field(default_factory=list)
    forms: list[tuple[str, Form]] = field(default_factory=list)
    # The action ids whose press the core answered with a form.
    form_actions: set[str] = field(default_factory=set)
    _seen: set[str] = field(default_factory=set)

    def add_message(self, origin: str, message: Message) -> None:
        key = json.dumps(message.to_dict(), sort_keys=True, default=str)
        if key not in self._seen:
            self._seen.add(key)
            self.messages.append((origin, message))
        for card in message.cards:
            if card.form is not None:
                self.add_form(f"{origin} (card form)", card.form)

    def add_form(self, origin: str, form: Form) -> None:
        key = "form:" + repr(form)
        if key not in self._seen:
            self._seen.add(key)
            self.forms.append((origin, form))

    def add_reply(self, origin: str, reply: Reply) -> None:
        for message in reply.messages:
            self.add_message(origin, message)
        if reply.update is not None:
            self.add_message(f"{origin} (update)", reply.update)
        if reply.form is not None:
            self.add_form(origin, reply.form)
        if reply.error:
            self.add_message(f"{origin} (error)", Message.text(f"⚠️ {reply.error}"))


async def _ask(app: Application, catalogue: Catalogue, origin: str, event: Event) -> Reply | None:
    try:
        reply = await app.router.handle(event)
    except DomainError:
        return None
    catalogue.add_reply(origin, reply)
    return reply


async def _build(directory: Path) -> Catalogue:
    from bot.chat.catalogue import commands_for

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{directory / 'catalogue.db'}",
        data_dir=directory / "data",
        secret_key="catalogue-key-5b1f0c8e9d7a6b4c3e2f1a0d",
    )
    catalogue = Catalogue()
    registry = AdapterRegistry([ShellAdapterFactory()])
    async with open_application(settings, registry=registry) as app:
        await load_demo(app.db, app.sealer, you="you")
        members = MemberDirectory(app.db)
        await members.grant_role(Actor(PLATFORM, "you"), Role.ADMIN.value)
        employee = Actor(PLATFORM, PEOPLE[Role.EMPLOYEE])
        # Hostile ideas: very long, and one per theme, so lists and rollups grow long.
        for number in range(THEMES):
            text = f"Theme {number}: {HOSTILE} " + ("more words " * number)
            await _ask(app, catalogue, "suggest", CommandInvoked(employee, "suggest", text=text))
        await _ask(app, catalogue, "suggest long", CommandInvoked(employee, "suggest", LONG_IDEA))
        for role, user in PEOPLE.items():
            actor = Actor(PLATFORM, user, display_name=f"{HOSTILE[:60]}", locale=LANGUAGES[role])
            await _ask(app, catalogue, f"home of {role}", HomeOpened(actor))
            for command in commands_for(role.value):
                name, _, sub = command.name.partition(" ")
                for argument in ARGUMENTS.get(command.name, [""]):
                    text = f"{sub} {argument}".strip()
                    origin = f"/{command.name} {argument[:20]} as {role}"
                    await _ask(app, catalogue, origin, CommandInvoked(actor, name, text=text))
            await _press_what_was_shown(app, catalogue, actor, str(role))
        async with app.db.transaction() as session:
            for digest in await session.scalars(select(Digest)):
                await start_run(session, app.sealer, digest, actor=OPERATOR)
        async with app.db.transaction() as session:
            for outbound in await session.scalars(select(OutboundMessage)):
                catalogue.add_message(
                    f"outbox {outbound.kind}", Message.from_dict(outbound.payload)
                )
    return catalogue


async def _press_what_was_shown(
    app: Application, catalogue: Catalogue, actor: Actor, role: str
) -> None:
    """Press the buttons on the cards collected so far (one level deep), as ``actor``."""
    pressed: Counter[str] = Counter()
    for origin, message in list(catalogue.messages):
        for card in message.cards:
            for button in card.buttons:
                if not isinstance(button, Button):
                    continue
                if pressed[button.action_id] >= PRESSES_PER_ACTION:
                    continue
                pressed[button.action_id] += 1
                event = ActionInvoked(
                    actor, action_id=button.action_id, value=dict(button.value), message_ref=None
                )
                reply = await _ask(
                    app, catalogue, f"{button.action_id} on {origin} as {role}", event
                )
                if reply is not None and reply.form is not None:
                    catalogue.form_actions.add(button.action_id)


_BUILT: Catalogue | None = None


def catalogue() -> Catalogue:
    """The catalogue, built on first use (in a thread of its own, so a test's running event
    loop is no matter) and kept for the session."""
    global _BUILT
    if _BUILT is None:
        with tempfile.TemporaryDirectory() as directory, ThreadPoolExecutor(1) as pool:
            _BUILT = pool.submit(asyncio.run, _build(Path(directory))).result()
    return _BUILT
