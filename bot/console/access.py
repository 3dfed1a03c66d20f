"""Who may see which console page, checked on the server for every request."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from bot.app import Application
from bot.console.auth import SignedIn, csrf_matches, resume_session
from bot.domain import Role
from bot.errors import DomainError
from bot.services.permissions import role_allows

COOKIE = "advocacy_console"
APPLICATION = web.AppKey("console_application", Application)
PAGES = (
    ("objectives", "Objectives", (Role.MANAGER, Role.STRATEGIST)),
    ("content", "Content", (Role.STRATEGIST,)),
    ("digests", "Digests", (Role.STRATEGIST,)),
    ("suggestions", "Suggestions", (Role.MANAGER,)),
    ("voice", "Customer voice", (Role.MANAGER, Role.STRATEGIST)),
    ("deliveries", "Deliveries", (Role.ADMIN,)),
)


@dataclass
class Visit:
    """One console request: the database transaction and who is signed in."""

    request: web.Request
    application: Application
    session: AsyncSession
    signed_in: SignedIn

    @property
    def member(self) -> Any:
        return self.signed_in.member

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        pages = [
            (slug, title) for slug, title, roles in PAGES if role_allows(self.member.role, *roles)
        ]
        return aiohttp_jinja2.render_template(
            template,
            self.request,
            {
                "member": self.member,
                "pages": pages,
                "csrf": self.signed_in.csrf_token,
                "notice": self.request.query.get("notice", ""),
                "path": self.request.path,
                **context,
            },
            status=status,
        )


Handler = Callable[[Visit], Awaitable[web.StreamResponse]]


def error_page(request: web.Request, status: int, title: str, text: str) -> web.Response:
    return aiohttp_jinja2.render_template(
        "error.html", request, {"title": title, "text": text, "pages": []}, status=status
    )


def page(
    *roles: Role,
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A console handler: signed in, one of ``roles`` (admins always), CSRF-checked when it
    changes something, all in one transaction that commits when the handler succeeds."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def serve(request: web.Request) -> web.StreamResponse:
            application = request.app[APPLICATION]
            token = request.cookies.get(COOKIE)
            if not token:
                return _sign_in_first(request)
            idle = timedelta(minutes=application.settings.console_idle_minutes)
            async with application.db.transaction() as session:
                signed_in = await resume_session(session, token, idle=idle)
                if signed_in is None:
                    return _sign_in_first(request)
                if roles and not role_allows(signed_in.member.role, *roles):
                    allowed = " or ".join(r.value + "s" for r in roles)
                    return error_page(
                        request,
                        403,
                        "Not for your role",
                        f"This page is for {allowed}. You are signed in as "
                        f"{signed_in.member.display_name} ({signed_in.member.role}).",
                    )
                if request.method == "POST":
                    form = await request.post()
                    if not csrf_matches(signed_in.csrf_token, str(form.get("csrf") or "")):
                        return error_page(
                            request,
                            403,
                            "This form has expired",
                            "The form was not sent from this console session (its security "
                            "token did not match). Go back, reload the page and try again.",
                        )
                try:
                    result = await handler(Visit(request, application, session, signed_in))
                except DomainError as error:
                    # Refused by a service: nothing is kept (the transaction rolls back) and
                    # the person is sent back to the page with the reason.
                    raise back(_section(request.path), error.message) from None
            # A redirect after a form is raised only now, once the work is committed.
            if isinstance(result, web.HTTPException):
                raise result
            return result

        return serve

    return wrap


def _sign_in_first(request: web.Request) -> web.Response:
    return error_page(
        request,
        401,
        "Please sign in",
        "Open the console from chat: type /advocacy console in Slack or console in Teams, and "
        "use the link the bot sends you. An admin without chat can run: advocacy console-link "
        "PLATFORM USER_ID.",
    )


def _section(path: str) -> str:
    """'/console/suggestions/12/answer' -> '/console/suggestions'."""
    return "/".join(path.split("/")[:3])


def back(target: str, notice: str) -> web.HTTPSeeOther:
    """After a form: to ``target`` with a one-line notice (post, redirect, get)."""
    return web.HTTPSeeOther(str(URL(target).with_query(notice=notice)))
