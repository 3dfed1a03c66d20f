"""A fake Bot Framework Connector service: what a Teams bot sends its activities to.

Why: the Teams adapter must be tested end to end through botbuilder's real ``ConnectorClient``,
over real HTTP, without reaching ``smba.trafficmanager.net``. Give activities
``serviceUrl = fake.service_url`` and the fake records every call, keeps the state Teams would
keep (activities per conversation, 1:1 conversations, rosters), refuses what Teams refuses (no
token, oversize activities, invalid Adaptive Cards, too many messages per conversation) and fails
on demand (``fail_next``) the way the real service fails (429 with ``Retry-After``, JSON error
bodies ``{"error": {"code", "message"}}``). Paths, verbs and bodies follow
botframework-connector 4.17.1 (``aio/operations_async/_conversations_operations_async.py``,
``teams/operations/teams_operations.py``) and botbuilder-core's ``teams/teams_info.py``.

Throttling and failures, for delivery tests and benchmarks of the bot's outbox:

* ``per_conversation_rate`` (Teams: 7 messages a second per conversation for a bot) buckets
  send/reply/update per conversation; ``per_tenant_rate`` (Teams: 50 requests a second per tenant
  for a bot) buckets every connector call of a tenant. Both are checked before either is
  charged: a call refused by one (429 + ``Retry-After``) takes nothing from the other. The tenant
  of a call: the one given to createConversation for that conversation (or its channel), else
  the activity's ``conversation.tenantId``/``channelData.tenant.id``, else the tenant of the
  roster's first member, else "" (unknown calls share one bucket).
* ``inject_faults`` makes a seeded random share of calls fail (429, 500, or a "timeout": held
  longer than the client waits, then 503); ``fault_counts``, ``rate_limited_count`` and
  ``posted_counts``/``duplicates`` tell what happened.

The server runs on its own event loop in a thread (``LoopbackServer(own_thread=True)``):
botbuilder's ``TeamsConnectorClient`` (``TeamsInfo.get_team_details``/``get_team_channels``) is
synchronous and blocks the caller's loop while it waits for the answer.

What botbuilder's client does with the answers (found by experiment, msrest 0.7.1 with
urllib3 2.x):

* An unexpected status raises ``botframework.connector.models.ErrorResponseException``; paged
  members and the Teams client raise its base class ``msrest.exceptions.HttpOperationError``.
  Both carry ``exc.response``, the ``requests.Response``: ``exc.response.status_code`` and
  ``exc.response.headers.get("Retry-After")``. ``ErrorResponseException.error.error.code`` and
  ``.message`` hold the parsed error body.
* msrest's retry policy (``client.config.retry_policy``: 3 retries, backoff 0.8) makes urllib3
  retry GET/PUT/DELETE by itself, never POST:
  - 429/413/503 carrying ``Retry-After``: retried after sleeping that long (``0`` falls back to
    the backoff: 0, 1.6, 3.2 s). If they keep coming, the last answer surfaces as
    ``ErrorResponseException`` with its status. So a single 429 on ``update``/``members`` is
    invisible to the caller.
  - 408 and 5xx except 501/505: retried with the backoff; when retries run out (at once with
    ``retries = 0``) urllib3 raises and the caller gets ``msrest.exceptions.ClientRequestError``
    with NO status (``exc.inner_exception`` is a ``requests.RetryError``). Setting
    ``client.config.retry_policy.policy.raise_on_status = False`` keeps the status instead.
  POST (send/reply/create_conversation) errors surface at once, status and headers included.

The Adaptive Card schema (tests/schemas/adaptive-card-1.5.json, draft-06) with
``jsonschema.Draft6Validator``, found by experiment (see tests/platforms/test_teams_fake.py):

* Works offline as is: every ``$ref`` is local (``#/definitions/...``); the root's ``id`` is the
  draft-04 keyword, ignored by draft 6, so no base URI and nothing to fetch. The validator is
  built with an explicit empty ``referencing.Registry``, so nothing could be fetched anyway.
* Rejects: an unknown element or action type (every element is an ``anyOf`` over the known
  types), a missing required property (TextBlock ``text``, Image ``url``, Input ``id``,
  Action.OpenUrl ``url``, Container ``items``...), unknown properties anywhere
  (``additionalProperties: false``, so the Teams-only ``msteams`` key must be removed first, and
  it is only allowed at the top level), wrong JSON types, values outside enums, errors inside
  nested containers, columns and ``Action.ShowCard`` cards.
* Accepts: any ``version`` string ("1.6", "9", none at all: ``version`` is not required), a card
  without ``type``, features newer than the declared version, malformed URLs (``format`` is not
  asserted), Action.Submit without ``title``, empty bodies, any text length.
* A raw ``anyOf`` failure says only "is not valid under any of the given schemas"; the fake
  follows the branch whose ``type`` matches the element to report the real cause (e.g.
  "$.attachments[0].content.body[0]: 'text' is a required property").

Simplifications, on purpose: any conversation id is accepted for send/reply; a reply to an
unknown activity id is accepted (Teams falls back to a send); tenantId and the bot account are
not checked on create_conversation; the page size has no minimum.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import functools
import itertools
import json
import math
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
from aiohttp import web
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry

from tests.fake_server import LoopbackServer
from tests.slack_fake import FAULT_KINDS, FaultPlan

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA_PATH = Path(__file__).parent / "schemas" / "adaptive-card-1.5.json"
PAGE_SIZE_DEFAULT = 200
PAGE_SIZE_MAX = 500  # Teams caps pagedmembers pages at 500
ACTIVITY_ID_BASE = 1_700_000_000_000  # Teams message ids look like millisecond timestamps
ERROR_CODES = {
    400: "BadArgument",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "MessageSizeTooBig",
    429: "Throttled",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
RATE_LIMITED = frozenset({"send", "reply", "update"})
WITH_ACTIVITY = frozenset({"send", "reply", "update"})

TokenCheck = str | Callable[[str], bool]


# -- Adaptive Card validation ----------------------------------------------------------------


@functools.cache
def card_validator() -> jsonschema.Draft6Validator:
    """The Adaptive Cards 1.5 validator (built once: the schema is 94 kB)."""
    schema = json.loads(CARD_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft6Validator.check_schema(schema)
    # An empty registry: every $ref is local, and nothing may be fetched.
    return jsonschema.Draft6Validator(schema, registry=Registry())


def adaptive_card_error(card: Any) -> str | None:
    """Why Teams would refuse this Adaptive Card (``"$.path: message"``), or None if valid.

    The Teams-only top-level ``msteams`` key is removed before validating."""
    if isinstance(card, dict):
        card = {key: value for key, value in card.items() if key != "msteams"}
    error = best_match(card_validator().iter_errors(card))
    if error is None:
        return None
    return _explain(error)


def _explain(error: ValidationError) -> str:
    """Descend ``anyOf`` failures into the branch whose ``type`` matches the instance."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.relative_schema_path[0]].append(sub)
        mismatched = [errors for errors in branches.values() if _wrong_type(errors)]
        fitting = [errors for errors in branches.values() if not _wrong_type(errors)]
        if not fitting and mismatched and isinstance(error.instance, dict):
            known = sorted(
                {
                    value
                    for errors in mismatched
                    for e in errors
                    if _is_type_mismatch(e)
                    for value in e.validator_value
                }
            )
            path = f"{error.json_path}.type"
            return f"{path}: {error.instance.get('type')!r} is not one of {known}"
        missing_type = [e for errors in fitting for e in errors if _no_type(e)]
        if fitting and len(missing_type) >= len(fitting):
            error = missing_type[0]  # no "type" at all: every branch says so
            break
        if len(fitting) != 1:
            break
        error = best_match(fitting[0]) or error
    return f"{error.json_path}: {error.message}"


