"""Teams in the contract suite: botbuilder's CloudAdapter behind the real server, every request
carrying a real JWT from a local Bot Framework identity (so forged and expired tokens are
really refused), and the fake Bot Connector service recording what the bot showed.

What a person sees in Teams comes from two places: activities the bot posts or updates through
the Connector (recorded by the fake), and the answers to ``adaptiveCard/action`` invokes (a
pressed Action.Execute button gets the updated card, or a short notice, in the HTTP answer),
recorded here as they come back.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from botbuilder.schema import Activity
from jsonschema import ValidationError

from adapters.teams.activities import card_activity
from adapters.teams.cards import CONTENT_TYPE, EMPTY_CHOICE, form_card, render_parts
from adapters.teams.deferred import loaded
from adapters.teams.parse import message_ref, split_ref, tenant_of, user_key
from bot.config import Settings
from bot.messages import Form, Message
from bot.platform import DeliveryTarget, SendResult
from tests.contract.harness import (
    COMMAND,
    FORM,
    HOME,
    INSTALL,
    MESSAGE,
    PRESS,
    RATE_LIMITS,
    REACTION,
    RETRIES,
    SIGNED,
    UPDATE,
    PlatformHarness,
    PlatformSession,
    Recorder,
    Shown,
)
from tests.inbox_support import inbox_settled
from tests.teams_fake import FakeConnector, _Refused, card_validator
from tests.teams_support import (
    APP_ID,
    TENANT,
    TeamsStack,
    TeamsUser,
    registration,
    teams_stack,
    user,
)

# Teams refuses an activity over 28 KB (the Connector's 413 MessageSizeTooBig).
MAX_ACTIVITY_BYTES = 28 * 1024
# Teams' reactions, by the names other platforms give them.
REACTIONS = {
    "+1": "like",
    "thumbsup": "like",
    "like": "like",
    "heart": "heart",
    "joy": "laugh",
    "laughing": "laugh",
    "laugh": "laugh",
    "open_mouth": "surprised",
    "surprised": "surprised",
    "cry": "sad",
    "sad": "sad",
    "angry": "angry",
    "👍": "like",
    "❤️": "heart",
    "😆": "laugh",
    "😂": "laugh",
    "😮": "surprised",
    "😢": "sad",
    "😠": "angry",
}
PINGS = ("<at", "@channel", "@here", "@everyone", "<!channel>", "<!everyone>", "<!here>")


@dataclass(frozen=True)
class _Logged:
    """One thing shown, in the order it happened: a Connector call or an invoke's answer."""

    kind: str
    conversation: str
    activity_id: str | None
    payload: dict[str, Any]  # the activity, or the invoke's answer card / message


class _RecordingConnector(FakeConnector):
    """The fake Connector, logging each stored activity in order, with its id, and failing
    the next call of any operation on demand (``fail_next`` on the fake is per operation)."""

    def __init__(self, *, require_token: Any = None) -> None:
        super().__init__(require_token=require_token)
        self.log: list[_Logged] = []
        self.any_failures: deque[tuple[int, int | None]] = deque()
        self._log_lock = threading.Lock()

    def _store(self, cid: Any, activity: dict[str, Any], reply_to: str | None) -> Any:
        response = super()._store(cid, activity, reply_to)
        stored = self.activities[cid][-1]
        self._append(_Logged("message", str(cid), str(stored["id"]), stored))
        return response

    def _update(self, cid: Any, aid: Any, activity: dict[str, Any]) -> Any:
        response = super()._update(cid, aid, activity)
        self._append(_Logged("update", str(cid), str(aid), activity))
        return response

    def _injected_failure(self, operation: str) -> None:
        if self.any_failures:
            status, retry_after = self.any_failures.popleft()
            raise _Refused(status, f"Injected failure ({status}).", retry_after=retry_after)
        super()._injected_failure(operation)

    def _append(self, logged: _Logged) -> None:
        with self._log_lock:
            self.log.append(logged)


