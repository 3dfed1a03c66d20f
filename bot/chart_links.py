"""Signed, expiring chart URLs: Slack and Teams fetch a card's image from this server without a
session, so the URL itself is the permission, and it stops working after a while."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from bot.i18n import _
from bot.links import _b64, _unb64

DEFAULT_TTL_SECONDS = 7 * 24 * 3600  # a card stays readable for a week after it was sent


@dataclass(frozen=True)
class ChartRequest:
    chart: str
    period_days: int


class ChartLinkError(ValueError):
    """The link was altered, or has expired: say which, plainly."""


class ChartLinks:
    def __init__(self, secret: str, public_url: str) -> None:
        self._key = hashlib.sha256(b"advocacy-charts-v1:" + secret.encode()).digest()
        self.public_url = public_url.rstrip("/")

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def url_for(
        self,
        chart: str,
        period_days: int,
        *,
        ttl: int = DEFAULT_TTL_SECONDS,
        now: float | None = None,
    ) -> str:
        expires = int((now if now is not None else time.time()) + ttl)
        payload = json.dumps({"c": chart, "p": period_days, "e": expires}, separators=(",", ":"))
        data = payload.encode()
        return f"{self.public_url}/charts/{_b64(data)}.{_b64(self._sign(data))}.png"

    def read(self, token: str, *, now: float | None = None) -> ChartRequest:
        try:
            encoded, signature = token.removesuffix(".png").split(".", 1)
            payload = _unb64(encoded)
            valid = hmac.compare_digest(self._sign(payload), _unb64(signature))
            data = json.loads(payload) if valid else None
        except (ValueError, TypeError):
            valid, data = False, None
        if not valid or not isinstance(data, dict):
            raise ChartLinkError(_("This chart link is not valid: it was altered or cut short."))
        if int(data.get("e", 0)) < (now if now is not None else time.time()):
            raise ChartLinkError(_("This chart link has expired; ask the bot for a fresh report."))
        return ChartRequest(str(data.get("c")), int(data.get("p", 30)))