def _is_type_mismatch(error: ValidationError) -> bool:
    return error.validator == "enum" and list(error.relative_path) == ["type"]


def _wrong_type(errors: Iterable[ValidationError]) -> bool:
    return any(_is_type_mismatch(e) for e in errors)


def _no_type(error: ValidationError) -> bool:
    return error.validator == "required" and error.validator_value == ["type"]


# -- the fake --------------------------------------------------------------------------------


@dataclass
class ConnectorCall:
    """One request the fake received."""

    method: str  # HTTP verb
    path: str  # decoded, e.g. "/v3/conversations/a:1/activities"
    operation: str  # "send", "reply", "update", ... or "unknown"
    conversation_id: str | None
    activity_id: str | None
    body: Any  # decoded JSON or None
    authorization: str | None  # the Authorization header
    status: int = 0  # the HTTP status the fake answered
    tenant_id: str = ""  # the tenant the call was counted against ("" when unknown)


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    code: str | None
    times: int


class _Refused(Exception):
    """An error answer: status, Teams error code and message, optional Retry-After."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        retry_after: int | None = None,
        hold: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or ERROR_CODES.get(status) or _phrase(status)
        self.message = message
        self.retry_after = retry_after
        self.hold = hold  # seconds to keep the caller waiting before answering

    def response(self) -> web.Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        body = {"error": {"code": self.code, "message": self.message}}
        return web.json_response(body, status=self.status, headers=headers)


class FakeConnector(LoopbackServer):
    """The Bot Connector REST API v3 on 127.0.0.1, as Teams serves it to bots.
    Use as ``async with FakeConnector() as fake:`` or call ``start()``/``close()``."""

    def __init__(self, *, require_token: TokenCheck | None = None) -> None:
        """``require_token``: every call must carry ``Authorization: Bearer <token>`` (else 401);
        a callable decides per token, e.g. ``lambda token: token in identity.issued_tokens``."""
        super().__init__(own_thread=True)
        self.require_token = require_token
        self.service_url = ""  # "http://127.0.0.1:PORT/", the activities' serviceUrl
        self.calls: list[ConnectorCall] = []
        self.activities: dict[str, list[dict[str, Any]]] = {}
        self.created: list[dict[str, Any]] = []
        self.rosters: dict[str, list[dict[str, Any]]] = {}
        # team id -> {"name", "aadGroupId", "channels": [{"id", "name"}]}; see add_team.
        self.teams: dict[str, dict[str, Any]] = {}
        self.per_conversation_rate: float | None = None  # send/reply/update a second
        self.per_tenant_rate: float | None = None  # every connector call of a tenant, a second
        # conversation (or channel) id -> tenant id; filled by createConversation.
        self.conversation_tenants: dict[str, str] = {}
        self.rate_limited_count = 0  # 429s answered by the two rates above
        # When each send to a conversation was accepted (time.monotonic), for benchmarks.
        self.sent_at: list[float] = []
        self.fault_counts: Counter[str] = Counter()  # injected faults answered, by kind
        self.max_activity_bytes: int = 28 * 1024
        # Schema validation costs ~40 ms a card; a test sending thousands may switch it off.
        self.validate_cards = True
        self._drops: dict[str, int] = {}
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._buckets: dict[str, tuple[float, float]] = {}  # conversation -> (tokens, at)
        self._tenant_buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, at)
        self._posted: Counter[str] = Counter()  # conversation -> activities accepted as new
        self._faults: FaultPlan | None = None
        self._closing = threading.Event()  # wakes calls held by a "timeout" fault
        self._personal: dict[tuple[str, str], str] = {}  # (tenant, member id) -> conversation
        self._activity_ids = itertools.count(ACTIVITY_ID_BASE + 1)
        self._conversation_ids = itertools.count(1)
        self._lock = threading.Lock()  # handlers run on the server thread

    # -- lifecycle ---------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self) -> None:
        card_validator()  # build the validator before the first request, not during it
        self._closing.clear()
        await super().start()
        self.service_url = f"{self.url}/"

    async def close(self) -> None:
        # aiohttp's cleanup waits for requests in flight: let held ones answer now.
        self._closing.set()
        await super().close()

    # -- test helpers ------------------------------------------------------------------------

    def inject_faults(
        self,
        ratio: float,
        *,
        kinds: Iterable[str] = FAULT_KINDS,
        operations: Iterable[str] = ("send",),
        seed: int | None = None,
        hang_seconds: float = 5.0,
    ) -> None:
        """Make a random share ``ratio`` of the calls of ``operations`` fail (``ratio=0`` stops).

        Each faulted call gets a kind drawn uniformly from ``kinds``: "429" (``Throttled``,
        Retry-After: 1), "500" (``InternalServerError``) or "timeout" (held for
        ``hang_seconds``, longer than the client should wait, then 503 ``ServiceUnavailable``).
        A faulted call is not carried out and takes no rate token; it is counted in
        ``fault_counts``. Queued ``fail_next`` failures come first."""
        plan = FaultPlan.build(
            ratio, kinds=kinds, targets=operations, seed=seed, hang_seconds=hang_seconds
        )
        with self._lock:
            self._faults = plan if ratio > 0 else None

    def posted_counts(self) -> dict[str, int]:
        """Activities accepted as new per conversation: send, reply, and the activity of a
        createConversation (updates and deletes do not count)."""
        with self._lock:
            return dict(self._posted)

    def duplicates(self) -> dict[str, int]:
        """For runs that should post once per conversation: the extra activities in each."""
        return {cid: count - 1 for cid, count in self.posted_counts().items() if count > 1}

    def calls_to(self, operation: str) -> list[ConnectorCall]:
        return [call for call in self.calls if call.operation == operation]

    def add_member(
        self,
        roster_id: str,
        *,
        user_id: str,
        aad_object_id: str,
        name: str,
        tenant_id: str = "tenant-1",
        user_role: str = "user",
        email: str | None = None,
    ) -> dict[str, Any]:
        """Add a TeamsChannelAccount-shaped member to a conversation's or team's roster."""
        given, _, surname = name.partition(" ")
        address = email or f"{name.lower().replace(' ', '.')}@example.com"
        member = {
            "id": user_id,
            "name": name,
            "givenName": given,
            "surname": surname or None,
            "email": address,
            "userPrincipalName": address,
            "aadObjectId": aad_object_id,
            "tenantId": tenant_id,
            "userRole": user_role,
        }
        with self._lock:
            self.rosters.setdefault(roster_id, []).append(member)
        return member

    def add_team(
        self,
        team_id: str,
        *,
        name: str,
        aad_group_id: str | None = None,
        channels: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Details served by team_details; channels by team_channels (default: General only,
        whose id is the team id and whose name Teams leaves out)."""
        team = {
            "name": name,
            "aadGroupId": aad_group_id,
            "channels": channels if channels is not None else [{"id": team_id}],
        }
        with self._lock:
            self.teams[team_id] = team
        return team

    def drop_next(self, operation: str, *, times: int = 1) -> None:
        """Close the connection of the next ``times`` calls of ``operation`` without answering
        (the request is not processed), as a server does to an idle kept-alive connection."""
        with self._lock:
            self._drops[operation] = self._drops.get(operation, 0) + times

    def fail_next(
        self,
        operation: str,
        *,
        status: int,
        retry_after: int | None = None,
        times: int = 1,
        code: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` with ``status``: 429 carries
        ``Retry-After`` (default 1); every failure has a body ``{"error": {"code", "message"}}``
        (``code`` overrides the default one, e.g. "ConversationBlockedByUser" for a 403)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._failures[operation].append(_Failure(status, retry_after, code, times))

    # -- request handling --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        segments = [unquote(part) for part in request.raw_path.split("?")[0].split("/")]
        operation, conversation_id, activity_id, extra = _route(request.method, segments)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        call = ConnectorCall(
            method=request.method,
            path="/".join(segments),
            operation=operation,
            conversation_id=conversation_id,
            activity_id=activity_id,
            body=body,
            authorization=request.headers.get("Authorization"),
        )
        hold = 0.0
        with self._lock:
            self.calls.append(call)
            if self._drops.get(operation, 0) > 0:
                # What an idle kept-alive connection looks like when the server closed it: the
                # request is never answered or processed.
                self._drops[operation] -= 1
                call.status = 0
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            try:
                self._check(call, len(raw))
                response = self._answer(call, extra, request.query)
            except _Refused as refused:
                response = refused.response()
                hold = refused.hold
            if not hold:
                call.status = response.status
        if hold:
            await self._hold(hold)  # outside the lock: other calls go on meanwhile
            call.status = response.status
        return response

    async def _hold(self, seconds: float) -> None:
        """Sleep on the server's loop, cut short by close() (checked across threads)."""
        deadline = time.monotonic() + seconds
        while not self._closing.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))

    def _check(self, call: ConnectorCall, size: int) -> None:
        """Everything that refuses a call before it is carried out, in the service's order."""
        if self.require_token is not None and not self._authorized(call.authorization):
            raise _Refused(401, "Authorization has been denied for this request.")
        if call.operation == "unknown":
            raise _Refused(404, f"No route for {call.method} {call.path}")
        call.tenant_id = self._tenant_of(call)
        self._injected_failure(call.operation)
        self._random_fault(call.operation)
        self._take_rate_tokens(call)
        activity = call.body.get("activity") if isinstance(call.body, dict) else None
        if call.operation in WITH_ACTIVITY:
            activity = call.body
        if call.operation in WITH_ACTIVITY or activity is not None:
            if size > self.max_activity_bytes:
                raise _Refused(
                    413,
                    f"Activity is {size} bytes, more than {self.max_activity_bytes} allowed.",
                    code="MessageSizeTooBig",
                )
            if not isinstance(activity, dict):
                raise _Refused(400, "The activity must be a JSON object.")
            prefix = "$.activity" if call.operation == "create_conversation" else "$"
            if self.validate_cards:
                self._check_cards(activity, prefix)

    def _authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        if scheme != "Bearer" or not token:
            return False
        check = self.require_token
        return check(token) if callable(check) else token == check

    def _injected_failure(self, operation: str) -> None:
        queue = self._failures.get(operation)
        if not queue:
            return
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        raise _Refused(
            failure.status,
            f"Injected failure ({failure.status}) for {operation}.",
            code=failure.code,
            retry_after=failure.retry_after,
        )

    def _random_fault(self, operation: str) -> None:
        plan = self._faults
        kind = plan.draw(operation) if plan is not None else None
        if plan is None or kind is None:
            return
        self.fault_counts[kind] += 1
        if kind == "429":
            raise _Refused(429, f"Injected throttling for {operation}.", retry_after=1)
        if kind == "500":
            raise _Refused(500, f"Injected failure (500) for {operation}.")
        # The service does not answer in time: the client gives up first, and whatever comes
        # later (a 503 here) must not count as delivered.
        raise _Refused(503, f"Injected time-out for {operation}.", hold=plan.hang_seconds)

    def _tenant_of(self, call: ConnectorCall) -> str:
        """The tenant a call counts against, as far as the service can tell (see the module
        docstring); "" when unknown."""
        body = call.body if isinstance(call.body, dict) else {}
        if call.operation == "create_conversation":
            return _parameters_tenant(body)
        cid = call.conversation_id
        keys = [cid, cid.split(";")[0]] if cid else []
        for key in keys:
            if key in self.conversation_tenants:
                return self.conversation_tenants[key]
        if call.operation in WITH_ACTIVITY:
            # botbuilder-python serialises ConversationAccount.tenant_id as "tenantID".
            tenant = (
                _field(body, "conversation", "tenantId")
                or _field(body, "conversation", "tenantID")
                or _field(body, "channelData", "tenant", "id")
            )
            if isinstance(tenant, str) and tenant:
                return tenant
        for key in keys:
            for member in self.rosters.get(key, [])[:1]:
                tenant = member.get("tenantId")
                if isinstance(tenant, str) and tenant:
                    return tenant
        return ""

    def _take_rate_tokens(self, call: ConnectorCall) -> None:
        """Token buckets, each holding one second's worth (at least one token): per conversation
        for send/reply/update (Teams: 7 a second) and per tenant for every call (Teams: 50 a
        second). Both are checked before either is charged."""
        now = time.monotonic()
        limits: list[tuple[dict[str, tuple[float, float]], str, float, str]] = []
        rate = self.per_conversation_rate
        if rate and call.operation in RATE_LIMITED and call.conversation_id is not None:
            limits.append((self._buckets, call.conversation_id, rate, "conversation"))
        rate = self.per_tenant_rate
        if rate:
            limits.append((self._tenant_buckets, call.tenant_id, rate, "tenant"))
        waits = [
            (_bucket_wait(bucket, key, per_second, now), what)
            for bucket, key, per_second, what in limits
        ]
        refused = [(wait, what) for wait, what in waits if wait > 0]
        if refused:
            self.rate_limited_count += 1
            wait, what = max(refused)
            raise _Refused(
                429, f"Too many requests for this {what}.", retry_after=max(1, math.ceil(wait))
            )
        for buckets, key, _, _ in limits:
            tokens, at = buckets[key]
            buckets[key] = (tokens - 1.0, at)

    def _check_cards(self, activity: dict[str, Any], prefix: str) -> None:
        attachments = activity.get("attachments") or []
        if not isinstance(attachments, list):
            raise _Refused(400, f"{prefix}.attachments must be an array.")
        for index, attachment in enumerate(attachments):
            if not isinstance(attachment, dict) or attachment.get("contentType") != ADAPTIVE_CARD:
                continue
            content = attachment.get("content")
            where = f"{prefix}.attachments[{index}].content"
            if not isinstance(content, dict):
                raise _Refused(400, f"{where}: an Adaptive Card must be a JSON object.")
            problem = adaptive_card_error(content)
            if problem is not None:
                # "$.body[0]: ..." from the card's root becomes "<where>.body[0]: ..."
                raise _Refused(400, where + problem[1:])

    # -- operations (run under the lock) -----------------------------------------------------

    def _answer(self, call: ConnectorCall, extra: str | None, query: Any) -> web.Response:
        cid, aid = call.conversation_id, call.activity_id
        match call.operation:
            case "send":
                self.sent_at.append(time.monotonic())
                return self._store(cid, call.body, None)
            case "reply":
                return self._store(cid, call.body, aid)
            case "update":
                return self._update(cid, aid, call.body)
            case "delete":
                return self._delete(cid, aid)
            case "create_conversation":
                return self._create_conversation(call.body)
            case "members":
                return web.json_response(self._roster(cid))
            case "paged_members":
                return self._paged_members(cid, query)
            case "member":
                return self._member(cid, extra)
            case "team_details":
                return self._team_details(cid)
            case "team_channels":
                return web.json_response({"conversations": self._team(cid)["channels"]})
        raise _Refused(404, f"No route for {call.method} {call.path}")

    def _new_activity_id(self) -> str:
        return str(next(self._activity_ids))

    def _store(self, cid: Any, activity: dict[str, Any], reply_to: str | None) -> web.Response:
        stored = {**copy.deepcopy(activity), "id": self._new_activity_id()}
        if reply_to is not None:
            stored.setdefault("replyToId", reply_to)
        self.activities.setdefault(cid, []).append(stored)
        self._posted[cid] += 1
        return web.json_response({"id": stored["id"]}, status=201)

    def _update(self, cid: Any, aid: Any, activity: dict[str, Any]) -> web.Response:
        stored = self.activities.get(cid, [])
        for index, existing in enumerate(stored):
            if existing["id"] == aid:
                stored[index] = {**copy.deepcopy(activity), "id": aid}
                return web.json_response({"id": aid})
        raise _Refused(404, f"Activity {aid} not found in conversation {cid}.", code="NotFound")

    def _delete(self, cid: Any, aid: Any) -> web.Response:
        stored = self.activities.get(cid, [])
        for index, existing in enumerate(stored):
            if existing["id"] == aid:
                del stored[index]
                return web.Response(status=200)
        raise _Refused(404, f"Activity {aid} not found in conversation {cid}.", code="NotFound")

    def _create_conversation(self, body: Any) -> web.Response:
        if not isinstance(body, dict):
            raise _Refused(400, "Conversation parameters must be a JSON object.")
        channel_data = body.get("channelData") or {}
        channel = (channel_data.get("channel") or {}).get("id")
        members = body.get("members") or []
        if not channel and not members:
            raise _Refused(400, "Conversation parameters need members or a channel.")
        tenant = _parameters_tenant(body)
        self.created.append(copy.deepcopy(body))
        activity = body.get("activity")
        activity_id = self._new_activity_id() if activity else None
        if channel:
            # A new thread in a Teams channel: "<channel id>;messageid=<first activity id>".
            conversation_id = f"{channel};messageid={activity_id or self._new_activity_id()}"
        elif not body.get("isGroup") and len(members) == 1:
            # 1:1: Teams gives the same member the same personal conversation every time.
            key = (tenant, str(members[0].get("id")))
            if key not in self._personal:
                self._personal[key] = f"a:{next(self._conversation_ids)}"
            conversation_id = self._personal[key]
        else:
            conversation_id = f"19:group{next(self._conversation_ids)}@thread.v2"
        if members and conversation_id not in self.rosters:
            self.rosters[conversation_id] = copy.deepcopy(members)
        if tenant:
            self.conversation_tenants.setdefault(conversation_id, tenant)
            if channel:
                self.conversation_tenants.setdefault(channel, tenant)
        if activity:
            stored = {**copy.deepcopy(activity), "id": activity_id}
            self.activities.setdefault(conversation_id, []).append(stored)
            self._posted[conversation_id] += 1
        answer = {"id": conversation_id, "activityId": activity_id, "serviceUrl": self.service_url}
        return web.json_response(answer, status=201)

    def _roster(self, roster_id: Any) -> list[dict[str, Any]]:
        roster = self.rosters.get(roster_id)
        if roster is None and isinstance(roster_id, str):
            # A channel thread "19:...;messageid=..." has the channel's members.
            roster = self.rosters.get(roster_id.split(";")[0])
        if roster is None:
            raise _Refused(404, f"Conversation {roster_id} not found.", code="ConversationNotFound")
        return roster

    def _paged_members(self, roster_id: Any, query: Any) -> web.Response:
        roster = self._roster(roster_id)
        try:
            size = int(query.get("pageSize", PAGE_SIZE_DEFAULT))
        except ValueError:
            raise _Refused(400, "pageSize must be an integer.") from None
        if size < 1:
            raise _Refused(400, "pageSize must be positive.")
        size = min(size, PAGE_SIZE_MAX)
        offset = 0
        if "continuationToken" in query:
            offset = _read_token(query["continuationToken"], roster_id)
        page = roster[offset : offset + size]
        answer: dict[str, Any] = {"members": page}
        if offset + size < len(roster):
            answer["continuationToken"] = _make_token(roster_id, offset + size)
        return web.json_response(answer)

    def _member(self, roster_id: Any, member_id: str | None) -> web.Response:
        for member in self._roster(roster_id):
            if member_id in (member.get("id"), member.get("aadObjectId")):
                return web.json_response(member)
        raise _Refused(
            404,
            f"Member {member_id} not found in {roster_id}.",
            code="MemberNotFoundInConversation",
        )

    def _team(self, team_id: Any) -> dict[str, Any]:
        team = self.teams.get(team_id)
        if team is None and team_id in self.rosters:
            team = {"name": f"Team {team_id}", "aadGroupId": None, "channels": [{"id": team_id}]}
        if team is None:
            raise _Refused(404, f"Team {team_id} not found.", code="NotFound")
        return team

    def _team_details(self, team_id: Any) -> web.Response:
        team = self._team(team_id)
        return web.json_response(
            {
                "id": team_id,
                "name": team["name"],
                "aadGroupId": team.get("aadGroupId"),
                "type": "standard",
                "channelCount": len(team["channels"]),
                "memberCount": len(self.rosters.get(team_id, [])),
            }
        )


def _route(method: str, segments: list[str]) -> tuple[str, str | None, str | None, str | None]:
    """(operation, conversation or team id, activity id, member id) for a decoded path."""
    match segments:
        case ["", "v3", "conversations"] if method == "POST":
            return "create_conversation", None, None, None
        case ["", "v3", "conversations", cid, "activities"] if method == "POST":
            return "send", cid, None, None
        case ["", "v3", "conversations", cid, "activities", aid]:
            operation = {"POST": "reply", "PUT": "update", "DELETE": "delete"}.get(method)
            return operation or "unknown", cid, aid, None
        case ["", "v3", "conversations", cid, "members"] if method == "GET":
            return "members", cid, None, None
        case ["", "v3", "conversations", cid, "members", mid] if method == "GET":
            return "member", cid, None, mid
        case ["", "v3", "conversations", cid, "pagedmembers"] if method == "GET":
            return "paged_members", cid, None, None
        case ["", "v3", "teams", tid] if method == "GET":
            return "team_details", tid, None, None
        case ["", "v3", "teams", tid, "conversations"] if method == "GET":
            return "team_channels", tid, None, None
    return "unknown", None, None, None


def _parameters_tenant(body: dict[str, Any]) -> str:
    """The tenant of ConversationParameters. botbuilder-python serialises ``tenant_id`` as
    "tenantID"; Teams also reads ``channelData.tenant.id``."""
    tenant = (
        _field(body, "tenantId")
        or _field(body, "tenantID")
        or _field(body, "channelData", "tenant", "id")
    )
    return tenant if isinstance(tenant, str) else ""


def _field(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _bucket_wait(
    buckets: dict[str, tuple[float, float]], key: str, rate: float, now: float
) -> float:
    """Refill ``key``'s bucket (capacity: one second's worth, at least one token) up to ``now``
    and return the seconds until it holds a token (0 if it does)."""
    capacity = max(1.0, rate)
    tokens, at = buckets.get(key, (capacity, now))
    tokens = min(capacity, tokens + (now - at) * rate)
    buckets[key] = (tokens, now)
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.replace(" ", "")
    except ValueError:
        return "Error"


def _make_token(roster_id: str, offset: int) -> str:
    raw = json.dumps({"r": roster_id, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, roster_id: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if decoded["r"] == roster_id and isinstance(decoded["o"], int) and decoded["o"] >= 0:
            return decoded["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise _Refused(400, "Invalid continuation token.")