@dataclass
class _Person(TeamsUser):
    """A person whose personal chat has an opaque id, as Teams gives ("a:1" and a hash), not
    one spelling out their Azure AD id."""

    @property
    def conversation(self) -> str:
        return "a:1" + hashlib.sha256(self.aad.encode()).hexdigest()[:32]


class TeamsSession(PlatformSession):
    def __init__(self, stack: TeamsStack, identity: Any) -> None:
        self.stack = stack
        self.identity = identity
        self.app = stack.app
        self.recorder = Recorder().install(stack.app)
        self.connector: _RecordingConnector = stack.connector  # type: ignore[assignment]
        self._forgotten = 0
        self._people: dict[str, TeamsUser] = {}
        self.stack.authorization = self._token()

    # ----- people and tokens ---------------------------------------------------------------

    def server_url(self) -> str:
        parts = urlsplit(self.stack.url)
        return f"{parts.scheme}://{parts.netloc}"

    def person(self, name: str) -> TeamsUser:
        if name not in self._people:
            someone = user(name.capitalize())
            self._people[name] = _Person(someone.name, someone.aad, someone.teams_id)
        return self._people[name]

    def _by_conversation(self, conversation: str) -> str:
        for name, person in self._people.items():
            if person.conversation == conversation:
                return name
        return conversation

    def _token(self, **claims: Any) -> str:
        token = self.identity.issue_channel_token(APP_ID, self.connector.service_url, **claims)
        return "Bearer " + token

    def _activity(self, kind: str, person: str, delivery_id: str | None, **fields: Any) -> dict:
        activity = self.stack.activity(kind, self.person(person), **fields)
        if delivery_id:
            activity["id"] = delivery_id
        return activity

    async def _post(self, activity: dict[str, Any]) -> int:
        status, body = await self.stack.post(activity)
        if activity["type"] == "invoke" and status == 200 and isinstance(body, dict):
            conversation = activity["conversation"]["id"]
            value = body.get("value")
            if body.get("type") == CONTENT_TYPE and isinstance(value, dict):
                answer = _Logged("update", conversation, activity.get("replyToId"), value)
            else:
                notice = {"text": str(value or "")}
                answer = _Logged("ephemeral", conversation, activity.get("replyToId"), notice)
            self.connector._append(answer)
        return status

    # ----- what a person does ---------------------------------------------------------------

    async def say(self, person: str, text: str, *, delivery_id: str | None = None) -> int:
        return await self._post(self._activity("message", person, delivery_id, text=text))

    async def command(
        self, person: str, name: str, text: str, *, delivery_id: str | None = None
    ) -> int:
        """Teams bots have no slash commands: the command is typed (the app's command list
        only suggests the words), with the bot @mentioned as a channel would add it."""
        typed = f"<at>Advocacy</at> {name.lstrip('/')} {text}".strip()
        return await self._post(self._activity("message", person, delivery_id, text=typed))

    async def press(
        self, person: str, ref: str, label: str, *, delivery_id: str | None = None
    ) -> int:
        card = self._current_card(ref)
        found = [a for a in _actions(card) if a.get("title") == label]
        assert found, f"no button {label!r} on the card {ref}"
        conversation, activity_id = split_ref(ref)
        return await self._press(person, found[0], conversation, activity_id, {}, delivery_id)

    async def submit(
        self, person: str, values: dict[str, Any], *, delivery_id: str | None = None
    ) -> int:
        forms = [s for s in self.shown(person) if s.kind == "form"]
        assert forms, f"no form was shown to {person}"
        shown = forms[-1]
        assert shown.ref is not None
        conversation, activity_id = split_ref(shown.ref)
        inputs = _filled_in(shown.native, values)
        [send] = [a for a in _actions(shown.native) if a.get("type") == "Action.Execute"]
        return await self._press(person, send, conversation, activity_id, inputs, delivery_id)

    async def _press(
        self,
        person: str,
        action: dict[str, Any],
        conversation: str,
        activity_id: str,
        inputs: dict[str, Any],
        delivery_id: str | None,
    ) -> int:
        convo = {"conversationType": "personal", "tenantId": TENANT, "id": conversation}
        if action.get("type") == "Action.Submit":  # a client without Universal Actions
            data = {**action.get("data", {}), **inputs}
            return await self._post(
                self._activity(
                    "message",
                    person,
                    delivery_id,
                    value=data,
                    replyToId=activity_id,
                    conversation=convo,
                )
            )
        assert action.get("type") == "Action.Execute", action
        value = {
            "action": {
                "type": "Action.Execute",
                "verb": action["verb"],
                "data": {**action.get("data", {}), **inputs},
            },
            "trigger": "manual",
        }
        return await self._post(
            self._activity(
                "invoke",
                person,
                delivery_id,
                name="adaptiveCard/action",
                value=value,
                replyToId=activity_id,
                conversation=convo,
            )
        )

    async def react(
        self,
        person: str,
        ref: str,
        emoji: str,
        *,
        added: bool = True,
        delivery_id: str | None = None,
    ) -> int:
        conversation, activity_id = split_ref(ref)
        key = "reactionsAdded" if added else "reactionsRemoved"
        reaction = [{"type": REACTIONS.get(emoji.strip(":"), emoji.strip(":"))}]
        convo = {"conversationType": "personal", "tenantId": TENANT, "id": conversation}
        activity = self._activity(
            "messageReaction",
            person,
            delivery_id,
            replyToId=activity_id,
            conversation=convo,
            **{key: reaction},
        )
        return await self._post(activity)

    async def install(self, person: str, *, delivery_id: str | None = None) -> int:
        """The person adds the app for themselves: Teams sends installationUpdate (add) in
        their new personal chat."""
        return await self._post(
            self._activity("installationUpdate", person, delivery_id, action="add")
        )

    async def open_home(self, person: str, *, delivery_id: str | None = None) -> int:
        """The person asks for their home card in their personal chat (typing ``home``)."""
        return await self._post(self._activity("message", person, delivery_id, text="home"))

    async def forged(self) -> int:
        return await self._refused(self._token(valid=False))

    async def expired(self) -> int:
        return await self._refused(self._token(expires_in=-600))

    async def _refused(self, authorization: str) -> int:
        kept, self.stack.authorization = self.stack.authorization, authorization
        try:
            status, _ = await self.stack.post(self._activity("message", "mallory", None, text="hi"))
        finally:
            self.stack.authorization = kept
        return status

    async def settle(self) -> None:
        await inbox_settled(self.app)
        await self.stack.settle()
        await inbox_settled(self.app)

    # ----- what the platform shows -------------------------------------------------------------

    def shown(self, person: str | None = None) -> list[Shown]:
        found = []
        for logged in self.connector.log[self._forgotten :]:
            if person is not None and self._by_conversation(logged.conversation) != person:
                continue
            found.extend(_shown(logged, logged.conversation))
        return found

    def forget(self) -> None:
        self._forgotten = len(self.connector.log)

    def _current_card(self, ref: str) -> dict[str, Any]:
        """The card as the person now sees it: the last one sent, updated or answered as ref."""
        conversation, activity_id = split_ref(ref)
        for logged in reversed(self.connector.log):
            if logged.conversation == conversation and logged.activity_id == activity_id:
                cards = _cards(logged.payload) if logged.kind != "ephemeral" else []
                if cards:
                    return cards[0]
        raise AssertionError(f"no card was shown as {ref}")

    async def send(self, person: str, message: Message, *, sealed: bool = False) -> SendResult:
        someone = self.person(person)
        await self._known(person)
        adapter = self.app.adapters["teams"]
        target = DeliveryTarget(0, "teams", someone.aad, workspace=TENANT, sealed=sealed)
        return await adapter.send(target, message)

    def user_id(self, person: str) -> str:
        return self.person(person).aad  # the bot keys people by their Azure AD object id

    async def _known(self, person: str) -> None:
        """The bot keeps a person's chat reference from the first activity they send; here it
        is kept directly, as if they had written before (without an event for the core)."""
        adapter: Any = loaded(self.app.adapters["teams"])
        activity = Activity().deserialize(self._activity("message", person, None, text="-"))
        await adapter.conversations.remember(
            activity, tenant=tenant_of(activity), user=user_key(activity.from_property)
        )

    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        header = None if retry_after is None else int(retry_after)
        self.connector.any_failures.append((status, header))

    # ----- rendering --------------------------------------------------------------------------

    def render(self, message: Message) -> Any:
        parts = render_parts(message)
        return [card_activity(card, message.fallback).serialize() for card in parts]

    def render_form(self, form: Form) -> Any:
        return [card_activity(form_card(form), form.title).serialize()]

    def limit_problems(self, native: Any) -> list[str]:
        problems = []
        for index, activity in enumerate(_activities(native)):
            size = len(json.dumps(activity).encode())
            if size > MAX_ACTIVITY_BYTES:
                problems.append(f"activity {index} is {size} bytes, over Teams' 28 KB")
            for card in _cards(activity):
                schema_card = {k: v for k, v in card.items() if k != "msteams"}
                for error in card_validator().iter_errors(schema_card):
                    problems.append(f"activity {index}: {_where(error)}: {error.message}")
        return problems

    def readable_text(self, native: Any) -> str:
        texts: list[str] = []
        for activity in _activities(native):
            if activity.get("text"):
                texts.append(str(activity["text"]))
            for card in _cards(activity):
                texts.extend(_card_texts(card))
        return "\n".join(texts)

    def pings(self, native: Any) -> list[str]:
        """Teams pings only through a mention entity (and markdown TextBlocks could link):
        any entity, any TextBlock (markdown-capable) or ``<at>`` in an activity's text."""
        found: list[str] = []
        for activity in _activities(native):
            for entity in activity.get("entities") or []:
                if entity.get("type") == "mention":
                    found.append(f"mention entity {entity.get('text')!r}")
            text = str(activity.get("text") or "")
            found.extend(f"activity text {p!r}" for p in PINGS if p in text.lower())
            for card in _cards(activity):
                found.extend(_card_pings(card))
        return found


