"""Signed webhooks: systems that push data in (a helpdesk's customer voice, a BI tool's KPI
readings) sign every request the same way, and every signed request is taken once.

Requests are signed like Slack's: ``X-Advocacy-Signature: sha256=HEX`` where HEX is the
HMAC-SHA256, with the webhook's secret, of ``TIMESTAMP.BODY`` (``TIMESTAMP.QUERY.BODY`` when the
URL has a query string: it can change what is stored, so it is signed too), and ``TIMESTAMP``
(Unix seconds) is sent as ``X-Advocacy-Timestamp``. Unsigned, wrongly signed or stale (over
five minutes) requests get 401; a signed request is taken once (a replay gets 409); while no
secret is set, every request is refused with 503.

An accepted request is written to the durable inbox before it is answered; the inbox's worker
stores it, and the answer says what was stored (or 202 if that takes longer than
``ANSWER_WAIT_SECONDS``: the request is safe and stored shortly).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.app import Application
from bot.errors import InvalidInput
from bot.quiet_log import ThrottledLog

SIGNATURE_HEADER = "X-Advocacy-Signature"
TIMESTAMP_HEADER = "X-Advocacy-Timestamp"
MAX_AGE_SECONDS = 300
MAX_BODY = 1024 * 1024
# A request's answer says what was stored when the inbox's worker gets to it this soon; after
# that it answers 202: the request is safe in the inbox and is stored shortly.
ANSWER_WAIT_SECONDS = 10.0


def signed_text(timestamp: str, query: str, body: bytes) -> bytes:
    """What the signature covers: the timestamp, the query string when there is one, the body."""
    middle = f".{query}" if query else ""
    return f"{timestamp}{middle}.".encode() + body


def sign(secret: str, timestamp: str, body: bytes, query: str = "") -> str:
    digest = hmac.new(secret.encode(), signed_text(timestamp, query, body), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: str, headers: Any, body: bytes, query: str = "", now: float | None = None
) -> str | None:
    """None when the request is authentic and fresh, else why it is refused."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        return "the request is not signed"
    try:
        age = (now or time.time()) - int(timestamp)
    except ValueError:
        return "the timestamp is not a number"
    if age > MAX_AGE_SECONDS:
        return "the request is stale (over five minutes old)"
    if age < -MAX_AGE_SECONDS:
        return "the timestamp is over five minutes ahead of this server's clock"
    if not hmac.compare_digest(sign(secret, timestamp, body, query), signature):
        covers = "TIMESTAMP.QUERY.BODY" if query else "TIMESTAMP.BODY"
        return f"the signature does not match (it covers {covers})"
    return None


@dataclass(frozen=True)
class SignedWebhook:
    """One signed endpoint: its secret (None: off), how its refusals are logged, and where its
    requests go in the inbox (``platform`` keeps its request ids apart from other webhooks')."""

    secret: str | None
    off: str  # what to set to turn it on, said to callers while it is off
    refusals: ThrottledLog
    platform: str
    kind: str

    async def receive(
        self,
        request: web.Request,
        application: Application,
        items_of: Callable[[Any], list[Any]],
        max_items: int,
        payload: Callable[[str], dict[str, Any]],
    ) -> web.Response | dict[str, Any]:
        """The stored request's answer (from the inbox's worker), or the response that refuses
        or defers it. ``items_of`` reads the items out of the JSON body (InvalidInput: 400)."""
        if not self.secret:
            return web.json_response({"error": self.off}, status=503)
        if not request.headers.get(SIGNATURE_HEADER) or not request.headers.get(TIMESTAMP_HEADER):
            return web.json_response({"error": "the request is not signed"}, status=401)
        try:
            body = await request.read()  # the server refuses bodies over its 1 MB cap
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "the body is over 1 MB"}, status=413)
        if len(body) > MAX_BODY:
            return web.json_response({"error": "the body is over 1 MB"}, status=413)
        refusal = verify(self.secret, request.headers, body, request.rel_url.raw_query_string)
        if refusal:
            self.refusals.refused(refusal)
            return web.json_response({"error": refusal}, status=401)
        try:
            text = body.decode("utf-8")
            items = items_of(json.loads(text))
        except UnicodeDecodeError as error:
            return web.json_response(
                {"error": f"the body is not UTF-8 (byte {error.start}); send JSON in UTF-8"},
                status=400,
            )
        except (json.JSONDecodeError, RecursionError, InvalidInput) as error:
            return web.json_response({"error": f"not valid: {error}"}, status=400)
        if len(items) > max_items:
            return web.json_response({"error": f"at most {max_items} items a request"}, status=413)
        # A signed request is taken once: its signature is its id, so a replay (within the five
        # minutes its timestamp stays fresh) is recognised and changes nothing.
        accepted = await application.inbox.accept(
            self.platform, self.kind, request.headers[SIGNATURE_HEADER], payload(text), wait=True
        )
        if accepted.duplicate or accepted.waiter is None:
            return web.json_response(
                {"already_received": True, "error": "this signed request was received before"},
                status=409,
            )
        answered, answer = await accepted.waiter.wait(ANSWER_WAIT_SECONDS)
        if not answered:
            return web.json_response(
                {"accepted": True, "items": len(items), "note": "stored shortly"}, status=202
            )
        return answer
