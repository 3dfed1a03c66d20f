"""What the outbox should do about a failed Bot Framework Connector call: retry (with the
service's Retry-After), or dead-letter at once."""

from __future__ import annotations

import aiohttp
from msrest.exceptions import ClientRequestError

from bot.platform import DeliveryError

RETRYABLE = frozenset({412, 429, 502, 504})


class DroppedConnection(Exception):
    """The connection closed before an answer (a kept-alive one the service closed while idle,
    say): the request may never have reached the service, so it may be sent once more."""


def delivery_error(error: Exception) -> Exception:
    """What the outbox should do about a failed Connector call."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(
        error, aiohttp.ClientError | TimeoutError | ClientRequestError | DroppedConnection
    ):
        # ClientRequestError: botbuilder's own retries ran out without an HTTP status;
        # DroppedConnection: a proactive send's connection closed twice (sender.py).
        return DeliveryError(f"Teams did not answer: {cause(error)}")
    status, retry_after = http_status(error)
    if status is None:
        return error  # a bug, not a delivery problem: let it be seen
    if status in RETRYABLE or status >= 500:
        return DeliveryError(f"Teams answered HTTP {status}", retry_after=retry_after)
    if status == 401:
        # The Connector refused the bot's own credentials: no message can go until they are fixed.
        return DeliveryError(
            "Teams refused the bot's credentials (HTTP 401): check MICROSOFT_APP_ID, "
            "MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID",
            platform_down=True,
        )
    return DeliveryError(f"Teams refused the message (HTTP {status})", permanent=True)


def cause(error: BaseException) -> str:
    """The innermost reason (msrest wraps the requests error, which wraps the socket's)."""
    while error.__cause__ is not None or getattr(error, "inner_exception", None) is not None:
        error = error.__cause__ or error.inner_exception  # type: ignore[attr-defined]
    return f"{type(error).__name__}: {error}"[:300]


def http_status(error: Exception) -> tuple[int | None, float | None]:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    if status is None:
        return None, None
    headers = getattr(response, "headers", None) or {}
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        retry_after = float(raw) if raw is not None else None
    except ValueError:
        retry_after = None
    return int(status), retry_after