def _activities(native: Any) -> list[dict[str, Any]]:
    if isinstance(native, dict):
        if native.get("type") == "AdaptiveCard":
            return [{"attachments": [{"contentType": CONTENT_TYPE, "content": native}]}]
        return [native]
    return list(native)


def _cards(activity: dict[str, Any]) -> list[dict[str, Any]]:
    if activity.get("type") == "AdaptiveCard":
        return [activity]
    return [
        a["content"]
        for a in activity.get("attachments") or []
        if a.get("contentType") == CONTENT_TYPE and isinstance(a.get("content"), dict)
    ]


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every element in card order; an action's ``fallback`` (what a client without Universal
    Actions shows instead) is left out: a person sees one or the other, never both."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for key, value in node.items():
            if key != "fallback":
                found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in _walk(card) if str(n.get("type", "")).startswith("Action.")]


def _card_texts(card: dict[str, Any]) -> list[str]:
    """Text a person reads, in card order: runs, blocks, facts, inputs' labels, buttons."""
    texts: list[str] = []
    for node in _walk(card):
        kind = node.get("type")
        if kind in ("TextRun", "TextBlock") and node.get("text"):
            texts.append(str(node["text"]))
        elif kind == "FactSet":
            texts.extend(f"{f.get('title', '')} {f.get('value', '')}" for f in node["facts"])
        elif str(kind).startswith("Input.") and (node.get("label") or node.get("title")):
            texts.append(str(node.get("label") or node.get("title")))
        elif str(kind).startswith("Action.") and node.get("title"):
            texts.append(str(node["title"]))
    return texts


