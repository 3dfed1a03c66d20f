"""Who may see which console page, checked on the server for every request."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Application
from bot.console.auth import SignedIn, csrf_matches, resume_session
from bot.console.labels import ROLES
from bot.console.language import speak_member
from bot.console.notices import Notice, keep_notice, keep_notice_for, take_notice
from bot.console.refused_forms import RefusedForm
from bot.console.sections import PAGES
from bot.domain import Role
from bot.errors import DomainError
from bot.i18n import N_, _
from bot.services.permissions import role_allows

COOKIE = "advocacy_console"
APPLICATION = web.AppKey("console_application", Application)
Form = MultiDictProxy[Any]


@dataclass
class Visit:
    """One console request: the database transaction, who is signed in, and what was read from
    the network before the transaction began (see ``page(prepare=...)``)."""

    request: web.Request
    application: Application
    session: AsyncSession
    signed_in: SignedIn
    prepared: Any = None
    refused: RefusedForm | None = None  # the page is shown again for a form it refused

    @property
    def member(self) -> Any:
        return self.signed_in.member

    @property
    def query(self) -> Any:
        """The address's values; none when the page is shown again for a refused form (they
        are what was refused: the page is shown as it is without them)."""
        return MultiDictProxy(MultiDict()) if self.refused else self.request.query

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        pages = [
            (slug, _(title))
            for slug, title, roles in PAGES
            if role_allows(self.member.role, *roles)
        ]
        return aiohttp_jinja2.render_template(
            template,
            self.request,
            {
                "member": self.member,
                "pages": pages,
                "csrf": self.signed_in.csrf_token,
                "notice": take_notice(self.signed_in.record),
                "path": self.request.path,
                "refused": self.refused,
                **context,
            },
            status=UNPROCESSABLE if self.refused else status,
        )

    def back(self, target: str, text: str) -> web.HTTPSeeOther:
        """After a form: to ``target``, which then says ``text`` (post, redirect, get). The
        notice is committed with the work, so it shows only if the work was kept."""
        keep_notice(self.signed_in.record, Notice(text))
        return web.HTTPSeeOther(target)


Handler = Callable[[Visit], Awaitable[web.StreamResponse]]
Served = Callable[..., Awaitable[web.StreamResponse]]
# A page shown again for a form it refused: the request was understood but not done.
UNPROCESSABLE = 422
# The console's pages (wrapped handlers), so that a refused form can find the page to show again.
_PAGES: set[Served] = set()
# Reads what a handler needs from the network, outside any transaction (no database lock is
# held while a slow page loads); a DomainError refuses the request with its message.
Prepare = Callable[[web.Request, Form | None], Awaitable[Any]]


def error_page(request: web.Request, status: int, title: str, text: str) -> web.Response:
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {"title": title, "text": text, "pages": [], "refused": None},
        status=status,
    )


def page(
    *roles: Role, prepare: Prepare | None = None
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A console handler: signed in, one of ``roles`` (admins always), CSRF-checked when it
    changes something, all in one transaction that commits when the handler succeeds.

    With ``prepare``, the person is admitted in a short transaction first, then ``prepare``
    runs with no transaction open, then the handler runs in a second one: no network call is
    ever made inside a database transaction."""

    def wrap(handler: Handler) -> Served:
        @functools.wraps(handler)
        async def serve(
            request: web.Request, refused: RefusedForm | None = None
        ) -> web.StreamResponse:
            """With ``refused``, the page is shown again for a form it refused (the request
            was admitted and its CSRF token checked already)."""
            application = request.app[APPLICATION]
            cookie = request.cookies.get(COOKIE)
            if not cookie:
                return _sign_in_first(request)
            form = await request.post() if request.method == "POST" and not refused else None
            try:
                prepared = None
                if prepare is not None and refused is None:
                    async with application.db.transaction() as session:
                        admitted = await _admit(request, session, cookie, roles, form)
                    if isinstance(admitted, web.Response):
                        return admitted
                    prepared = await prepare(request, form)
                async with application.db.transaction() as session:
                    admitted = await _admit(request, session, cookie, roles, form)
                    if isinstance(admitted, web.Response):
                        return admitted
                    visit = Visit(request, application, session, admitted, prepared, refused)
                    result = await handler(visit)
            except DomainError as error:
                # Refused by a service: nothing is kept (the transaction rolled back).
                if refused is not None:  # the page failed to show again: say so on its own
                    return await _noticed(request, application, cookie, refused.message)
                return await _refused(request, application, cookie, error, form)
            # A redirect after a form is raised only now, once the work is committed.
            if isinstance(result, web.HTTPException):
                raise result
            return result

        _PAGES.add(serve)
        return serve

    return wrap


