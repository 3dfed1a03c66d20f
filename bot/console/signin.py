"""Opening and closing a console session from a one-time link."""

from __future__ import annotations

from aiohttp import web

from bot.console.access import APPLICATION, COOKIE, error_page
from bot.console.auth import LINK_TTL, LinkProblem, open_session, use_link
from bot.domain import Role
from bot.services.permissions import role_allows

ASK_AGAIN = (
    "Ask the bot for a new one: /advocacy console in Slack, or console in Teams. An admin "
    "without chat can run: advocacy console-link PLATFORM USER_ID."
)
PROBLEMS = {
    LinkProblem.EXPIRED: (
        410,
        "This sign-in link has expired",
        f"Sign-in links work for {int(LINK_TTL.total_seconds() // 60)} minutes. {ASK_AGAIN}",
    ),
    LinkProblem.USED: (
        410,
        "This sign-in link was already used",
        f"Each link works once, so that a forwarded or leaked link is useless. {ASK_AGAIN}",
    ),
    LinkProblem.UNKNOWN: (
        404,
        "This sign-in link is not valid",
        f"It may be cut short. {ASK_AGAIN}",
    ),
}


async def sign_in(request: web.Request) -> web.StreamResponse:
    application = request.app[APPLICATION]
    async with application.db.transaction() as session:
        outcome = await use_link(session, request.match_info["token"])
        if isinstance(outcome, LinkProblem):
            status, title, text = PROBLEMS[outcome]
            return error_page(request, status, title, text)
        token = await open_session(session, outcome)
        role = outcome.role
    landing = (
        "/console/objectives" if role_allows(role, Role.MANAGER, Role.STRATEGIST) else "/console/"
    )
    response = web.HTTPSeeOther(landing)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=application.settings.public_url.startswith("https://"),
        path="/console",
    )
    raise response


async def signed_out(request: web.Request) -> web.StreamResponse:
    return error_page(request, 200, "Signed out", "You are signed out of the console. " + ASK_AGAIN)
