"""Slack in the contract suite: slack-bolt behind the real server, every request signed with the
signing secret as Slack signs it (a forged signature and a timestamp older than Slack's five
minutes are really refused), and the fake Web API recording what the bot showed.

What a person sees in Slack comes from Web API calls (chat.postMessage, chat.update,
views.open/push, views.publish) and from posts to a request's response_url (ephemeral answers,
or the replaced message); only calls Slack accepted count as shown. Slack's "installed" for one
person is their first visit to the app's Messages tab (``app_home_opened``, tab ``messages``).
"""

from __future__ import annotations

import html
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from aiohttp import web

from adapters.slack.blocks import fallback_text, modal_view, render_blocks
from adapters.slack.escape import escape
from adapters.slack.parse import COMMANDS
from bot.config import Settings
from bot.messages import Form, Message
from bot.platform import DeliveryTarget, SendResult
from tests import slack_support
from tests.contract.harness import (
    COMMAND,
    EPHEMERAL,
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
    UPDATE_BY_API,
    PlatformHarness,
    PlatformSession,
    Recorder,
    Shown,
)
from tests.slack_fake import (
    MESSAGE_BLOCKS_MAX,
    TEXT_MAX,
    FakeSlack,
    InvalidPayload,
    _checked_view,
    _Failure,
    check_blocks,
    new_trigger_id,
)
from tests.slack_support import TEAM, SlackStack, slack_stack

# Slack names reactions by their short names, not the emoji.
EMOJI_NAMES = {"👍": "+1", "🎉": "tada", "❤️": "heart", "😂": "joy", "👎": "-1"}
# Slack refuses a request signed more than five minutes ago (replay protection).
STALE_SECONDS = 10 * 60
# Markup that notifies people or links in mrkdwn and in a message's text.
LIVE_MARKUP = ("<!", "<@", "<#", "<http", "<mailto")
# Words Slack turns into mentions itself in mrkdwn that is not ``verbatim``.
AUTO_MENTIONS = ("@channel", "@here", "@everyone")
_ids = itertools.count(1)


@dataclass(frozen=True)
class _Accepted:
    """One call Slack accepted, in the order the fake answered it."""

    method: str  # a Web API method, or "response_url"
    args: dict[str, Any]
    answer: dict[str, Any]
    hook: str | None = None


