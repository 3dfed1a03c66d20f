"""The Google Chat adapter: a Chat app on an HTTP endpoint (``EVENTS_PATH``) of the shared
aiohttp app, sending through the Chat API as the app's service account.

Every request's bearer token is checked (``auth.py``) before a byte of it is used; the event is
written to the durable inbox and only then answered. Chat shows the answer to an interaction
(a dialog, the pressed card updated, a reply) when it comes in the HTTP response, within 30
seconds: the request waits up to ``SYNC_BUDGET`` for the inbox's worker, and answers with what
it found; when the worker is slower, the reply follows through the Chat API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web

from adapters.google_chat import cards
from adapters.google_chat.api import ChatApi
from adapters.google_chat.auth import RequestVerifier
from adapters.google_chat.config import EVENTS_PATH, PUBSUB_PATH, GoogleChatConfig
from adapters.google_chat.parse import (
    PLATFORM,
    REQUEST_DIALOG,
    SUBMIT_DIALOG,
    dialog_type,
    event_id,
    form_values,
    function_of,
    is_direct,
    locale_of,
    message_name,
    space_of,
    submitted_form,
    to_event,
    user_of,
    wanted,
)
from adapters.google_chat.reactions import REACTION_TYPES, pushed, reaction_events
from adapters.google_chat.spaces import SpaceBook
from bot.events import Reply
from bot.i18n import N_, _, speaking
from bot.messages import Form, Message
from bot.platform import (
    AdapterContext,
    DeliveryError,
    DeliveryTarget,
    SendResult,
    SignedEndpoint,
    show_reply,
)
from bot.platform.inbox import InboxItem, Receipt
from bot.platform.pacing import KeyedLocks, Pacer, pacer_for

log = logging.getLogger(__name__)

INBOX_KIND = "google_chat"
# How long a request waits for the worker's reply; Chat itself waits 30 seconds.
SYNC_BUDGET = 8.0
# The Chat API's published quotas: 1 write a second in a space (shared by every app there) and
# 3,000 message writes a minute per project.
PER_SPACE = 1.0
PER_PROJECT = 50.0
PROJECT_BURST = 5
LATE = N_("Still working on it: the answer follows in a moment.")


class GoogleChatAdapter:
    platform = PLATFORM

    def __init__(self, context: AdapterContext, config: GoogleChatConfig) -> None:
        assert context.store is not None and context.inbox is not None
        self.context = context
        self.config = config
        self.router = context.router
        self.spaces = SpaceBook(context.store)
        self.api = ChatApi(config.api_url, config.service_account(), timeout=config.timeout)
        self.verifier = RequestVerifier.for_chat(config)
        self.pubsub_verifier = RequestVerifier.for_pubsub(config)
        self._session: aiohttp.ClientSession | None = None
        self._per_space = Pacer(PER_SPACE)
        # The project's quota is shared by every instance on one PostgreSQL database.
        self._per_project = pacer_for(context.db, "google_chat.project", PER_PROJECT, PROJECT_BURST)
        # Updates of one card leave in the order its presses were recorded.
        self._card_turns = KeyedLocks()
        self.inbox = context.inbox
        self.inbox.register(INBOX_KIND, self.handle_inbox_item, order_key=_order_key)

    # ----- set-up -------------------------------------------------------------------------

    @property
    def signed_endpoints(self) -> tuple[SignedEndpoint, ...]:
        """Chat's events and Pub/Sub's pushes each carry a Google-signed bearer token."""
        endpoints = [SignedEndpoint(EVENTS_PATH, ("Authorization",))]
        if self.config.pubsub_account:
            endpoints.append(SignedEndpoint(PUBSUB_PATH, ("Authorization",)))
        return tuple(endpoints)

    def mount(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self._handle)
        if self.config.pubsub_account:
            app.router.add_post(PUBSUB_PATH, self._handle_pubsub)

    def _ensure_session(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self.api.use(self._session)
            self.verifier.use(self._session)
            self.pubsub_verifier.use(self._session)

    async def start(self) -> None:
        """Check the service account's key once, so a wrong one is in the start-up log rather
        than in the first failed delivery."""
        self._ensure_session()
        try:
            await self.api.token()
        except DeliveryError as error:
            level = logging.ERROR if error.platform_down else logging.WARNING
            log.log(level, "google_chat: %s; messages wait in the outbox", error)
        else:
            log.info("google_chat: the service account's key is accepted")

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ----- HTTP: verify, write to the inbox, answer ---------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        self._ensure_session()
        claims = await self.verifier.claims(request.headers.get("Authorization", ""))
        if claims is None:
            return web.json_response({"error": "Unauthorized"}, status=401)
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "the body is not a Chat event"}, status=400)
        if not wanted(body):
            return web.json_response(cards.close_dialog() if dialog_type(body) else {})
        loop = asyncio.get_running_loop()
        started = loop.time()
        accepted = await self.inbox.accept(
            PLATFORM, INBOX_KIND, event_id(body), {"body": body}, wait=True
        )
        if accepted.waiter is None:  # a redelivery of an event already taken
            return web.json_response(cards.close_dialog() if dialog_type(body) else {})
        budget = SYNC_BUDGET - (loop.time() - started)
        answered, reply = await accepted.waiter.wait(max(0.0, budget))
        # What the adapter says itself, in the language of the person's Chat client.
        with speaking(locale_of(body)):
            if not answered:
                return web.json_response(cards.close_dialog(_(LATE)) if dialog_type(body) else {})
            surface = EventSurface(self, body, sync=True)
            shaped = self._shaped(body, reply, surface)
            surface.single = _parts(shaped) <= 1
            await show_reply(shaped, surface, platform=PLATFORM)
        return web.json_response(surface.answer or surface.default_answer())

    async def _handle_pubsub(self, request: web.Request) -> web.Response:
        """A Pub/Sub push of a Workspace Event: written to the inbox, then acknowledged (2xx);
        Pub/Sub redelivers with the same message id, which counts once."""
        self._ensure_session()
        if await self.pubsub_verifier.claims(request.headers.get("Authorization", "")) is None:
            return web.json_response({"error": "Unauthorized"}, status=401)
        try:
            found = pushed(json.loads(await request.read()))
        except (ValueError, RecursionError, AttributeError):
            found = None
        if found is None:
            return web.json_response({"error": "the body is not a Pub/Sub push"}, status=400)
        kind, message_id, data = found
        if kind in REACTION_TYPES:
            payload = {"pubsub": {"type": kind, "id": message_id, "data": data}}
            await self.inbox.accept(PLATFORM, INBOX_KIND, f"pubsub:{message_id}", payload)
        return web.Response(status=204)

    # ----- the inbox's worker -------------------------------------------------------------

    async def handle_inbox_item(self, item: InboxItem, receipt: Receipt) -> None:
        if "pubsub" in item.payload:
            await self._handle_reactions(item.payload["pubsub"], receipt)
            return
        body = item.payload["body"]
        await self._remember_space(body)
        event = to_event(body)
        if event is None:
            return
        reply = await self.router.handle(event, receipt)
        if receipt.waiter is not None and receipt.waiter.offer(reply):
            return  # the request still open shows it, in its answer
        surface = EventSurface(self, body, sync=False)
        with speaking(event.actor.locale):
            await show_reply(self._shaped(body, reply, surface), surface, platform=PLATFORM)

    async def _handle_reactions(self, push: dict[str, Any], receipt: Receipt) -> None:
        """Each reaction counts once by its own id; the last closes the inbox event, so a retry
        after a crash does only the rest."""
        events = reaction_events(**_push_arguments(push))
        for number, event in enumerate(events, start=1):
            await self.router.handle(event, receipt if number == len(events) else None)

    async def _remember_space(self, body: dict[str, Any]) -> None:
        space = space_of(body)
        user = user_of(body).get("name")
        if user and space.get("name") and is_direct(space):
            await self.spaces.remember(str(user), str(space["name"]))

    def _shaped(self, body: dict[str, Any], reply: Reply, surface: EventSurface) -> Reply:
        """A form's answer: refused in a dialog, the dialog shows again with the reason and the
        answers as typed; accepted from a card of inputs, that card becomes the confirmation."""
        if function_of(body) != cards.FORM_SUBMIT:
            return reply
        if reply.error and surface.can_answer and dialog_type(body) == SUBMIT_DIALOG:
            form = submitted_form(body)
            if form is not None:
                surface.answer = cards.dialog_response(
                    form, problem=reply.error, values=form_values(body)
                )
                return replace(reply, error=None)
        if not dialog_type(body) and reply.messages and not reply.error and reply.update is None:
            confirmation, *others = reply.messages
            return replace(reply, messages=others, update=confirmation)
        return reply

    # ----- outbound -----------------------------------------------------------------------

    async def post(self, space: str, body: dict[str, Any], request_id: str | None = None) -> str:
        self._ensure_session()
        await self._per_space.wait(space)
        await self._per_project.wait("")
        try:
            return await self.api.create_message(space, body, request_id)
        except DeliveryError as error:
            if error.retry_after is not None:  # a 429: our count and Google's disagree
                await self._per_project.refused("")
            raise

    async def update(self, name: str, message: Message) -> None:
        self._ensure_session()
        space = name.split("/messages/")[0]
        async with self._card_turns.hold(name):
            await self._per_space.wait(space)
            await self._per_project.wait("")
            await self.api.update_message(name, cards.render_message(message))

    async def _space_for(self, target: DeliveryTarget) -> str:
        if target.channel:
            return channel_space(target.recipient)
        space = await self.spaces.direct(target.recipient)
        if space:
            return space
        self._ensure_session()
        space = await self.api.direct_space(target.recipient)
        if not space:
            try:
                space = await self.api.set_up_direct_space(target.recipient)
            except DeliveryError as error:
                if error.permanent:
                    raise DeliveryError(
                        "no direct message with this person yet: they need to add the app in "
                        "Google Chat (or message it once)",
                        permanent=True,
                    ) from None
                raise
        await self.spaces.remember(target.recipient, space)
        return space

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        space = await self._space_for(target)
        body = cards.render_message(message)
        try:
            name = await self.post(space, body, delivery_request_id(target, body))
        except DeliveryError as error:
            if getattr(error, "status", None) == 404 and not target.channel:
                await self.spaces.forget(target.recipient)  # looked up again next time
            raise
        return SendResult(platform_ref=name or None)


def delivery_request_id(target: DeliveryTarget, body: dict[str, Any]) -> str:
    """The same for every attempt at one delivery, so Chat creates its message once even when
    the outbox sends it again after a crash lost the answer (the database being reset starts
    delivery ids again: the content's digest keeps a new message from matching an old one)."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return f"advocacy-{target.delivery_id}-{digest}"


def channel_space(channel_id: str) -> str:
    """A configured channel's space name: ``google_chat:spaces/AAAA`` is parsed as workspace
    "spaces" and channel "AAAA" (the Slack form ``T0123/C0123``), and ``google_chat:AAAA`` is
    the space's id alone; both are ``spaces/AAAA`` to the Chat API."""
    return channel_id if channel_id.startswith("spaces/") else f"spaces/{channel_id}"


class EventSurface:
    """Where one event's reply is shown: in the HTTP answer while the request is open (one part:
    a dialog, the pressed card updated, or a message), the rest through the Chat API. In a
    shared space, messages for the person are private to them."""

    def __init__(self, adapter: GoogleChatAdapter, body: dict[str, Any], *, sync: bool) -> None:
        self.adapter = adapter
        self.body = body
        self.sync = sync
        self.answer: dict[str, Any] | None = None
        # Only a reply of one part is answered in the response (a dialog always is: it can open
        # no other way): the parts of a longer one all go through the API, in their order.
        self.single = False
        self.space = str(space_of(body).get("name") or "")
        self.dialog = dialog_type(body)

    @property
    def can_answer(self) -> bool:
        return self.sync and self.answer is None

    @property
    def can_answer_alone(self) -> bool:
        return self.can_answer and self.single

    def _private(self) -> dict[str, Any]:
        if is_direct(space_of(self.body)):
            return {}
        return {"privateMessageViewer": {"name": str(user_of(self.body).get("name") or "")}}

    def default_answer(self) -> dict[str, Any]:
        return cards.close_dialog() if self.dialog else {}

    async def open_form(self, form: Form) -> bool:
        if self.can_answer and self.dialog in (REQUEST_DIALOG, SUBMIT_DIALOG):
            self.answer = cards.dialog_response(form)
            return True
        body = {**cards.form_message(form), **self._private()}
        if self.can_answer_alone and self.dialog is None:
            self.answer = {"actionResponse": {"type": "NEW_MESSAGE"}, **body}
            return True
        await self.adapter.post(self.space, body)
        return True

    async def update_card(self, message: Message) -> None:
        name = message_name(self.body)
        if (
            self.can_answer_alone
            and self.dialog is None
            and self.body.get("type") == "CARD_CLICKED"
        ):
            self.answer = {
                "actionResponse": {"type": "UPDATE_MESSAGE"},
                **cards.render_message(message),
            }
            return
        if name:
            await self.adapter.update(name, message)

    async def tell(self, message: Message) -> None:
        body = {**cards.render_message(message), **self._private()}
        if self.can_answer_alone and self.dialog is None:
            self.answer = {"actionResponse": {"type": "NEW_MESSAGE"}, **body}
            return
        if self.space:
            await self.adapter.post(self.space, body)

    async def refresh_home(self) -> None:
        return None  # no home surface on Google Chat here


def _parts(reply: Reply) -> int:
    """How many things the reply shows (its form, update, messages and error)."""
    return (
        (reply.form is not None)
        + (reply.update is not None)
        + len(reply.messages)
        + bool(reply.error)
    )


def _order_key(payload: dict[str, Any]) -> str | None:
    """One person's events are handled in the order they arrived."""
    if "pubsub" in payload:
        reactions = reaction_events(**_push_arguments(payload["pubsub"]))
        return reactions[0].actor.user_id if reactions else None
    user = user_of(payload.get("body") or {}).get("name")
    return str(user) if user else None


def _push_arguments(push: dict[str, Any]) -> dict[str, Any]:
    return {"kind": push["type"], "message_id": push["id"], "data": push["data"]}


__all__ = ["EventSurface", "GoogleChatAdapter"]
