"""``POST /voice/webhook``: a helpdesk or survey tool pushes customer voice as it arrives.

Signed with ``VOICE_WEBHOOK_SECRET`` by the rules every signed webhook follows
(bot/signed_webhook.py: ``X-Advocacy-Signature`` over ``TIMESTAMP[.QUERY].BODY``, stale or
replayed requests refused, acknowledged once durably in the inbox). The query string
``source=helpdesk`` chooses the items' source, so it is signed too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot.app import Application
from bot.errors import InvalidInput
from bot.inbox import InboxItem, Receipt
from bot.quiet_log import ThrottledLog
from bot.signed_webhook import (
    ANSWER_WAIT_SECONDS,
    MAX_AGE_SECONDS,
    MAX_BODY,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignedWebhook,
    sign,
    signed_text,
    verify,
)
from content.settings import content_settings
from content.voice.evidence import weigh_stored
from content.voice.file_import import make_record, resolve_columns
from content.voice.pipeline import VoicePipeline, VoiceRecord
from content.voice.spikes import detect_spikes

log = logging.getLogger(__name__)

# Kept importable from here: the webhook's senders and tests sign with them.
__all__ = [
    "ANSWER_WAIT_SECONDS",
    "MAX_AGE_SECONDS",
    "MAX_BODY",
    "PATH",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "mount",
    "sign",
    "signed_text",
    "verify",
]

PATH = "/voice/webhook"
MAX_ITEMS = 1000
PLATFORM = "voice"
INBOX_KIND = "voice.webhook"


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
        # The sender has its answer: the ideas these items support are weighed after it.
        await weigh_stored(application.db, application.extensions.evidence, report.stored)
        return answer

    application.inbox.register(INBOX_KIND, store)

    signed = SignedWebhook(
        settings.webhook_secret,
        "the customer-voice webhook is off: set VOICE_WEBHOOK_SECRET",
        refusals,
        PLATFORM,
        INBOX_KIND,
    )

    async def webhook(request: web.Request) -> web.Response:
        source = (request.query.get("source") or "webhook")[:100]
        answer = await signed.receive(
            request,
            application,
            items_of,
            MAX_ITEMS,
            lambda text: {"body": text, "source": source},
        )
        if isinstance(answer, web.Response):
            return answer
        kept = answer["imported"] or answer["already_there"]
        return web.json_response(answer, status=200 if kept or not answer["rejected"] else 422)

    app.router.add_post(PATH, webhook)
