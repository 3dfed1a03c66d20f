"""Opening and closing a console session from a one-time link.

Opening the link (GET) only shows a page with a "Sign in" button: it reads nothing and spends
nothing, so the link scanners of mail and chat, which fetch every link they see, leave it usable.
The button's POST spends the link. It must come from the browser that opened the page: the GET
sets a random pre-session cookie (SameSite=Strict, so no other site's page can send it) and the
form carries the same value; without both, no sign-in (login CSRF: a page elsewhere cannot sign
a visitor in to the attacker's account). Failed attempts are limited per client and in total
(bot/console/attempts.py), and every kind of failure gets the same answer, so a guesser learns
nothing about which tokens exist.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from bot.console.access import APPLICATION, COOKIE, error_page
from bot.console.attempts import SignInAttempts
from bot.console.auth import LINK_TTL, LinkProblem, open_session, use_link
from bot.domain import Role
from bot.i18n import _, ngettext
from bot.services.permissions import role_allows

log = logging.getLogger(__name__)

ATTEMPTS = web.AppKey("console_sign_in_attempts", SignInAttempts)
PRE_SESSION = "advocacy_signin"
PRE_SESSION_PATH = "/console/login"
MAX_TOKEN = 100  # a real one has 43 characters
PRE_SESSION_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")
MINUTES = int(LINK_TTL.total_seconds() // 60)


def _ask_again() -> str:
    return _(
        "Ask the bot for a new one: /advocacy console in Slack, console in Teams or /console in "
        "advocacy shell. An admin without chat can run: advocacy console-link PLATFORM USER_ID."
    )


def _cannot_use() -> str:
    return _(
        "Each link works once, for {minutes} minutes, so that a forwarded or leaked link is "
        "useless; this one has been used, has expired or was cut short. {ask_again}"
    ).format(minutes=MINUTES, ask_again=_ask_again())


def _secure(request: web.Request) -> bool:
    return request.app[APPLICATION].settings.public_url.startswith("https://")


async def sign_in_page(request: web.Request) -> web.StreamResponse:
    """The page a sign-in link opens: a button, no side effect. The token is not looked up."""
    token = request.match_info["token"]
    # A browser that already has one keeps it, so that two links opened in two tabs both work.
    pre_session = request.cookies.get(PRE_SESSION, "")
    if not PRE_SESSION_SHAPE.fullmatch(pre_session):
        pre_session = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "signin.html",
        request,
        {
            "title": _("Sign in to the console"),
            "pages": [],
            "token": token,
            "pre_session": pre_session,
        },
    )
    response.set_cookie(
        PRE_SESSION,
        pre_session,
        max_age=int(LINK_TTL.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
        path=PRE_SESSION_PATH,
    )
    return response


async def sign_in(request: web.Request) -> web.StreamResponse:
    """The button's POST: spends the link and starts the session."""
    application = request.app[APPLICATION]
    attempts = request.app[ATTEMPTS]
    client = request.remote or "unknown"
    wait = attempts.wait_before_next(client)
    if wait:
        log.warning("console sign-in: too many failed attempts; refusing for %d s", wait)
        response = error_page(
            request,
            429,
            _("Too many sign-in attempts"),
            ngettext(
                "Too many sign-in links that could not be used came from here or everywhere in "
                "the last minute. Try again in {count} second. {ask_again}",
                "Too many sign-in links that could not be used came from here or everywhere in "
                "the last minute. Try again in {count} seconds. {ask_again}",
                wait,
            ).format(count=wait, ask_again=_ask_again()),
        )
        response.headers["Retry-After"] = str(wait)
        return response
    form = await request.post()
    if not _from_this_browser(request, str(form.get("signin") or "")):
        return error_page(
            request,
            403,
            _("Sign in from the link itself"),
            _(
                "This sign-in did not come from the page the link opened in this browser. Open "
                "the link the bot sent you again, and press Sign in there."
            ),
        )
    token = str(form.get("token") or "")
    attempts.attempt(client)
    async with application.db.transaction() as session:
        outcome = (
            await use_link(session, token) if 0 < len(token) <= MAX_TOKEN else LinkProblem.UNKNOWN
        )
        if isinstance(outcome, LinkProblem):
            log.info("console sign-in refused: link %s", outcome.value)
            return error_page(request, 403, _("This sign-in link cannot be used"), _cannot_use())
        cookie = await open_session(session, outcome)
        role = outcome.role
    attempts.succeeded(client)
    landing = (
        "/console/objectives" if role_allows(role, Role.MANAGER, Role.STRATEGIST) else "/console/"
    )
    response = web.HTTPSeeOther(landing)
    response.set_cookie(
        COOKIE, cookie, httponly=True, samesite="Lax", secure=_secure(request), path="/console"
    )
    response.del_cookie(PRE_SESSION, path=PRE_SESSION_PATH)
    raise response


def _from_this_browser(request: web.Request, echoed: str) -> bool:
    """The form's pre-session value matches this browser's cookie, and, where the browser says
    where the form came from, it came from this site."""
    cookie = request.cookies.get(PRE_SESSION, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), echoed.encode()):
        return False
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    # With Referrer-Policy: no-referrer, browsers send "Origin: null" even from this site's
    # own page; only a named other site is refused here (the cookie check above is the lock).
    origin = request.headers.get("Origin", "null")
    if origin == "null":
        return True
    public = urlsplit(request.app[APPLICATION].settings.public_url).netloc
    return urlsplit(origin).netloc in (request.host, public)


async def signed_out(request: web.Request) -> web.StreamResponse:
    return error_page(
        request,
        200,
        _("Signed out"),
        _("You are signed out of the console. {ask_again}").format(ask_again=_ask_again()),
    )
