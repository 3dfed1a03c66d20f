"""``POST /webhooks/kpi``: a BI tool or help desk pushes KPI readings as it measures them.

The body is ``{"readings": [{"objective": "reply-within-1h", "date": "2026-12-01",
"value": 52}]}``. Signed with ``KPI_WEBHOOK_SECRET`` by the rules every signed webhook follows
(bot/signed_webhook.py: the voice webhook's signature, freshness and replay refusal, acknowledged
once the request is durably in the inbox). Each reading is checked on its own: the answer lists
the rejected ones by number (1 is the first) and why, and the good ones are kept. A day's reading
sent again with the same value is unchanged, so a resent batch changes nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot.app import Application
from bot.domain import KpiSource
from bot.errors import DomainError, InvalidInput
from bot.inbox import InboxItem, Receipt
from bot.quiet_log import ThrottledLog
from bot.services.kpi_import import ImportReport, Problem, Reading, check_reading, store_readings
from bot.services.objectives import list_objectives
from bot.services.permissions import OPERATOR
from bot.signed_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignedWebhook

log = logging.getLogger(__name__)

PATH = "/webhooks/kpi"
SECRET_SETTING = "KPI_WEBHOOK_SECRET"
HEADERS = (SIGNATURE_HEADER, TIMESTAMP_HEADER)
MAX_READINGS = 5000
PLATFORM = "kpi"
INBOX_KIND = "kpi.webhook"
EXAMPLE = '{"readings": [{"objective": "KEY", "date": "YYYY-MM-DD", "value": 52}]}'


def readings_of(document: Any) -> list[Any]:
    inner = document.get("readings") if isinstance(document, dict) else None
    if not isinstance(inner, list):
        raise InvalidInput(f"the body must be {EXAMPLE}")
    return inner


def secret_of(application: Application) -> str | None:
    return (application.settings.env.get(SECRET_SETTING) or "").strip() or None


def mount(app: web.Application, application: Application) -> None:
    secret = secret_of(application)
    if secret:
        log.info("KPI webhook on at %s", PATH)
    else:
        log.info("KPI webhook off (set %s to take readings at %s)", SECRET_SETTING, PATH)
    signed = SignedWebhook(
        secret,
        f"the KPI webhook is off: set {SECRET_SETTING}",
        ThrottledLog(log, "KPI webhook"),
        PLATFORM,
        INBOX_KIND,
    )

    async def store(item: InboxItem, receipt: Receipt) -> dict[str, Any]:
        """The inbox's worker: check every reading, store the good ones and mark the request
        done in one transaction (a crash before the commit leaves it all to be done again)."""
        report = ImportReport()
        async with application.db.transaction() as session:
            if not await receipt.mark_done(session):  # another worker took it meanwhile
                return {}
            objectives = {o.key: o for o in await list_objectives(session)}
            good: list[Reading] = []
            seen: dict[tuple[str, Any], int] = {}
            entries = readings_of(json.loads(item.payload["body"]))
            for number, entry in enumerate(entries, start=1):
                try:
                    if not isinstance(entry, dict):
                        raise InvalidInput("not a JSON object")
                    reading = check_reading(number, entry, objectives)
                    first = seen.setdefault((reading.objective.key, reading.day), number)
                    if first != number:
                        raise InvalidInput(
                            f"{reading.objective.key} on {reading.day.isoformat()} is already "
                            f"reading {first}; a day has one reading"
                        )
                except DomainError as error:
                    report.reject(Problem(number, error.message))
                    continue
                good.append(reading)
            await store_readings(session, OPERATOR, good, report, KpiSource.WEBHOOK)
        answer = {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": [{"reading": p.line, "reason": p.message} for p in report.rejected],
        }
        if receipt.waiter is not None:
            receipt.waiter.offer(answer)
        return answer

    application.inbox.register(INBOX_KIND, store)

    async def webhook(request: web.Request) -> web.Response:
        answer = await signed.receive(
            request, application, readings_of, MAX_READINGS, lambda text: {"body": text}
        )
        if isinstance(answer, web.Response):
            return answer
        kept = answer["added"] + answer["updated"] + answer["unchanged"]
        return web.json_response(answer, status=200 if kept or not answer["rejected"] else 422)

    app.router.add_post(PATH, webhook)