def _card_pings(card: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for node in _walk(card):
        if node.get("type") == "TextBlock":
            found.append(f"markdown TextBlock {node.get('text')!r}")
        if node.get("type") == "FactSet":
            # Fact titles and values are rendered as markdown by Teams.
            for fact in node.get("facts") or []:
                for part in (fact.get("title", ""), fact.get("value", "")):
                    if any(p in str(part).lower() for p in PINGS) or "](" in str(part):
                        found.append(f"fact {part!r}")
        msteams = card.get("msteams") or {}
        for entity in msteams.get("entities") or []:
            found.append(f"card mention {entity.get('text')!r}")
    return sorted(set(found))


def _filled_in(card: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """What Teams sends for the form's inputs: each input's value as a string (a toggle's
    valueOn/valueOff, a multi-choice joined with commas), untouched ones as they were."""
    inputs: dict[str, Any] = {}
    for node in _walk(card):
        kind = str(node.get("type", ""))
        if not kind.startswith("Input.") or "id" not in node:
            continue
        name = node["id"]
        if name not in values:
            if node.get("value") not in (None, ""):
                inputs[name] = node["value"]
            continue
        value = values[name]
        if kind == "Input.Toggle":
            on = value is True or str(value).lower() in ("true", "on", "1", "yes")
            inputs[name] = node.get("valueOn", "true") if on else node.get("valueOff", "false")
        elif kind == "Input.ChoiceSet":
            chosen = value if isinstance(value, list | tuple) else [value]
            inputs[name] = ",".join(str(v) for v in chosen if v not in (None, "")) or EMPTY_CHOICE
        else:
            inputs[name] = "" if value is None else str(value)
    unknown = set(values) - {n.get("id") for n in _walk(card)}
    assert not unknown, f"the form has no fields {unknown}"
    return inputs


def _shown(logged: _Logged, to: str) -> list[Shown]:
    ref = message_ref(logged.conversation, logged.activity_id) if logged.activity_id else None
    if logged.kind == "ephemeral":
        text = logged.payload["text"]
        return [Shown("ephemeral", to, text, logged.payload, ref)]
    cards = _cards(logged.payload)
    text = "\n".join(
        [*([str(logged.payload["text"])] if logged.payload.get("text") else [])]
        + [t for card in cards for t in _card_texts(card)]
    )
    kind = logged.kind
    if kind == "message" and any(
        str(n.get("type", "")).startswith("Input.") for card in cards for n in _walk(card)
    ):
        kind = "form"
    if kind in ("message", "update") and any(card.get("refresh") for card in cards):
        # A card that refreshes itself for its owner (Universal Actions): their home.
        kind = "home"
    native = cards[0] if len(cards) == 1 else cards
    return [Shown(kind, to, text, native, ref)]


def _where(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


class TeamsHarness(PlatformHarness):
    platform: ClassVar[str] = "teams"
    # HOME is the home card in the personal chat; no EPHEMERAL (a bot's messages in Teams are
    # seen by the whole conversation; an invoke's short notice is recorded as "ephemeral").
    supports: ClassVar[frozenset[str]] = frozenset(
        {
            MESSAGE,
            COMMAND,
            PRESS,
            FORM,
            REACTION,
            INSTALL,
            RETRIES,
            SIGNED,
            RATE_LIMITS,
            UPDATE,
            HOME,
        }
    )

    @asynccontextmanager
    async def running(self, settings: Settings) -> AsyncIterator[PlatformSession]:
        from tests.botframework_identity import FakeBotFrameworkIdentity

        with pytest.MonkeyPatch.context() as monkeypatch:
            async with FakeBotFrameworkIdentity() as identity:
                # The identity's token endpoint is served over TLS with its own CA.
                monkeypatch.setenv("REQUESTS_CA_BUNDLE", identity.ca_bundle)
                connector = _RecordingConnector(
                    require_token=lambda token: token in identity.issued_tokens
                )
                async with (
                    connector,
                    teams_stack(
                        settings,
                        connector,
                        **registration(),
                        BOT_OPENID_METADATA_URL=identity.openid_metadata_url,
                        BOT_LOGIN_URL=identity.login_url,
                    ) as stack,
                ):
                    yield TeamsSession(stack, identity)


HARNESS = TeamsHarness()
