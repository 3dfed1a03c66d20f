"""A fake of Slack's Web API: a real aiohttp server on loopback that answers like Slack.

Why: the Slack adapter must be tested end to end through the real ``slack_sdk`` client, over real
HTTP, without reaching slack.com. Point the adapter at ``SLACK_API_URL=fake.api_url`` and the
fake records every call, keeps the state Slack would keep (messages, views), refuses what Slack
would refuse (bad tokens, invalid Block Kit, too many messages per second) and fails on demand
(``fail_next``) the way Slack fails (HTTP 429 with Retry-After, HTTP 5xx).

Throttling and failures for delivery tests and benchmarks (does the bot's outbox deliver every
message exactly once when Slack pushes back?):

* Slack's published chat.postMessage limit: "one message per second per channel, while also
  maintaining a workspace-wide limit". ``channel_rate_limit`` (messages a second per channel) and
  ``workspace_rate_limit``/``workspace_burst`` (a token bucket for the whole workspace) are
  checked together; a call either refuses is answered HTTP 429 + ``Retry-After`` (whole seconds
  until it would pass, at least 1), is not stored and takes nothing from the other limit.
  ``rate_limited_count`` counts these refusals.
* ``inject_faults`` makes a seeded random share of calls fail: 429, a plain HTTP 500, or a
  "timeout" (held longer than the client waits, then HTTP 503). ``fault_counts`` counts them by
  kind; a faulted call is never carried out.
* ``posted_counts``/``duplicates``: what was accepted, per channel, to compare with what the
  client believes it delivered.

What slack_sdk's models check by themselves (found by experiment with slack_sdk 3.47):

* ``Block.parse`` returns ``None`` (and only logs a warning) for an unknown block type, a block
  without ``type`` or a non-object; unknown element types inside ``actions`` become ``None`` and
  an unknown ``accessory`` is dropped silently. So the fake rejects ``None`` and anything lost.
* A missing required field is caught in two different places: constructor arguments raise
  ``TypeError`` at parse time (button without ``text``, image without ``alt_text``); others are
  caught by ``validate_json`` (section without ``text``/``fields``, header without ``text``).
* ``validate_json`` is SHALLOW: it checks the block's own attributes (section text <= 3000,
  header text <= 150, block_id <= 255, section fields <= 10, actions elements <= 25) but not the
  elements inside it. A 76-character button label, a 256-character action_id, a 2001-character
  button value or a 3001-character url pass ``validate_json`` on the enclosing actions/section
  block; ``to_dict()`` validates recursively and catches all four, so the fake calls ``to_dict()``.
* ``View.validate_json`` checks modal title <= 24 characters, 1..100 blocks, no submit/close on a
  home tab, the view type; it does not validate the blocks inside the view at all.
* Not checked by slack_sdk, so added here: at most 50 blocks in a message; header text, button
  text, input label/hint and placeholders must be ``plain_text`` (slack_sdk accepts ``mrkdwn``);
  a modal needs a title, and a submit button when it holds an input block; a view needs blocks.
* Silently "repaired" by slack_sdk (so Slack would see something different from what was sent):
  unknown properties are dropped, an unknown text object type becomes ``mrkdwn``, a bare string
  becomes a text object, empty strings/arrays are dropped (e.g. an empty context block). The fake
  compares the parsed-and-rendered block with what was sent and rejects any difference. Caveat:
  a property Slack knows but this slack_sdk version does not would be rejected too.

Simplifications, on purpose: any user id is a known user except ids starting with ``UGONE``
(answered ``user_not_found``); every accepted token belongs to the same bot; chat.getPermalink
does not check that the message exists; response_url payloads that Slack would refuse are answered
HTTP 400 with ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import itertools
import json
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.typedefs import Handler as RequestHandler
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.fake_server import LoopbackServer

MESSAGE_BLOCKS_MAX = 50  # Slack's limit for a message; slack_sdk checks nothing per message
USERS_LIST_DEFAULT_LIMIT = 100
USERS_LIST_MAX_LIMIT = 1000
TEXT_MAX = 40_000  # chat.postMessage answers msg_too_long above this
# Arguments Slack accepts as JSON strings in form-encoded bodies.
JSON_ARGUMENTS = frozenset({"blocks", "view", "attachments", "metadata"})
# Slack-style ts values: micro-seconds counted from this instant, 100 apart.
TS_EPOCH_MICROS = 1_700_000_000 * 1_000_000
_STATUSES = {status.value for status in HTTPStatus}
# What inject_faults can make a call do (see FaultPlan).
FAULT_KINDS = ("429", "500", "timeout")

Answer = dict[str, Any] | web.Response
Handler = Callable[[dict[str, Any]], Answer]


@dataclass
class Call:
    """One request the fake received."""

    method: str  # e.g. "chat.postMessage", or "response_url" for POSTs to response_url()
    args: dict[str, Any]  # decoded arguments, without "token"
    token: str | None  # from "Authorization: Bearer" or a form/query `token` argument
    hook: str | None = None  # the response_url name, for method == "response_url"


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None


@dataclass
class FaultPlan:
    """Which calls fail at random, and how: each call to one of ``targets`` fails with
    probability ``ratio``, with a kind drawn uniformly from ``kinds``. Seeded, so a failing run
    can be replayed: the same calls in the same order fail the same way.

    Shared with tests/teams_fake.py, whose targets are connector operations ("send", ...)."""

    ratio: float
    kinds: tuple[str, ...]
    targets: frozenset[str]
    hang_seconds: float
    rng: random.Random

    @classmethod
    def build(
        cls,
        ratio: float,
        *,
        kinds: Iterable[str],
        targets: Iterable[str],
        seed: int | None,
        hang_seconds: float,
    ) -> FaultPlan:
        kinds = tuple(kinds)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"ratio must be between 0 and 1, not {ratio}")
        if not kinds or not set(kinds) <= set(FAULT_KINDS):
            raise ValueError(f"kinds must be some of {FAULT_KINDS}, not {kinds}")
        if hang_seconds < 0:
            raise ValueError("hang_seconds must not be negative")
        return cls(ratio, kinds, frozenset(targets), hang_seconds, random.Random(seed))

    def draw(self, target: str) -> str | None:
        """The fault for this call, or None; draws only for targeted calls."""
        if target not in self.targets or self.rng.random() >= self.ratio:
            return None
        return self.rng.choice(self.kinds)


# Slack lets a trigger_id open a modal within 3 seconds of the interaction that carried it.
TRIGGER_LIFETIME_SECONDS = 3.0
_triggers_issued: dict[str, float] = {}
_trigger_counter = itertools.count(1)


def new_trigger_id() -> str:
    """A trigger_id as Slack puts in an interaction, remembered with when it was issued (for the
    fake in this process to refuse it after TRIGGER_LIFETIME_SECONDS)."""
    trigger = f"{int(time.time())}.{next(_trigger_counter):06d}.{random.getrandbits(64):016x}"
    _triggers_issued[trigger] = time.monotonic()
    return trigger


class InvalidPayload(Exception):
    """A payload Slack would refuse; ``messages`` are Slack-style "[ERROR] ..." lines."""

    def __init__(self, error: str, messages: list[str]) -> None:
        super().__init__(f"{error}: {'; '.join(messages)}")
        self.error = error
        self.messages = messages


class FakeSlack(LoopbackServer):
    """Slack's Web API on 127.0.0.1, following Slack's published contract for the methods the bot
    uses. Use as ``async with FakeSlack() as fake:`` or call ``start()``/``close()``."""

    def __init__(
        self, *, team_id: str = "T0001", bot_user_id: str = "UBOT", bot_token: str = "xoxb-test"
    ) -> None:
        super().__init__()
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = "B0001"
        self.bot_token = bot_token
        self.tokens: set[str] = {bot_token}
        self.api_url = ""
        self.base_url = ""
        self.calls: list[Call] = []
        # The client end (address, port) of every connection a request came on: a client that
        # keeps its connections alive shows few, one that opens one a call as many as calls.
        self.connections: set[tuple[str, int]] = set()
        self.users: dict[str, dict[str, Any]] = {}
        # Each user's language (``locale``, "en-US"): Slack adds it to a user object only when
        # the call asks with include_locale.
        self.locales: dict[str, str] = {}
        self.channel_rate_limit: float | None = None  # chat.postMessage per second per channel
        # chat.postMessage for the whole workspace: a token bucket of workspace_burst tokens,
        # refilled at workspace_rate_limit tokens a second.
        self.workspace_rate_limit: float | None = None
        self.workspace_burst: int = 1
        self.rate_limited_count = 0  # 429s answered by the two limits above
        # When each chat.postMessage was accepted (time.monotonic), for benchmarks' sending span.
        self.posted_at: list[float] = []
        self.fault_counts: Counter[str] = Counter()  # injected faults answered, by kind
        # Seconds a method takes to answer, to play a slow Slack (method name -> delay).
        self.delays: dict[str, float] = {}
        # Methods whose answer has been sent, in order (a call is recorded on arrival).
        self.answered: list[str] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.published_views: dict[str, dict[str, Any]] = {}
        self.opened_views: list[dict[str, Any]] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._last_post: dict[str, float] = {}  # channel -> monotonic time of the last post
        self._workspace_bucket: tuple[float, float] | None = None  # (tokens, monotonic time)
        self._posted: Counter[str] = Counter()  # channel -> accepted chat.postMessage calls
        self._faults: FaultPlan | None = None
        self._closing = asyncio.Event()  # wakes calls held by a "timeout" fault
        self._ts_counter = itertools.count(1)
        self._view_counter = itertools.count(1)
        self._views: dict[str, dict[str, Any]] = {}  # view id -> the view as sent (shared dict)
        self._view_hashes: dict[str, str] = {}
        self._home_view_ids: dict[str, str] = {}  # user id -> id of the published home view
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "oauth.v2.access": self._oauth_v2_access,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._note_connection])
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/hooks/{name}", self._hook)
        return app

    async def start(self) -> None:
        self._closing = asyncio.Event()
        await super().start()
        self.base_url = self.url
        self.api_url = f"{self.base_url}/api/"

    async def close(self) -> None:
        # aiohttp's cleanup waits for requests in flight: let held ones answer now.
        self._closing.set()
        await super().close()

    # -- test helpers --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "Europe/Paris",
        locale: str = "en-US",
        is_bot: bool = False,
        deleted: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
    ) -> dict[str, Any]:
        """Add a user object shaped like Slack's (users.info / users.list) and return it."""
        name = name or user_id.lower()
        real_name = real_name or name
        offset = ZoneInfo(tz).utcoffset(datetime.now(UTC))
        profile: dict[str, Any] = {
            "real_name": real_name,
            "display_name": name,
            "real_name_normalized": real_name,
            "display_name_normalized": name,
            "team": self.team_id,
        }
        if not is_bot:
            profile["email"] = f"{name}@example.com"
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": profile,
        }
        self.users[user_id] = user
        self.locales[user_id] = locale
        return user

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (before authentication is checked)."""
        queue = self._failures.setdefault(method, deque())
        queue.extend(_Failure(status, error, retry_after) for _ in range(times))

    def inject_faults(
        self,
        ratio: float,
        *,
        kinds: Iterable[str] = FAULT_KINDS,
        methods: Iterable[str] = ("chat.postMessage",),
        seed: int | None = None,
        hang_seconds: float = 5.0,
    ) -> None:
        """Make a random share ``ratio`` of the calls to ``methods`` fail (``ratio=0`` stops).

        Each faulted call gets a kind drawn uniformly from ``kinds``: "429" (Retry-After: 1,
        ``ratelimited``), "500" (plain text, as ``fail_next`` answers it) or "timeout" (held for
        ``hang_seconds``, longer than the client should wait, then HTTP 503). A faulted call is
        not carried out (no message stored) and is counted in ``fault_counts``. Queued
        ``fail_next`` failures come first; "response_url" targets POSTs to response_url()."""
        plan = FaultPlan.build(
            ratio, kinds=kinds, targets=methods, seed=seed, hang_seconds=hang_seconds
        )
        self._faults = plan if ratio > 0 else None

    def posted_counts(self) -> dict[str, int]:
        """Accepted chat.postMessage calls per channel (DMs under their "D..." id)."""
        return dict(self._posted)

    def duplicates(self) -> dict[str, int]:
        """For runs that should post once per channel: the extra messages per channel."""
        return {channel: count - 1 for channel, count in self._posted.items() if count > 1}

    def response_url(self, name: str = "r") -> str:
        return f"{self.base_url}/hooks/{name}"

    # -- HTTP plumbing -------------------------------------------------------------------------

    @web.middleware
    async def _note_connection(
        self, request: web.Request, handler: RequestHandler
    ) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.connections.add((str(peer[0]), int(peer[1])))
        return await handler(request)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args, token, basic = await _decode(request)
        except ValueError:
            self.calls.append(Call(method, {}, _bearer(request)))
            return _error("invalid_json")
        self.calls.append(Call(method, args, token))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        try:
            return await self._answer(method, request, args, token, basic)
        finally:
            self.answered.append(method)

    async def _answer(
        self,
        method: str,
        request: web.Request,
        args: dict[str, Any],
        token: str | None,
        basic: dict[str, str],
    ) -> web.Response:
        failure = self._take_failure(method)
        if failure is None:
            failure = await self._injected_fault(method)
        if failure is not None:
            return failure
        handler = self._handlers.get(method)
        if handler is None:
            return _error("unknown_method")
        if method == "oauth.v2.access":
            args = {**basic, **args}  # client_id/client_secret may come as HTTP basic auth
        elif token is None:
            return _error("not_authed")
        elif token not in self.tokens:
            return _error("invalid_auth")
        try:
            answer = handler(args)
        except InvalidPayload as invalid:
            return _error(invalid.error, invalid.messages)
        return answer if isinstance(answer, web.Response) else web.json_response(answer)

    async def _hook(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            payload = await request.json()
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            self.calls.append(Call("response_url", {}, None, hook=name))
            return _error("invalid_payload", status=400)
        payload = _decode_json_arguments(payload)
        self.calls.append(Call("response_url", payload, None, hook=name))
        failure = self._take_failure("response_url")
        if failure is None:
            failure = await self._injected_fault("response_url")
        if failure is not None:
            return failure
        if not (payload.get("text") or payload.get("blocks") or payload.get("delete_original")):
            return _error("no_text", status=400)
        try:
            if "blocks" in payload:
                check_blocks(payload["blocks"], limit=MESSAGE_BLOCKS_MAX)
        except InvalidPayload as invalid:
            return _error(invalid.error, invalid.messages, status=400)
        return web.json_response({"ok": True})

    def _take_failure(self, method: str) -> web.Response | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue.popleft()
        if failure.status == 429:
            retry_after = failure.retry_after if failure.retry_after is not None else 1
            return _rate_limited(retry_after, failure.error or "ratelimited")
        if failure.status >= 500:
            reason = HTTPStatus(failure.status).phrase if failure.status in _STATUSES else "Error"
            return web.Response(status=failure.status, text=reason)
        return _error(failure.error or "internal_error", status=failure.status)

    async def _injected_fault(self, method: str) -> web.Response | None:
        plan = self._faults
        kind = plan.draw(method) if plan is not None else None
        if plan is None or kind is None:
            return None
        self.fault_counts[kind] += 1
        if kind == "429":
            return _rate_limited(1, "ratelimited")
        if kind == "500":
            return web.Response(status=500, text=HTTPStatus(500).phrase)
        # A Slack that does not answer in time: the client gives up first; whatever comes later
        # (a 503 here) must not count as delivered.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), plan.hang_seconds)
        return web.Response(status=503, text=HTTPStatus(503).phrase)

    def _next_ts(self) -> str:
        micros = TS_EPOCH_MICROS + next(self._ts_counter) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # -- methods -------------------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> Answer:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake team",
            "team_id": self.team_id,
            "user": "bot",
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    def _resolve_channel(self, channel: Any) -> str:
        """A user id means the bot's DM with that user (stable "D" + user id), as in Slack."""
        if not isinstance(channel, str) or not channel:
            raise InvalidPayload("channel_not_found", [])
        if channel[0] in "UW":
            self._check_user(channel)
            if self.users.get(channel, {}).get("is_bot"):
                raise InvalidPayload("cannot_dm_bot", [])
            return "D" + channel
        if channel[0] in "CDG":
            return channel
        raise InvalidPayload("channel_not_found", [])

    def _check_user(self, user_id: Any) -> None:
        if not isinstance(user_id, str) or not user_id or user_id.startswith("UGONE"):
            raise InvalidPayload("user_not_found", [])

    def _check_message_content(self, args: dict[str, Any]) -> None:
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks and not args.get("attachments"):
            raise InvalidPayload("no_text", [])
        if isinstance(text, str) and len(text) > TEXT_MAX:
            raise InvalidPayload("msg_too_long", [])
        if blocks is not None:
            check_blocks(blocks, limit=MESSAGE_BLOCKS_MAX)

    def _message_object(self, stored: dict[str, Any]) -> dict[str, Any]:
        message = {
            "type": "message",
            "user": stored["user"],
            "bot_id": self.bot_id,
            "team": self.team_id,
            "text": stored["text"],
            "ts": stored["ts"],
        }
        if stored["blocks"]:
            message["blocks"] = stored["blocks"]
        if "thread_ts" in stored:
            message["thread_ts"] = stored["thread_ts"]
        return message

    def _chat_post_message(self, args: dict[str, Any]) -> Answer:
        channel = self._resolve_channel(args.get("channel"))
        self._check_message_content(args)
        limited = self._post_rate_limited(channel)
        if limited is not None:
            return limited
        stored: dict[str, Any] = {
            "ts": self._next_ts(),
            "channel": channel,
            "text": args.get("text") or "",
            "blocks": copy.deepcopy(args.get("blocks") or []),
            "user": self.bot_user_id,
        }
        if args.get("thread_ts"):
            stored["thread_ts"] = args["thread_ts"]
        self.messages.setdefault(channel, []).append(stored)
        self._posted[channel] += 1
        self.posted_at.append(time.monotonic())
        return {
            "ok": True,
            "channel": channel,
            "ts": stored["ts"],
            "message": self._message_object(stored),
        }

    def _post_rate_limited(self, channel: str) -> web.Response | None:
        """Slack's two chat.postMessage limits, per channel and per workspace. Both are checked
        before either is charged, so a call refused by one takes nothing from the other."""
        now = time.monotonic()
        wait = max(self._channel_wait(channel, now), self._workspace_wait(now))
        if wait > 0:
            self.rate_limited_count += 1
            return _rate_limited(max(1, math.ceil(wait)), "ratelimited")
        self._last_post[channel] = now
        if self.workspace_rate_limit and self._workspace_bucket is not None:
            tokens, at = self._workspace_bucket
            self._workspace_bucket = (tokens - 1.0, at)
        return None

    def _channel_wait(self, channel: str, now: float) -> float:
        """Seconds until the channel may take a message: about one a second, bursts aside."""
        if not self.channel_rate_limit:
            return 0.0
        interval = 1.0 / self.channel_rate_limit
        last = self._last_post.get(channel)
        if last is None or now - last >= interval:
            return 0.0
        return interval - (now - last)

    def _workspace_wait(self, now: float) -> float:
        """Seconds until the workspace bucket holds a token (refilling it up to now)."""
        rate = self.workspace_rate_limit
        if not rate:
            return 0.0
        capacity = float(max(1, self.workspace_burst))
        tokens, at = self._workspace_bucket or (capacity, now)
        tokens = min(capacity, tokens + (now - at) * rate)
        self._workspace_bucket = (tokens, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate

    def _chat_update(self, args: dict[str, Any]) -> Answer:
        channel, ts = args.get("channel"), args.get("ts")
        if not channel:
            raise InvalidPayload("channel_not_found", [])
        self._check_message_content(args)
        for stored in self.messages.get(channel, []):
            if stored["ts"] == ts:
                break
        else:
            raise InvalidPayload("message_not_found", [])
        if "text" in args:
            stored["text"] = args["text"] or ""
        if "blocks" in args:  # as in Slack: omitted blocks are kept, an empty list removes them
            stored["blocks"] = copy.deepcopy(args["blocks"] or [])
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": stored["text"],
            "message": self._message_object(stored),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> Answer:
        self._resolve_channel(args.get("channel"))
        self._check_user(args.get("user"))
        self._check_message_content(args)
        message_ts = self._next_ts()
        self.ephemeral.append({**copy.deepcopy(args), "message_ts": message_ts})
        return {"ok": True, "message_ts": message_ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> Answer:
        channel, ts = args.get("channel"), args.get("message_ts")
        if not channel:
            raise InvalidPayload("channel_not_found", [])
        if not ts:
            raise InvalidPayload("message_not_found", [])
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _conversations_open(self, args: dict[str, Any]) -> Answer:
        if args.get("channel"):
            return {"ok": True, "channel": {"id": args["channel"]}}
        users = args.get("users")
        ids = users if isinstance(users, list) else str(users or "").split(",")
        ids = [user.strip() for user in ids if user.strip()]
        if not ids:
            raise InvalidPayload("users_list_not_supplied", [])
        for user in ids:
            self._check_user(user)
        if len(ids) == 1:
            channel = "D" + ids[0]
            already_open = channel in self.messages
            return {"ok": True, "already_open": already_open, "channel": {"id": channel}}
        return {"ok": True, "channel": {"id": "G" + "".join(sorted(ids))}}

    def _users_info(self, args: dict[str, Any]) -> Answer:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            raise InvalidPayload("user_not_found", [])
        return {"ok": True, "user": self._with_locale(user, args)}

    def _with_locale(self, user: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        """The user object, with ``locale`` when the call set include_locale (as Slack does)."""
        if not _truthy(args.get("include_locale")) or user["id"] not in self.locales:
            return user
        return {**user, "locale": self.locales[user["id"]]}

    def _users_list(self, args: dict[str, Any]) -> Answer:
        try:
            limit = int(args.get("limit") or USERS_LIST_DEFAULT_LIMIT)
        except (TypeError, ValueError):
            raise InvalidPayload("invalid_arguments", ["[ERROR] limit must be a number"]) from None
        limit = min(max(limit, 1), USERS_LIST_MAX_LIMIT)
        start = _decode_cursor(args.get("cursor"))
        members = list(self.users.values())
        if start > len(members):
            raise InvalidPayload("invalid_cursor", [])
        page = [self._with_locale(user, args) for user in members[start : start + limit]]
        end = start + len(page)
        next_cursor = _encode_cursor(end) if end < len(members) else ""
        return {
            "ok": True,
            "members": page,
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    # -- views ---------------------------------------------------------------------------------

    def _new_view(self, view: dict[str, Any]) -> dict[str, Any]:
        view_id = f"V{next(self._view_counter):010d}"
        self._views[view_id] = view
        return self._view_answer(view_id)

    def _view_answer(self, view_id: str) -> dict[str, Any]:
        view_hash = f"{int(time.time())}.{next(self._view_counter)}"
        self._view_hashes[view_id] = view_hash
        view = self._views[view_id]
        return {
            "ok": True,
            "view": {
                **view,
                "id": view_id,
                "team_id": self.team_id,
                "bot_id": self.bot_id,
                "hash": view_hash,
            },
        }

    def _views_open(self, args: dict[str, Any]) -> Answer:
        if not args.get("trigger_id"):
            raise _missing("trigger_id")
        issued = _triggers_issued.get(args["trigger_id"])
        if issued is not None and time.monotonic() - issued > TRIGGER_LIFETIME_SECONDS:
            raise InvalidPayload("expired_trigger_id", [])
        view = _checked_view(args.get("view"), expected_type="modal")
        self.opened_views.append(view)
        return self._new_view(view)

    def _views_push(self, args: dict[str, Any]) -> Answer:
        return self._views_open(args)

    def _views_update(self, args: dict[str, Any]) -> Answer:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (
                    key
                    for key, v in self._views.items()
                    if v.get("external_id") == args["external_id"]
                ),
                None,
            )
        elif not view_id:
            raise _missing("view_id")
        if view_id not in self._views:
            raise InvalidPayload("not_found", [])
        if args.get("hash") and args["hash"] != self._view_hashes.get(view_id):
            raise InvalidPayload("hash_conflict", [])
        stored = self._views[view_id]
        view = _checked_view(args.get("view"), expected_type=stored.get("type"))
        # Update in place so opened_views / published_views show the current view.
        stored.clear()
        stored.update(view)
        return self._view_answer(view_id)

    def _views_publish(self, args: dict[str, Any]) -> Answer:
        user_id = args.get("user_id")
        if not user_id:
            raise _missing("user_id")
        self._check_user(user_id)
        view = _checked_view(args.get("view"), expected_type="home")
        view_id = self._home_view_ids.get(user_id)
        if view_id is None:
            answer = self._new_view(view)
            self._home_view_ids[user_id] = answer["view"]["id"]
        else:
            if args.get("hash") and args["hash"] != self._view_hashes.get(view_id):
                raise InvalidPayload("hash_conflict", [])
            self._views[view_id] = view
            answer = self._view_answer(view_id)
        self.published_views[user_id] = view
        return answer

    # -- OAuth ---------------------------------------------------------------------------------

    def _oauth_v2_access(self, args: dict[str, Any]) -> Answer:
        if not args.get("client_id"):
            raise InvalidPayload("invalid_client_id", [])
        if not args.get("client_secret"):
            raise InvalidPayload("bad_client_secret", [])
        # Authorization codes are single-use in Slack.
        answer = self.oauth_codes.pop(str(args.get("code", "")), None)
        if answer is None:
            raise InvalidPayload("invalid_code", [])
        return {"ok": True, **answer}


# -- Block Kit validation ----------------------------------------------------------------------


def check_blocks(blocks: Any, *, limit: int | None, pointer: str = "/blocks") -> None:
    """Raise InvalidPayload("invalid_blocks") for blocks Slack would refuse."""
    if not isinstance(blocks, list):
        raise InvalidPayload(
            "invalid_blocks", [f"[ERROR] must provide an array [json-pointer:{pointer}]"]
        )
    if limit is not None and len(blocks) > limit:
        raise InvalidPayload(
            "invalid_blocks",
            [f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]"],
        )
    for index, sent in enumerate(blocks):
        where = f"{pointer}/{index}"
        try:
            parsed = Block.parse(copy.deepcopy(sent))
            if parsed is None:
                kind = sent.get("type") if isinstance(sent, dict) else None
                raise InvalidPayload(
                    "invalid_blocks", [f"[ERROR] unsupported type: {kind} [json-pointer:{where}]"]
                )
            # to_dict() validates nested elements too; validate_json() alone does not.
            rendered = parsed.to_dict()
        except InvalidPayload:
            raise
        except Exception as error:  # slack_sdk raises TypeError, SlackObjectFormationError, ...
            raise InvalidPayload(
                "invalid_blocks", [f"[ERROR] {error} [json-pointer:{where}]"]
            ) from error
        difference = _first_difference(sent, rendered, where)
        if difference is None:
            difference = _plain_text_violation(sent, where)
        if difference is not None:
            raise InvalidPayload("invalid_blocks", [difference])


def _first_difference(sent: Any, kept: Any, pointer: str) -> str | None:
    """Where slack_sdk dropped or changed something it was sent, Slack would have refused it."""
    if isinstance(sent, dict):
        if kept is None:
            return f"[ERROR] unsupported type: {sent.get('type')} [json-pointer:{pointer}]"
        if not isinstance(kept, dict):
            return f"[ERROR] must provide an object [json-pointer:{pointer}]"
        for key, value in sent.items():
            here = f"{pointer}/{key}"
            if key not in kept:
                if value in ("", [], {}, None):
                    return f"[ERROR] must not be empty [json-pointer:{here}]"
                if isinstance(value, dict) and "type" in value:
                    return f"[ERROR] unsupported type: {value['type']} [json-pointer:{here}]"
                return f"[ERROR] unknown property: {key} [json-pointer:{here}]"
            found = _first_difference(value, kept[key], here)
            if found is not None:
                return found
        return None
    if isinstance(sent, list):
        if not isinstance(kept, list) or len(kept) != len(sent):
            return f"[ERROR] invalid array [json-pointer:{pointer}]"
        for index, (item, kept_item) in enumerate(zip(sent, kept, strict=True)):
            found = _first_difference(item, kept_item, f"{pointer}/{index}")
            if found is not None:
                return found
        return None
    if isinstance(kept, dict):
        return f"[ERROR] must provide an object [json-pointer:{pointer}]"
    if sent != kept:
        return f"[ERROR] invalid value: {sent!r} [json-pointer:{pointer}]"
    return None


def _plain_text_violation(node: Any, pointer: str) -> str | None:
    """Fields Slack requires as plain_text, which slack_sdk lets through as mrkdwn."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            found = _plain_text_violation(item, f"{pointer}/{index}")
            if found is not None:
                return found
        return None
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    keys = ["placeholder"]
    if kind in ("header", "button"):
        keys.append("text")
    elif kind == "input":
        keys += ["label", "hint"]
    for key in keys:
        value = node.get(key)
        if isinstance(value, dict) and value.get("type") != "plain_text":
            return f"[ERROR] must be plain_text [json-pointer:{pointer}/{key}/type]"
    for key, value in node.items():
        if isinstance(value, dict | list):
            found = _plain_text_violation(value, f"{pointer}/{key}")
            if found is not None:
                return found
    return None


def _checked_view(view: Any, *, expected_type: str | None) -> dict[str, Any]:
    """Return the view if Slack would accept it, else raise InvalidPayload("invalid_arguments")."""

    def invalid(reason: str, pointer: str = "/view") -> InvalidPayload:
        return InvalidPayload("invalid_arguments", [f"[ERROR] {reason} [json-pointer:{pointer}]"])

    if not isinstance(view, dict):
        raise invalid("must provide an object")
    try:
        View(**copy.deepcopy(view)).validate_json()  # title <= 24, 1..100 blocks, type, ...
    except Exception as error:
        raise invalid(str(error)) from error
    unknown = sorted(set(view) - set(View.attributes))
    if unknown:
        raise invalid(f"unknown property: {unknown[0]}", f"/view/{unknown[0]}")
    if expected_type is not None and view["type"] != expected_type:
        raise invalid(f"view type must be {expected_type}", "/view/type")
    if "blocks" not in view:
        raise invalid("missing required field: blocks")
    if view["type"] == "modal":
        if not view.get("title"):
            raise invalid("missing required field: title")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view["blocks"])
        if has_input and not view.get("submit"):
            raise invalid("submit is required when a modal has an input block", "/view/submit")
    for key in ("title", "submit", "close"):
        value = view.get(key)
        if isinstance(value, dict) and value.get("type") != "plain_text":
            raise invalid("must be plain_text", f"/view/{key}/type")
    try:
        check_blocks(view["blocks"], limit=None, pointer="/view/blocks")  # View checked <= 100
    except InvalidPayload as error:
        raise InvalidPayload("invalid_arguments", error.messages) from error
    return copy.deepcopy(view)  # stored state must not alias the recorded Call.args


# -- helpers -----------------------------------------------------------------------------------


def _error(error: str, messages: list[str] | None = None, *, status: int = 200) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": messages}
    return web.json_response(body, status=status)


def _rate_limited(retry_after: int, error: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error": error}, status=429, headers={"Retry-After": str(retry_after)}
    )


def _missing(field: str) -> InvalidPayload:
    return InvalidPayload("invalid_arguments", [f"[ERROR] missing required field: {field}"])


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _basic_auth(request: web.Request) -> dict[str, str]:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return {}
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return {}
    client_id, _, client_secret = decoded.partition(":")
    return {"client_id": client_id, "client_secret": client_secret}


async def _decode(request: web.Request) -> tuple[dict[str, Any], str | None, dict[str, str]]:
    """Arguments from the query string plus a JSON or form body; the token Slack would use."""
    args: dict[str, Any] = dict(request.query)
    token = _bearer(request)
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        if not isinstance(body, dict):
            raise ValueError("a JSON body must be an object")
        # Slack ignores a token in a JSON body: JSON requests must use the Authorization header.
        body.pop("token", None)
        args.update(body)
    elif request.can_read_body:
        args.update({key: value for key, value in (await request.post()).items()})
    form_token = args.pop("token", None)
    if token is None and isinstance(form_token, str) and form_token:
        token = form_token
    return _decode_json_arguments(args), token, _basic_auth(request)


def _decode_json_arguments(args: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(args)
    for key in JSON_ARGUMENTS & decoded.keys():
        value = decoded[key]
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # Undecodable JSON stays a string, which validation then refuses.
            with contextlib.suppress(ValueError):
                decoded[key] = json.loads(value)
    return decoded


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"users:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(str(cursor)).decode().partition(":")
        if prefix != "users":
            raise ValueError(prefix)
        return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPayload("invalid_cursor", []) from None


def _truthy(value: Any) -> bool:
    """A boolean argument as Slack reads it: true, "true" or "1" (slack_sdk sends "1")."""
    return value is True or str(value).lower() in ("1", "true")
