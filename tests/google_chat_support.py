"""Helpers for Google Chat tests: interaction events as Google Chat sends them to an HTTP
endpoint app (signed with the fake issuer's tokens), presses and dialog submissions built from
the cards as rendered, and the real application and server with the adapter enabled.

Payload shapes follow the Chat API's interaction event reference (``type``, ``eventTime``,
``space``, ``user``, ``message`` with ``argumentText`` and ``slashCommand``, ``common`` with
``invokedFunction``, ``parameters`` and ``formInputs``, ``isDialogEvent``/``dialogEventType``).
"""

from __future__ import annotations

import asyncio
import base64
import html
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from adapters.google_chat import GoogleChatAdapterFactory
from adapters.google_chat.cards import FOOTER_COLOR
from adapters.google_chat.config import EVENTS_PATH, PUBSUB_PATH
from bot.app import Application, open_application
from bot.config import Settings
from bot.platform import AdapterRegistry
from bot.web import build_web_app
from tests.google_chat_fake import FakeGoogleChat
from tests.inbox_support import inbox_settled

PUBLIC_URL = "https://advocacy.example.com"
AUDIENCE = PUBLIC_URL + EVENTS_PATH
PUBSUB_AUDIENCE = PUBLIC_URL + PUBSUB_PATH
PUBSUB_ACCOUNT = "chat-events-push@fake-project.iam.gserviceaccount.com"
COMMAND_IDS = {"suggest": "1", "advocacy": "2", "voice": "3"}
_ids = itertools.count(1)


def stamp(seconds: float | None = None) -> str:
    moment = datetime.fromtimestamp(seconds if seconds is not None else time.time(), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def google_chat_env(fake: FakeGoogleChat, directory: Path) -> dict[str, str]:
    return {
        "GOOGLE_CHAT_SERVICE_ACCOUNT_FILE": str(fake.service_account_file(directory)),
        "GOOGLE_CHAT_API_URL": fake.api_url,
        "GOOGLE_CHAT_CERTS_URL": fake.certs_url,
        "GOOGLE_CHAT_PUBSUB_SERVICE_ACCOUNT": PUBSUB_ACCOUNT,
    }


def google_chat_settings(settings: Settings, fake: FakeGoogleChat, **extra: str) -> Settings:
    return Settings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        public_url=PUBLIC_URL,
        delivery_max_attempts=3,
        env={**google_chat_env(fake, Path(settings.data_dir or ".")), **extra},
    )


def direct_space(user: str) -> dict[str, Any]:
    return {
        "name": f"spaces/dm-{user.removeprefix('users/')}",
        "type": "DM",
        "spaceType": "DIRECT_MESSAGE",
        "singleUserBotDm": True,
    }


def person(user: str, name: str) -> dict[str, Any]:
    return {"name": user, "displayName": name, "type": "HUMAN", "domainId": "fake-domain"}


def message_event(
    user: str, name: str, text: str, *, message_id: str | None = None, command: str | None = None
) -> dict[str, Any]:
    """A MESSAGE event in the person's DM with the app (a slash command when ``command``)."""
    space = direct_space(user)
    body_text = f"/{command} {text}".rstrip() if command else text
    message: dict[str, Any] = {
        "name": f"{space['name']}/messages/{message_id or f'm{next(_ids)}'}",
        "sender": person(user, name),
        "createTime": stamp(),
        "text": body_text,
        "argumentText": f" {text}" if command else text,
        "space": space,
    }
    if command:
        command_id = COMMAND_IDS.get(command, "9")
        message["slashCommand"] = {"commandId": command_id}
        message["annotations"] = [
            {
                "type": "SLASH_COMMAND",
                "startIndex": 0,
                "length": len(command) + 1,
                "slashCommand": {
                    "bot": {"name": "users/app", "type": "BOT"},
                    "type": "INVOKE",
                    "commandName": f"/{command}",
                    "commandId": command_id,
                },
            }
        ]
    return {
        "type": "MESSAGE",
        "eventTime": stamp(),
        "space": space,
        "user": person(user, name),
        "message": message,
        "common": {"hostApp": "CHAT", "userLocale": "en", "timeZone": {"id": "Europe/Paris"}},
    }


def added_event(user: str, name: str, *, at: float | None = None) -> dict[str, Any]:
    return {
        "type": "ADDED_TO_SPACE",
        "eventTime": stamp(at),
        "space": direct_space(user),
        "user": person(user, name),
        "common": {"hostApp": "CHAT"},
    }


