"""Who may talk to the Teams adapter when it has no MICROSOFT_APP_ID: a local emulator only.

Without an app id no token is checked, so the peer's address is all there is to go on. A
reverse proxy on the same host (nginx or Caddy in front of ``advocacy serve`` on 127.0.0.1, for
TLS, as Slack requires) or a sidecar makes every request from the internet come from loopback:
a request that passed a proxy is not from this machine. And an emulator's connector runs here,
so a ``serviceUrl`` elsewhere (which the bot would then post replies to) is refused too.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

# Headers a proxy adds to say whom it forwards for (RFC 7239 and the de facto ones).
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")
WITHOUT_APP_ID = "This bot has no MICROSOFT_APP_ID: it only serves local emulators"


def refusal_without_app_id(request: web.Request) -> str | None:
    """Why this request is not from a local emulator, or None when it may be."""
    if not is_loopback(request.remote):
        return f"{WITHOUT_APP_ID}."
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return f"{WITHOUT_APP_ID}, and this request came through a proxy."
    return None


def local_service_url(service_url: str | None) -> bool:
    """Whether replies to this serviceUrl stay on this machine."""
    host = urlsplit(service_url or "").hostname or ""
    return host == "localhost" or is_loopback(host)


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
