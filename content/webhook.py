"""``POST /voice/webhook``: a helpdesk or survey tool pushes customer voice as it arrives.

Requests are signed like Slack's: ``X-Advocacy-Signature: sha256=HEX`` where HEX is the
HMAC-SHA256, with ``VOICE_WEBHOOK_SECRET``, of ``TIMESTAMP.BODY``, and ``TIMESTAMP`` (Unix
seconds) is sent as ``X-Advocacy-Timestamp``. Unsigned, wrongly signed or stale (over five
minutes) requests get 401; while no secret is set, every request is refused.
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
from content.settings import content_settings
from content.voice_import import make_record, resolve_columns
from content.voice_pipeline import VoicePipeline, VoiceRecord

log = logging.getLogger(__name__)

PATH = "/voice/webhook"
SIGNATURE_HEADER = "X-Advocacy-Signature"
TIMESTAMP_HEADER = "X-Advocacy-Timestamp"
MAX_AGE_SECONDS = 300
MAX_BODY = 1024 * 1024
MAX_ITEMS = 1000


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, headers: Any, body: bytes, now: float | None = None) -> str | None:
    """None when the request is authentic and fresh, else why it is refused."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        return "the request is not signed"
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return "the timestamp is not a number"
    if age > MAX_AGE_SECONDS:
        return "the request is stale (over five minutes old)"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return "the signature does not match"
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

    async def webhook(request: web.Request) -> web.Response:
        if not settings.webhook_secret:
            return web.json_response(
                {"error": "the customer-voice webhook is off: set VOICE_WEBHOOK_SECRET"}, status=503
            )
        try:
            body = await request.read()  # the server refuses bodies over its 1 MB cap
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "the body is over 1 MB"}, status=413)
        if len(body) > MAX_BODY:
            return web.json_response({"error": "the body is over 1 MB"}, status=413)
        refusal = verify(settings.webhook_secret, request.headers, body)
        if refusal:
            log.warning("voice webhook refused: %s", refusal)
            return web.json_response({"error": refusal}, status=401)
        try:
            items = items_of(json.loads(body.decode("utf-8")))
        except UnicodeDecodeError as error:
            return web.json_response(
                {"error": f"the body is not UTF-8 (byte {error.start}); send JSON in UTF-8"},
                status=400,
            )
        except (json.JSONDecodeError, InvalidInput) as error:
            return web.json_response({"error": f"not valid: {error}"}, status=400)
        if len(items) > MAX_ITEMS:
            return web.json_response({"error": f"at most {MAX_ITEMS} items a request"}, status=413)
        default_source = request.query.get("source") or "webhook"
        records: list[VoiceRecord] = []
        rejected = []
        for number, item in enumerate(items, start=1):
            try:
                if not isinstance(item, dict):
                    raise ValueError("not a JSON object")
                source = str(item.get("source") or default_source)[:100]
                columns = resolve_columns(list(item), None, {})
                records.append(make_record(item, columns, line=number, source=source, scale=None))
            except (ValueError, InvalidInput) as error:
                rejected.append({"item": number, "reason": getattr(error, "message", str(error))})
        async with application.db.transaction() as session:
            pipeline = await VoicePipeline.load(session, settings.taxonomy(), settings.alerts)
            report = await pipeline.store(session, records, sealer=application.sealer)
        if report.alerts and application.worker is not None:
            application.worker.wake()  # alerts go out now, not at the next poll
        return web.json_response(
            {
                "imported": report.imported,
                "already_there": report.duplicates,
                "rejected": rejected,
                "alerts": report.alerts,
            },
            status=200 if records or not rejected else 422,
        )

    app.router.add_post(PATH, webhook)