def reaction_push(
    user: str, message: str, emoji: str, *, added: bool = True, message_id: str | None = None
) -> dict[str, Any]:
    """A Pub/Sub push of a Workspace Event for one reaction on ``message`` (its resource name),
    CloudEvents attributes and all, as a push subscription delivers it."""
    kind = "created" if added else "deleted"
    reaction = {
        "name": f"{message}/reactions/r{next(_ids)}",
        "user": {"name": user, "type": "HUMAN"},
        "emoji": {"unicode": emoji},
    }
    data = base64.b64encode(json.dumps({"reaction": reaction}).encode()).decode()
    pushed_id = message_id or f"{next(_ids)}{int(time.time())}"
    return {
        "message": {
            "attributes": {
                "ce-type": f"google.workspace.chat.reaction.v1.{kind}",
                "ce-id": f"ce-{pushed_id}",
                "ce-source": "//workspaceevents.googleapis.com/subscriptions/chat-reactions",
                "ce-subject": f"//chat.googleapis.com/{message.split('/messages/')[0]}",
                "ce-time": stamp(),
                "ce-specversion": "1.0",
                "ce-datacontenttype": "application/json",
            },
            "data": data,
            "messageId": pushed_id,
            "publishTime": stamp(),
        },
        "subscription": "projects/fake-project/subscriptions/chat-reactions-push",
    }


