"""``POST /voice/webhook``: a helpdesk or survey tool pushes customer voice as it arrives.

Requests are signed like Slack's: ``X-Advocacy-Signature: sha256=HEX`` where HEX is the
HMAC-SHA256, with ``VOICE_WEBHOOK_SECRET``, of ``TIMESTAMP.BODY`` (``TIMESTAMP.QUERY.BODY`` when
the URL has a query string such as ``source=helpdesk``: it changes what is stored, so it is
signed too), and ``TIMESTAMP`` (Unix seconds) is sent as ``X-Advocacy-Timestamp``. Unsigned,
wrongly signed or stale (over five minutes) requests get 401; a signed request is taken once (a
replay gets 409); while no secret is set, every request is refused.

An accepted request is written to the durable inbox before it is answered; the inbox's worker
stores its items, and the answer says what was stored (or 202 if that takes longer than
``ANSWER_WAIT_SECONDS``: the items are safe and stored shortly).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web

from bot.app import Application
from bot.errors import InvalidInput
from bot.inbox import InboxItem, Receipt
from bot.quiet_log import ThrottledLog
from content.settings import content_settings
from content.voice_import import make_record, resolve_columns
from content.voice_pipeline import VoicePipeline, VoiceRecord
from content.voice_spikes import detect_spikes

log = logging.getLogger(__name__)

PATH = "/voice/webhook"
SIGNATURE_HEADER = "X-Advocacy-Signature"
TIMESTAMP_HEADER = "X-Advocacy-Timestamp"
MAX_AGE_SECONDS = 300
MAX_BODY = 1024 * 1024
MAX_ITEMS = 1000
PLATFORM = "voice"
INBOX_KIND = "voice.webhook"
# A request's answer says what was stored when the inbox's worker gets to it this soon; after
# that it answers 202: the items are safe in the inbox and are stored shortly.
ANSWER_WAIT_SECONDS = 10.0


def signed_text(timestamp: str, query: str, body: bytes) -> bytes:
    """What the signature covers: the timestamp, the query string when there is one (it
    chooses the source, so it changes what is stored), and the body."""
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


def items_of(document: Any) -> list[Any]:
    if isinstance(document, dict):
        inner = document.get("items")
        return inner if isinstance(inner, list) else [document]
    if isinstance(document, list):
        return document
    raise InvalidInput('the body must be a JSON object, a list of objects or {"items": [...]}')


def mount(app: web.Application, application: Application) -> None:
    settings = content_settings(application.settings)
    refusals = ThrottledLog(log, "voice webhook")

    async def store(item: InboxItem, receipt: Receipt) -> dict[str, Any]:
        """The inbox's worker: build the records, store them and mark the request done in one
        transaction (a crash before the commit leaves the whole request to be done again)."""
        records: list[VoiceRecord] = []
        rejected = []
        default_source = item.payload["source"]
        for number, entry in enumerate(items_of(json.loads(item.payload["body"])), start=1):
            try:
                if not isinstance(entry, dict):
                    raise ValueError("not a JSON object")
                source = str(entry.get("source") or default_source)[:100]
                columns = resolve_columns(list(entry), None, {})
                records.append(make_record(entry, columns, line=number, source=source, scale=None))
            except (ValueError, InvalidInput) as error:
                rejected.append({"item": number, "reason": getattr(error, "message", str(error))})
        async with application.db.transaction() as session:
            if not await receipt.mark_done(session):  # another worker took it meanwhile
                return {}
            pipeline = await VoicePipeline.load(session, settings.taxonomy(), settings.alerts)
            report = await pipeline.store(session, records, sealer=application.sealer)
            spikes = await detect_spikes(
                session,
                rule=settings.spikes,
                channels=settings.alerts.channels,
                sealer=application.sealer,
            )
        if (report.alerts or spikes) and application.worker is not None:
            application.worker.wake()  # alerts go out now, not at the next poll
        answer = {
            "imported": report.imported,
            "already_there": report.duplicates,
            "rejected": rejected,
            "alerts": report.alerts,
            "spikes": [spike.theme for spike in spikes],
        }
        if receipt.waiter is not None:
            receipt.waiter.offer(answer)
        return answer

    application.inbox.register(INBOX_KIND, store)

    async def webhook(request: web.Request) -> web.Response:
        if not settings.webhook_secret:
            return web.json_response(
                {"error": "the customer-voice webhook is off: set VOICE_WEBHOOK_SECRET"}, status=503
            )
        if not request.headers.get(SIGNATURE_HEADER) or not request.headers.get(TIMESTAMP_HEADER):
            return web.json_response({"error": "the request is not signed"}, status=401)
        try:
            body = await request.read()  # the server refuses bodies over its 1 MB cap
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "the body is over 1 MB"}, status=413)
        if len(body) > MAX_BODY:
            return web.json_response({"error": "the body is over 1 MB"}, status=413)
        query = request.rel_url.raw_query_string
        refusal = verify(settings.webhook_secret, request.headers, body, query)
        if refusal:
            refusals.refused(refusal)
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
        if len(items) > MAX_ITEMS:
            return web.json_response({"error": f"at most {MAX_ITEMS} items a request"}, status=413)
        source = (request.query.get("source") or "webhook")[:100]
        # A signed request is taken once: its signature is its id, so a replay (within the five
        # minutes its timestamp stays fresh) is recognised and changes nothing.
        accepted = await application.inbox.accept(
            PLATFORM,
            INBOX_KIND,
            request.headers[SIGNATURE_HEADER],
            {"body": text, "source": source},
            wait=True,
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
        kept = answer["imported"] or answer["already_there"]
        return web.json_response(answer, status=200 if kept or not answer["rejected"] else 422)

    app.router.add_post(PATH, webhook)
