"""Google Chat in the contract suite: the real application and server with the adapter enabled,
the fake Chat API and token issuer, and each thing a person does sent as Google Chat sends it
(a signed interaction event, built from the cards as rendered)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit

from adapters.google_chat import cards
from bot.config import Settings
from bot.messages import Form, Message
from bot.platform import DeliveryTarget, SendResult
from tests.contract.harness import (
    COMMAND,
    FORM,
    INSTALL,
    MESSAGE,
    PRESS,
    RATE_LIMITS,
    REACTION,
    RETRIES,
    SIGNED,
    UPDATE,
    UPDATE_BY_API,
    PlatformHarness,
    PlatformSession,
    Recorder,
    Shown,
)
from tests.google_chat_support import (
    AUDIENCE,
    GoogleChatStack,
    added_event,
    click_event,
    find_button,
    form_inputs,
    google_chat_stack,
    message_event,
    pings,
    reaction_push,
    readable_text,
    submit_button,
)

PEOPLE = {"alice": "users/101", "bob": "users/102", "carol": "users/103", "dave": "users/104"}
BASE_TIME = 1_800_000_000.0


def _moment(delivery_id: str | None) -> float | None:
    """A redelivery repeats its event's time; a new delivery id is a new moment."""
    if delivery_id is None:
        return None
    return BASE_TIME + int(hashlib.sha256(delivery_id.encode()).hexdigest()[:8], 16) / 1000