class _RecordingSlack(FakeSlack):
    """The fake Web API, logging each accepted call in order, and failing the next call of any
    method on demand (``fail_next`` on the fake is per method)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.accepted: list[_Accepted] = []
        self.any_failures: deque[_Failure] = deque()

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        self._log(request.match_info["method"], response, self.calls[-1].args, None)
        return response

    async def _hook(self, request: web.Request) -> web.Response:
        response = await super()._hook(request)
        call = self.calls[-1]
        self._log("response_url", response, call.args, call.hook)
        return response

    def _log(
        self, method: str, response: web.Response, args: dict[str, Any], hook: str | None
    ) -> None:
        if response.status != 200 or not isinstance(response.body, bytes):
            return
        answer = json.loads(response.body)
        if isinstance(answer, dict) and answer.get("ok"):
            self.accepted.append(_Accepted(method, args, answer, hook))

    def _take_failure(self, method: str) -> web.Response | None:
        if self.any_failures and method != "auth.test":
            self._failures.setdefault(method, deque()).appendleft(self.any_failures.popleft())
        return super()._take_failure(method)


class SlackSession(PlatformSession):
    def __init__(self, stack: SlackStack) -> None:
        self.stack = stack
        self.fake: _RecordingSlack = stack.fake  # type: ignore[assignment]
        self.app = stack.app
        self.recorder = Recorder().install(stack.app)
        self._forgotten = 0
        self._people: dict[str, str] = {}  # user id -> name
        self._triggers: dict[str, str] = {}  # trigger id -> user id
        self._hooks: dict[str, tuple[str, str | None]] = {}  # hook -> user id, card pressed
        self._deliveries: dict[str, int] = {}  # delivery id -> times sent (X-Slack-Retry-Num)

    # ----- people -----------------------------------------------------------------------------

    def server_url(self) -> str:
        parts = urlsplit(self.stack.url)
        return f"{parts.scheme}://{parts.netloc}"

    def user_id(self, person: str) -> str:
        uid = "U" + person.upper()
        if uid not in self._people:
            self._people[uid] = person
            self.fake.add_user(uid, real_name=person.capitalize())
        return uid

    def _name(self, channel_or_user: str) -> str:
        uid = channel_or_user[1:] if channel_or_user.startswith("D") else channel_or_user
        return self._people.get(uid, channel_or_user)

    def _trigger(self, person: str, delivery_id: str | None) -> str:
        trigger = f"trigger-{delivery_id}" if delivery_id else new_trigger_id()
        self._triggers[trigger] = self.user_id(person)
        return trigger

    def _hook(self, person: str, card: str | None = None) -> str:
        name = f"h{next(_ids):06d}"
        self._hooks[name] = (self.user_id(person), card)
        return self.fake.response_url(name)

    def _retry_headers(self, delivery_id: str | None) -> dict[str, str]:
        """Slack redelivers an event with the same event_id and says which retry it is."""
        if not delivery_id:
            return {}
        sent = self._deliveries.get(delivery_id, 0)
        self._deliveries[delivery_id] = sent + 1
        return (
            {"X-Slack-Retry-Num": str(sent), "X-Slack-Retry-Reason": "http_timeout"} if sent else {}
        )

    # ----- what a person does -----------------------------------------------------------------

    async def _event(self, event: dict[str, Any], delivery_id: str | None, **kwargs: Any) -> int:
        status, _ = await self.stack.event(
            {"event_ts": f"{time.time():.6f}", **event},
            event_id=delivery_id,
            headers=self._retry_headers(delivery_id),
            **kwargs,
        )
        return status

    async def say(self, person: str, text: str, *, delivery_id: str | None = None) -> int:
        uid = self.user_id(person)
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "D" + uid,
            "user": uid,
            "team": TEAM,
            "text": escape(text),  # Slack sends &, < and > as entities
            "ts": f"{time.time():.6f}",
        }
        return await self._event(event, delivery_id)

    async def command(
        self, person: str, name: str, text: str, *, delivery_id: str | None = None
    ) -> int:
        """A slash command; Slack never redelivers one, but its trigger id is unique, so the
        same invocation sent again names the same trigger."""
        uid = self.user_id(person)
        # The app's own commands are /suggest, /voice and /advocacy; any other is a word of
        # /advocacy (as "/advocacy prefs").
        name = name.lstrip("/")
        if "/" + name not in COMMANDS:
            name, text = "advocacy", f"{name} {text}".strip()
        status, _ = await self.stack.command(
            "/" + name,
            escape(text),
            uid,
            channel_id="D" + uid,
            channel_name="directmessage",
            trigger_id=self._trigger(person, delivery_id),
            response_url=self._hook(person),
        )
        return status

    async def press(
        self, person: str, ref: str, label: str, *, delivery_id: str | None = None
    ) -> int:
        blocks = self._current_blocks(ref)
        buttons = [b for b in _elements(blocks) if _text(b.get("text")) == label]
        assert buttons, f"no button {label!r} on the card {ref}"
        button = buttons[0]
        uid = self.user_id(person)
        channel, _, ts = ref.partition(":")
        payload = {
            "type": "block_actions",
            "user": {"id": uid, "team_id": TEAM},
            "team": {"id": TEAM, "domain": "fake"},
            "api_app_id": "A0001",
            "trigger_id": self._trigger(person, delivery_id),
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "channel": {"id": channel},
            "message": {"ts": ts, "type": "message", "text": "", "blocks": blocks},
            "response_url": self._hook(person, ref),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "b",
                    "value": button.get("value", ""),
                    "text": button["text"],
                    # A retried press carries the same action_ts.
                    "action_ts": f"{1_700_000_000 + _number(delivery_id)}.000001"
                    if delivery_id
                    else f"{time.time():.6f}",
                }
            ],
        }
        status, _ = await self.stack.interaction(payload)
        return status

    async def submit(
        self, person: str, values: dict[str, Any], *, delivery_id: str | None = None
    ) -> int:
        forms = [s for s in self.shown(person) if s.kind == "form"]
        assert forms, f"no form was shown to {person}"
        view = forms[-1].native
        filled = {**_initial_values(view), **values}
        payload = slack_support.view_submission(self.user_id(person), view, filled)
        if delivery_id:  # the same view, the same answers: one submission pressed twice
            payload["view"]["hash"] = delivery_id
            payload["trigger_id"] = f"trigger-{delivery_id}"
        status, _ = await self.stack.interaction(payload)
        return status

    async def react(
        self,
        person: str,
        ref: str,
        emoji: str,
        *,
        added: bool = True,
        delivery_id: str | None = None,
    ) -> int:
        channel, _, ts = ref.partition(":")
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": self.user_id(person),
            "reaction": EMOJI_NAMES.get(emoji, emoji.strip(":")),
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": self.fake.bot_user_id,
        }
        return await self._event(event, delivery_id)

    async def install(self, person: str, *, delivery_id: str | None = None) -> int:
        """The person opens the app's Messages tab for the first time."""
        return await self._tab(person, "messages", delivery_id)

    async def open_home(self, person: str, *, delivery_id: str | None = None) -> int:
        return await self._tab(person, "home", delivery_id)

    async def _tab(self, person: str, tab: str, delivery_id: str | None) -> int:
        uid = self.user_id(person)
        event = {"type": "app_home_opened", "user": uid, "channel": "D" + uid, "tab": tab}
        return await self._event(event, delivery_id)

    async def forged(self) -> int:
        status, _ = await self.stack.event(self._hello("mallory"), secret="not-the-secret")
        return status

    async def expired(self) -> int:
        stale = int(time.time()) - STALE_SECONDS
        status, _ = await self.stack.event(self._hello("mallory"), timestamp=stale)
        return status

    def _hello(self, person: str) -> dict[str, Any]:
        uid = self.user_id(person)
        return {
            "type": "message",
            "channel_type": "im",
            "channel": "D" + uid,
            "user": uid,
            "text": "hi",
            "ts": f"{time.time():.6f}",
        }

    async def settle(self) -> None:
        await self.stack.settle()

    # ----- what the platform shows ------------------------------------------------------------

    def shown(self, person: str | None = None) -> list[Shown]:
        found = []
        for call in self.fake.accepted[self._forgotten :]:
            shown = self._shown(call)
            if shown is not None and (person is None or shown.to == person):
                found.append(shown)
        return found

    def _shown(self, call: _Accepted) -> Shown | None:
        args, answer = call.args, call.answer
        if call.method == "chat.postMessage":
            ref = f"{answer['channel']}:{answer['ts']}"
            native = {"text": args.get("text"), "blocks": args.get("blocks") or []}
            return Shown(
                "message", self._name(answer["channel"]), self.readable_text(native), native, ref
            )
        if call.method == "chat.update":
            ref = f"{args['channel']}:{args['ts']}"
            native = {"text": args.get("text"), "blocks": args.get("blocks") or []}
            return Shown(
                "update", self._name(args["channel"]), self.readable_text(native), native, ref
            )
        if call.method == "chat.postEphemeral":
            native = {"text": args.get("text"), "blocks": args.get("blocks") or []}
            return Shown("ephemeral", self._name(args["user"]), self.readable_text(native), native)
        if call.method in ("views.open", "views.push"):
            view = answer["view"]
            to = self._name(self._triggers.get(str(args.get("trigger_id")), ""))
            return Shown("form", to, self.readable_text(view), view, view["id"])
        if call.method == "views.publish":
            view = args["view"]
            return Shown("home", self._name(args["user_id"]), self.readable_text(view), view)
        if call.method == "response_url":
            uid, card = self._hooks.get(call.hook or "", ("", None))
            native = {"text": args.get("text"), "blocks": args.get("blocks") or []}
            kind = "update" if args.get("replace_original") else "ephemeral"
            return Shown(
                kind,
                self._name(uid),
                self.readable_text(native),
                native,
                card if kind == "update" else None,
            )
        return None

    def forget(self) -> None:
        self._forgotten = len(self.fake.accepted)

    def _current_blocks(self, ref: str) -> list[dict[str, Any]]:
        """The card as the person now sees it: as posted, or as last updated."""
        channel, _, ts = ref.partition(":")
        for stored in self.fake.messages.get(channel, []):
            if stored["ts"] == ts:
                return list(stored["blocks"])
        raise AssertionError(f"no card was shown as {ref}")

    async def send(self, person: str, message: Message, *, sealed: bool = False) -> SendResult:
        target = DeliveryTarget(0, "slack", self.user_id(person), sealed=sealed)
        return await self.app.adapters["slack"].send(target, message)

    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        """Slack answers a refusal with HTTP 200 and ``ok: false`` and the reason (a 403 is
        Slack's ``restricted_action``); a 429 carries Retry-After in whole seconds."""
        if status == 429:
            wait = int(retry_after) if retry_after is not None else 1
            self.fake.any_failures.append(_Failure(429, "ratelimited", wait))
        elif status in (401, 403):
            error = "invalid_auth" if status == 401 else "restricted_action"
            self.fake.any_failures.append(_Failure(200, error, None))
        else:
            self.fake.any_failures.append(_Failure(status, None, None))

    # ----- rendering ---------------------------------------------------------------------------

    def render(self, message: Message) -> Any:
        return {"text": fallback_text(message), "blocks": render_blocks(message)}

    def render_form(self, form: Form) -> Any:
        return modal_view(form)

    def limit_problems(self, native: Any) -> list[str]:
        try:
            if native.get("type") in ("modal", "home"):
                _checked_view(native, expected_type=native["type"])
                check_blocks(native["blocks"], limit=None, pointer="/view/blocks")
            else:
                if len(native.get("text") or "") > TEXT_MAX:
                    return ["msg_too_long"]
                check_blocks(native["blocks"], limit=MESSAGE_BLOCKS_MAX)
        except InvalidPayload as invalid:
            return [invalid.error, *invalid.messages]
        return []

    def readable_text(self, native: Any) -> str:
        texts: list[str] = []
        _collect(native, texts)
        return html.unescape("\n".join(texts))

    def pings(self, native: Any) -> list[str]:
        found: list[str] = []
        top = native.get("text") if isinstance(native, dict) else None
        if isinstance(top, str):
            found.extend(f"message text {m!r}" for m in LIVE_MARKUP if m in top)
        _pings(native.get("blocks") if isinstance(native, dict) else native, found)
        return found


