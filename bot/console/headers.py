"""Security headers: what a browser may do with the console's pages, and with every other answer.

The console is a page people trust and sign in to, so it allows only its own styles, images and
forms: no script at all (none is needed), no framing by another site (clickjacking), no
``<base>`` rewriting, forms that post only back to it. ``Referrer-Policy: no-referrer`` keeps the
sign-in token in the address from leaking to anything a page loads or links to, and
``Cache-Control: no-store`` keeps signed-in pages out of shared and back-button caches.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

# Images may come from https sites: a content preview shows the article's own picture.
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; img-src 'self' https:; "
    "style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Everything else the server answers (JSON, images, redirects) is never a page to run or frame.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
CONSOLE = "/console"
CONSOLE_STATIC = "/console/static/"


def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set the headers for ``request``'s answer, keeping any a handler chose itself."""
    for name, value in EVERY_ANSWER.items():
        response.headers.setdefault(name, value)
    path = request.path
    if path == CONSOLE or path.startswith(CONSOLE + "/"):
        response.headers.setdefault("Content-Security-Policy", CONSOLE_POLICY)
        if not path.startswith(CONSOLE_STATIC):
            response.headers["Cache-Control"] = "no-store"
    else:
        response.headers.setdefault("Content-Security-Policy", API_POLICY)


async def console_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook for the console's own answers (bot/console/web.py); it sees
    every answer, including redirects raised as exceptions and static files."""
    if request.path == CONSOLE or request.path.startswith(CONSOLE + "/"):
        add_security_headers(request, response)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The same headers on every answer of the application (``build_web_app``'s middlewares)."""
    try:
        response = await handler(request)
    except web.HTTPException as answer:
        add_security_headers(request, answer)
        raise
    add_security_headers(request, response)
    return response