def buttons_in(card_body: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "buttonList" in node:
                found.extend(node["buttonList"].get("buttons") or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card_body)
    return found


def find_button(card_body: Any, label: str) -> dict[str, Any]:
    for button in buttons_in(card_body):
        if button["text"] in (label, f"✓ {label}"):
            return button
    raise AssertionError(f"no button '{label}' in {json.dumps(card_body)[:500]}")


def click_event(
    user: str,
    name: str,
    message: dict[str, Any],
    button: dict[str, Any],
    *,
    at: float | None = None,
    dialog: str | None = None,
    form_inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """CARD_CLICKED for ``button`` (as rendered) on ``message``; a dialog event when the button
    opens one (its OPEN_DIALOG interaction) or ``dialog`` names the dialog event type."""
    action = button["onClick"]["action"]
    parameters = {p["key"]: p["value"] for p in action.get("parameters") or []}
    kind = dialog or ("REQUEST_DIALOG" if action.get("interaction") == "OPEN_DIALOG" else None)
    space = direct_space(user)
    body: dict[str, Any] = {
        "type": "CARD_CLICKED",
        "eventTime": stamp(at),
        "space": space,
        "user": person(user, name),
        "message": {k: v for k, v in message.items() if k in ("name", "cardsV2", "space")},
        "action": {
            "actionMethodName": action["function"],
            "parameters": action.get("parameters") or [],
        },
        "common": {
            "hostApp": "CHAT",
            "invokedFunction": action["function"],
            "parameters": parameters,
        },
    }
    if form_inputs is not None:
        body["common"]["formInputs"] = form_inputs
    if kind:
        body["isDialogEvent"] = True
        body["dialogEventType"] = kind
    return body


def form_inputs(card_body: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The formInputs Chat sends for a form card: each input as shown, changed by ``values``
    (by name: text, an option's value, True/False for a checkbox). An unticked box is absent."""
    inputs: dict[str, Any] = {}
    for section in card_body.get("sections") or []:
        for widget in section.get("widgets") or []:
            if "textInput" in widget:
                field_ = widget["textInput"]
                value = values.get(field_["name"], field_.get("value", ""))
                inputs[field_["name"]] = {"stringInputs": {"value": [str(value)]}}
            elif "selectionInput" in widget:
                field_ = widget["selectionInput"]
                items = field_["items"]
                if field_["type"] == "CHECK_BOX":
                    ticked = values.get(field_["name"], items[0].get("selected", False))
                    if ticked:
                        inputs[field_["name"]] = {"stringInputs": {"value": [items[0]["value"]]}}
                    continue
                chosen = values.get(field_["name"])
                if chosen is None:
                    chosen = next((i["value"] for i in items if i.get("selected")), None)
                if chosen is not None:
                    inputs[field_["name"]] = {"stringInputs": {"value": [str(chosen)]}}
    return inputs


def submit_button(card_body: Any) -> dict[str, Any]:
    return buttons_in(card_body)[-1]


_TAGS = re.compile(r"<[^>]+>")


def readable_text(native: Any) -> str:
    """The words a person reads in a message body, dialog or card: titles, paragraphs, labels,
    button texts; card HTML shown as Chat shows it (tags dropped, entities decoded)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "subtitle", "topLabel", "label", "hintText", "value"):
                    if isinstance(value, str) and key != "value":
                        parts.append(html.unescape(_TAGS.sub("", value)))
                        continue
                    if key == "value" and isinstance(value, str) and "name" in node:
                        parts.append(value)  # a text input's current value
                        continue
                if key in ("parameters", "onClick", "fallbackText", "privateMessageViewer"):
                    continue
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(native)
    return "\n".join(p for p in parts if p).replace("\u200b", "")


MENTION = re.compile(r"<users/[^>]*>")
LINK = re.compile(r"<a\s|<https?:")


def pings(native: Any) -> list[str]:
    """Live mentions or links where Chat reads markup: card HTML (``textParagraph``,
    ``decoratedText``) and the message's text; escaped text never holds a raw '<' there.
    Titles, labels, button and option texts are plain text in cards v2. Markdown is not read
    in card HTML, so ``[label](url)`` there is just words."""
    found: list[str] = []

    def check(text: str, html_text: bool) -> None:
        found.extend(MENTION.findall(text))
        found.extend(LINK.findall(text))
        if html_text:
            found.extend(t for t in re.findall(r"<(?!/)[a-z][^>]*>", text) if t not in SAFE_TAGS)

    def walk(node: Any, formatted: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("textParagraph", "decoratedText"):
                    walk(value, True)
                elif key in ("text", "fallbackText") and isinstance(value, str):
                    check(value, formatted and key == "text")
                elif key in ("topLabel", "bottomLabel") and isinstance(value, str) and formatted:
                    check(value, True)
                else:
                    walk(value, False)
        elif isinstance(node, list):
            for value in node:
                walk(value, formatted)

    walk(native, False)
    return found


SAFE_TAGS = {"<b>", f'<font color="{FOOTER_COLOR}">'}


@dataclass
class ChatClient:
    """Sends events to the app as Google Chat does, with a token from the fake issuer."""

    url: str
    fake: FakeGoogleChat
    session: aiohttp.ClientSession
    audience: str = AUDIENCE
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def post(self, body: dict[str, Any], *, token: str | None = None) -> tuple[int, Any]:
        headers = {
            "Authorization": f"Bearer {token or self.fake.request_token(self.audience)}",
            "Content-Type": "application/json",
            "User-Agent": "Google-Dynamite",
        }
        async with self.session.post(self.url, data=json.dumps(body), headers=headers) as response:
            text = await response.text()
            answer = json.loads(text) if text.strip() else {}
        if response.status == 200 and isinstance(answer, dict) and answer:
            user = str((body.get("user") or {}).get("name"))
            self.answers.append((user, answer))
            self.fake.timeline.append(("answer", user, answer, body))
        return response.status, answer

    async def push(self, body: dict[str, Any], *, token: str | None = None) -> int:
        """A Pub/Sub push to the app's reactions endpoint."""
        url = self.url.replace(EVENTS_PATH, PUBSUB_PATH)
        token = token or self.fake.push_token(PUBSUB_AUDIENCE, PUBSUB_ACCOUNT)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with self.session.post(url, data=json.dumps(body), headers=headers) as response:
            return response.status


@dataclass
class GoogleChatStack(ChatClient):
    """The real application and server with Google Chat enabled against the fake."""

    app: Application = field(default=None)  # type: ignore[assignment]
    server: TestServer = field(default=None)  # type: ignore[assignment]

    async def settle(self) -> None:
        assert self.app.worker is not None
        for _ in range(3):
            await inbox_settled(self.app)
            await self.app.worker.drain(wait_for_retries=False)
            await asyncio.sleep(0.01)


@asynccontextmanager
async def google_chat_stack(settings: Settings, **extra_env: str) -> AsyncIterator[GoogleChatStack]:
    async with FakeGoogleChat() as fake:
        registry = AdapterRegistry([GoogleChatAdapterFactory()])
        async with open_application(
            google_chat_settings(settings, fake, **extra_env), registry=registry
        ) as app:
            server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as session:
                    url = f"http://127.0.0.1:{server.port}{EVENTS_PATH}"
                    yield GoogleChatStack(url, fake, session, app=app, server=server)
            finally:
                await server.close()