async def _admit(
    request: web.Request,
    session: AsyncSession,
    cookie: str,
    roles: tuple[Role, ...],
    form: Form | None,
) -> SignedIn | web.Response:
    """The signed-in person, or the page that says why they may not go on."""
    application = request.app[APPLICATION]
    idle = timedelta(minutes=application.settings.console_idle_minutes)
    signed_in = await resume_session(session, cookie, idle=idle)
    if signed_in is None:
        return _sign_in_first(request)
    speak_member(signed_in.member.locale)  # the rest of the request in the member's language
    if roles and not role_allows(signed_in.member.role, *roles):
        return error_page(
            request,
            403,
            _("Not for your role"),
            _("This page is for {roles}. You are signed in as {name} ({role}).").format(
                roles=_roles_text(roles),
                name=signed_in.member.display_name,
                role=_(ROLES.get(signed_in.member.role, signed_in.member.role)),
            ),
        )
    if form is not None and not csrf_matches(signed_in.csrf_token, str(form.get("csrf") or "")):
        return error_page(
            request,
            403,
            _("This form has expired"),
            _(
                "The form was not sent from this console session (its security "
                "token did not match). Go back, reload the page and try again."
            ),
        )
    return signed_in


# Who a page is for, as its refusal names them ("This page is for managers or strategists.").
_ROLES_TEXT = {
    (Role.MANAGER, Role.STRATEGIST): N_("managers or strategists"),
    (Role.STRATEGIST,): N_("strategists"),
    (Role.MANAGER,): N_("managers"),
    (Role.ADMIN,): N_("admins"),
}


def _roles_text(roles: tuple[Role, ...]) -> str:
    text = _ROLES_TEXT.get(roles)
    return _(text) if text else " / ".join(_(ROLES.get(r, r)) for r in roles)


async def _refused(
    request: web.Request,
    application: Application,
    cookie: str,
    error: DomainError,
    form: Form | None,
) -> web.StreamResponse:
    """The page of a refused form, shown again with what was typed and why, beside the field
    the reason is about (a redirect would empty the form and show the reason far from it). A
    page asked for with bad values in its address is shown without them, saying why; with
    none, a page of its own explains."""
    if request.method == "GET" and not request.query_string:
        return error_page(request, 400, _("This page cannot be shown"), error.message)
    page = _page_at(request, request.path if request.method == "GET" else _section(request.path))
    if page is None:
        return await _noticed(request, application, cookie, error.message)
    sent = form if form is not None else request.query
    # A POST that names no form (not sent from a console page) matches none of the page's forms.
    form_id = str(sent.get("form") or "") if form is not None else None
    return await page(request, refused=RefusedForm.of(form_id, sent, error))


def _page_at(request: web.Request, path: str) -> Served | None:
    """The console page served at ``path`` (GET), if there is one."""
    for route in request.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if route.method == "GET" and info.get("path") == path and route.handler in _PAGES:
            return route.handler
    return None


async def _noticed(
    request: web.Request, application: Application, cookie: str, message: str
) -> web.StreamResponse:
    """Back to the section's page, which shows ``message`` as a refusal at its top."""
    target = request.path if request.method == "GET" else _section(request.path)
    async with application.db.transaction() as session:
        await keep_notice_for(session, cookie, Notice(message, refused=True))
    raise web.HTTPSeeOther(target)


def _sign_in_first(request: web.Request) -> web.Response:
    return error_page(
        request,
        401,
        _("Please sign in"),
        _(
            "Open the console from chat: type /advocacy console in Slack, console in Teams or "
            "/console in advocacy shell, and use the link the bot sends you. An admin without "
            "chat can run: advocacy console-link PLATFORM USER_ID."
        ),
    )


def _section(path: str) -> str:
    """'/console/suggestions/12/answer' -> '/console/suggestions'."""
    return "/".join(path.split("/")[:3])