def _number(delivery_id: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(delivery_id)) % 100_000_000


def _text(node: Any) -> str:
    return str(node.get("text", "")) if isinstance(node, dict) else str(node or "")


def _elements(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every interactive element on a card, in order."""
    found = []
    for block in blocks:
        found.extend(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            found.append(block["accessory"])
    return [e for e in found if isinstance(e, dict) and e.get("type") == "button"]


def _collect(node: Any, texts: list[str]) -> None:
    """Every text a person reads, in order: titles, labels, sections, options, buttons."""
    if isinstance(node, dict):
        kind = node.get("type")
        if kind in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            texts.append(node["text"])
            return
        if "blocks" in node and "text" in node and isinstance(node.get("text"), str):
            if not node["blocks"]:
                texts.append(node["text"])  # a message without blocks shows its text
            _collect(node["blocks"], texts)
            return
        for key, value in node.items():
            if key not in ("private_metadata", "value", "action_id", "block_id", "url"):
                _collect(value, texts)
    elif isinstance(node, list):
        for item in node:
            _collect(item, texts)


def _pings(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            text = node["text"]
            found.extend(f"mrkdwn {m!r}" for m in LIVE_MARKUP if m in text)
            if not node.get("verbatim"):
                found.extend(f"auto-linked {m!r}" for m in AUTO_MENTIONS if m in text)
            return
        for value in node.values():
            _pings(value, found)
    elif isinstance(node, list):
        for item in node:
            _pings(item, found)


def _initial_values(view: dict[str, Any]) -> dict[str, Any]:
    """What a modal submits for the fields a person leaves alone: their initial values."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        kind = element.get("type")
        if kind == "plain_text_input" and element.get("initial_value"):
            values[block["block_id"]] = element["initial_value"]
        elif kind == "static_select" and element.get("initial_option"):
            values[block["block_id"]] = element["initial_option"]["value"]
        elif kind == "checkboxes":
            values[block["block_id"]] = bool(element.get("initial_options"))
    return values


class SlackHarness(PlatformHarness):
    platform: ClassVar[str] = "slack"
    supports: ClassVar[frozenset[str]] = frozenset(
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

    @asynccontextmanager
    async def running(self, settings: Settings) -> AsyncIterator[PlatformSession]:
        async with slack_stack(settings, ideas_channel=False, fake_class=_RecordingSlack) as stack:
            yield SlackSession(stack)


HARNESS = SlackHarness()