class GoogleChatSession(PlatformSession):
    def __init__(self, stack: GoogleChatStack) -> None:
        self.stack = stack
        self.fake = stack.fake
        self.app = stack.app
        self.recorder = Recorder().install(stack.app)
        self._from = 0
        self._delivery_ids = itertools.count(1)

    def server_url(self) -> str:
        parts = urlsplit(self.stack.url)
        return f"{parts.scheme}://{parts.netloc}"

    def _name(self, person: str) -> str:
        return person.capitalize()

    async def say(self, person: str, text: str, *, delivery_id: str | None = None) -> int:
        body = message_event(PEOPLE[person], self._name(person), text, message_id=delivery_id)
        return (await self.stack.post(body))[0]

    async def command(
        self, person: str, name: str, text: str, *, delivery_id: str | None = None
    ) -> int:
        body = message_event(
            PEOPLE[person], self._name(person), text, message_id=delivery_id, command=name
        )
        return (await self.stack.post(body))[0]

    async def press(
        self, person: str, ref: str, label: str, *, delivery_id: str | None = None
    ) -> int:
        posted = self.fake.messages[ref]
        body = click_event(
            PEOPLE[person],
            self._name(person),
            {"name": posted.name},
            find_button(posted.body, label),
            at=_moment(delivery_id),
        )
        return (await self.stack.post(body))[0]

    async def submit(
        self, person: str, values: dict[str, Any], *, delivery_id: str | None = None
    ) -> int:
        form = next(s for s in reversed(self.shown(person)) if s.kind == "form")
        native = form.native
        dialog = (native.get("actionResponse") or {}).get("type") == "DIALOG"
        card = (
            native["actionResponse"]["dialogAction"]["dialog"]["body"]
            if dialog
            else native["cardsV2"][0]["card"]
        )
        body = click_event(
            PEOPLE[person],
            self._name(person),
            {"name": form.ref} if form.ref else {},
            submit_button(card),
            at=_moment(delivery_id),
            dialog="SUBMIT_DIALOG" if dialog else None,
            form_inputs=form_inputs(card, values),
        )
        return (await self.stack.post(body))[0]

    async def react(
        self,
        person: str,
        ref: str,
        emoji: str,
        *,
        added: bool = True,
        delivery_id: str | None = None,
    ) -> int:
        push = reaction_push(PEOPLE[person], ref, emoji, added=added, message_id=delivery_id)
        return await self.stack.push(push)

    async def install(self, person: str, *, delivery_id: str | None = None) -> int:
        body = added_event(PEOPLE[person], self._name(person), at=_moment(delivery_id))
        return (await self.stack.post(body))[0]

    async def open_home(self, person: str, *, delivery_id: str | None = None) -> int:
        raise NotImplementedError("no app home here")

    async def forged(self) -> int:
        body = message_event(PEOPLE["alice"], "Alice", "forged")
        return (await self.stack.post(body, token=self.fake.forged_token(AUDIENCE)))[0]

    async def expired(self) -> int:
        token = self.fake.request_token(AUDIENCE, issued=BASE_TIME - 86_400 * 400)
        return (await self.stack.post(message_event(PEOPLE["alice"], "Alice", "old"), token=token))[
            0
        ]

    async def settle(self) -> None:
        await self.stack.settle()

    # ----- what was shown -------------------------------------------------------------------

    def _shown(self, entry: tuple[Any, ...]) -> Shown | None:
        kind = entry[0]
        if kind in ("create", "patch"):
            name, body = entry[1], entry[2]
            space = name.split("/messages/")[0]
            posted = self.fake.messages[name]
            to = posted.viewer or self.fake.user_of_space(space) or space
            if kind == "patch":
                return Shown("update", to, readable_text(body), body, name)
            return Shown(_kind(body), to, readable_text(body), body, name)
        _, user, answer, event = entry
        response = answer.get("actionResponse") or {}
        pressed = (event.get("message") or {}).get("name")
        if response.get("type") == "DIALOG":
            dialog = (response.get("dialogAction") or {}).get("dialog")
            if not dialog:
                return None
            return Shown("form", user, readable_text(dialog), answer, pressed)
        if response.get("type") == "UPDATE_MESSAGE":
            return Shown("update", user, readable_text(answer), answer, pressed)
        return Shown(_kind(answer), user, readable_text(answer), answer, None)

    def shown(self, person: str | None = None) -> list[Shown]:
        found = [s for e in self.fake.timeline[self._from :] if (s := self._shown(e)) is not None]
        if person is None:
            return found
        return [s for s in found if s.to == PEOPLE[person]]

    def forget(self) -> None:
        self._from = len(self.fake.timeline)

    async def send(self, person: str, message: Message, *, sealed: bool = False) -> SendResult:
        target = DeliveryTarget(
            next(self._delivery_ids), "google_chat", PEOPLE[person], sealed=sealed
        )
        return await self.app.adapters["google_chat"].send(target, message)

    def user_id(self, person: str) -> str:
        return PEOPLE[person]

    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        self.fake.fail_next(status, retry_after=retry_after)

    # ----- rendering --------------------------------------------------------------------------

    def render(self, message: Message) -> Any:
        return cards.render_message(message)

    def render_form(self, form: Form) -> Any:
        return cards.form_message(form)

    def limit_problems(self, native: Any) -> list[str]:
        from tests.google_chat_fake import card_problems

        return cards.limit_problems(native) + card_problems(native)

    def readable_text(self, native: Any) -> str:
        return readable_text(native)

    def pings(self, native: Any) -> list[str]:
        return pings(native)


def _kind(body: dict[str, Any]) -> str:
    text = str(body.get("cardsV2") or "")
    if "'textInput'" in text or "'selectionInput'" in text:
        return "form"
    return "ephemeral" if body.get("privateMessageViewer") else "message"


class GoogleChatHarness(PlatformHarness):
    platform: ClassVar[str] = "google_chat"
    supports: ClassVar[frozenset[str]] = frozenset(
        {
            COMMAND,
            FORM,
            INSTALL,
            MESSAGE,
            PRESS,
            RATE_LIMITS,
            REACTION,
            RETRIES,
            SIGNED,
            UPDATE,
            UPDATE_BY_API,
        }
    )

    @asynccontextmanager
    async def running(self, settings: Settings) -> AsyncIterator[PlatformSession]:
        async with google_chat_stack(settings) as stack:
            for user in PEOPLE.values():
                stack.fake.add_user(user)
            yield GoogleChatSession(stack)


HARNESS = GoogleChatHarness()
