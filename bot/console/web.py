"""Mounting the console on the bot's aiohttp application: templates, static files, routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from bot.app import Application
from bot.compose.authorship import shown_author
from bot.compose.suggestion_cards import status_label
from bot.console import labels, pages, shown
from bot.console.access import APPLICATION
from bot.console.attempts import SignInAttempts
from bot.console.headers import console_headers
from bot.console.language import console_language, current_language, html_lang
from bot.console.signin import ATTEMPTS, sign_in, sign_in_page, signed_out
from bot.i18n import _, ngettext
from bot.text_safety import in_written_order

HERE = Path(__file__).parent


def _in_written_order(value: Any) -> Any:
    """Everything a template shows: people's text in the order they wrote it, with no
    direction override ("\u202eevil" showing as "live") and without losing markup's safety."""
    if isinstance(value, Markup):
        return Markup(in_written_order(str(value)))
    return in_written_order(value) if isinstance(value, str) else value


# The templates fill placeholders with .format(name=...) like the rest of the code, and Jinja's
# new-style gettext then applies "%" to every message: a translation saying "15 %" must not
# break the page, so a "%" comes back from it as itself.
def _template_gettext(message: str) -> str:
    return _(message).replace("%", "%%")


def _template_ngettext(singular: str, plural: str, count: int) -> str:
    return ngettext(singular, plural, count).replace("%", "%%")


# How the console's Jinja environment is made (also by tests that render its templates alone).
TEMPLATE_OPTIONS: dict[str, Any] = {
    "loader": jinja2.FileSystemLoader(HERE / "templates"),
    "autoescape": jinja2.select_autoescape(default=True),
    "undefined": jinja2.StrictUndefined,
    "finalize": _in_written_order,
    "extensions": ["jinja2.ext.i18n"],
}


def prepare_templates(templates: jinja2.Environment) -> None:
    """What the templates call besides their context: gettext, dates and numbers, labels."""
    # {{ _("...") }} and ngettext in the templates speak the request's language (a context
    # variable set by console_language and the session), looked up when the page renders.
    templates.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True
    )
    templates.globals["html_lang"] = html_lang  # <html lang="pt-BR">
    templates.globals["current_language"] = current_language  # "Deutsch", in the header
    templates.globals["status_label"] = status_label  # "Planned" / "予定", as the chat cards
    templates.globals["shown_author"] = shown_author  # an anonymous idea: no author, no team
    templates.filters.update(shown.FILTERS)  # dates and numbers in the reader's language
    templates.filters.update(labels.FILTERS)  # roles, statuses and kinds by name


def mount_console(app: web.Application, application: Application) -> None:
    app[APPLICATION] = application
    app[ATTEMPTS] = SignInAttempts()
    app.on_response_prepare.append(console_headers)
    app.middlewares.append(console_language)
    templates = aiohttp_jinja2.setup(app, **TEMPLATE_OPTIONS)
    prepare_templates(templates)
    app.router.add_static("/console/static", HERE / "static", name="console_static")
    routes = [
        web.get("/console/login/{token}", sign_in_page),
        web.post("/console/login", sign_in),
        web.get("/console/signed-out", signed_out),
        web.post("/console/sign-out", pages.sign_out),
        web.get("/console/settings", pages.settings),
        web.post("/console/settings", pages.choose_language),
        web.get("/console/", pages.home, name="console_home"),
        web.get("/console/objectives", pages.objectives),
        web.get("/console/objectives/chart.png", pages.objectives_chart_png),
        web.get("/console/objectives/kpi.png", pages.kpi_chart_png),
        web.post("/console/objectives/readings", pages.record_kpi),
        web.get("/console/suggestions", pages.suggestions),
        web.post("/console/suggestions/{id:\\d+}/answer", pages.answer),
        web.post("/console/suggestions/{id:\\d+}/merge", pages.merge),
        web.post("/console/suggestions/{id:\\d+}/hide", pages.hide),
        web.get("/console/content", pages.content),
        web.post("/console/content", pages.add_content),
        web.post("/console/content/{id:\\d+}/{verdict:approve|reject}", pages.review),
        web.post("/console/content/{id:\\d+}/edit", pages.edit_content),
        web.get("/console/digests", pages.digests),
        web.post("/console/digests", pages.add_digest),
        web.post(
            "/console/digests/{name}/{action:pause|resume|delete|run|edit}", pages.change_digest
        ),
        web.get("/console/voice", pages.voice),
        web.get("/console/voice/chart.png", pages.voice_chart_png),
        web.get("/console/deliveries", pages.deliveries),
        web.post("/console/deliveries/retry", pages.retry),
    ]
    app.router.add_routes(routes)
