"""The app's personal tab: a small page Teams shows in a frame, opening the console.

The console itself refuses to be framed (``frame-ancestors 'none'``: it is a page people sign in
to, and a frame is how clickjacking works), so the tab does not frame it: its page, which only
Teams' own hosts may frame, links to the console in the browser, and the tab's ``websiteUrl``
(Teams' "open in browser") goes straight there.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from bot.i18n import N_, _, accepted_locale, speaking

TAB_PATH = "/teams/tab"
# Where Teams (desktop, web, and Microsoft 365's hosts of Teams apps) frames a tab's page.
TEAMS_FRAME_HOSTS = (
    "https://teams.microsoft.com",
    "https://*.teams.microsoft.com",
    "https://*.teams.microsoft.us",
    "https://*.cloud.microsoft",
    "https://*.office.com",
    "https://*.microsoft365.com",
    "https://*.skype.com",
)
TAB_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    f"frame-ancestors {' '.join(TEAMS_FRAME_HOSTS)}"
)
TAB_TITLE = N_("Advocacy console")
TAB_TEXT = N_(
    "Rollups, ideas waiting for an answer, content and digests: the console opens in your "
    "browser, where you sign in once."
)
TAB_LINK = N_("Open the console")


def tab_page(console_url: str, language: str | None = None) -> str:
    """The page in ``language`` (the Teams client's, from Accept-Language)."""
    link = escape(console_url, quote=True)
    with speaking(language) as locale:
        title, text, label = _(TAB_TITLE), _(TAB_TEXT), _(TAB_LINK)
    return (
        f"<!doctype html><html lang={locale.replace('_', '-')}><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:'Segoe UI',sans-serif;margin:2rem;line-height:1.5}"
        "a{font-weight:600}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>"
        f'<p><a href="{link}" target="_blank" rel="noopener noreferrer">{escape(label)}</a>'
        "</p></body></html>"
    )


def mount_tab(app: web.Application, console_url: str) -> None:
    """Serve the tab's page. Its Content-Security-Policy lets Teams frame it (the server's
    default allows no frame), and it goes without ``X-Frame-Options``, which cannot name
    Teams (the server adds ``DENY`` to every answer; it is taken off this one as it leaves)."""

    async def handle(request: web.Request) -> web.Response:
        page = tab_page(console_url, accepted_locale(request.headers.get("Accept-Language")))
        response = web.Response(text=page, content_type="text/html")
        response.headers["Content-Security-Policy"] = TAB_POLICY
        response.headers["Vary"] = "Accept-Language"  # a cache must not serve it in another
        return response

    async def frameable(request: web.Request, response: web.StreamResponse) -> None:
        if request.path == TAB_PATH and response.headers.get("Content-Security-Policy") == (
            TAB_POLICY
        ):
            response.headers.pop("X-Frame-Options", None)

    app.router.add_get(TAB_PATH, handle)
    app.on_response_prepare.append(frameable)
