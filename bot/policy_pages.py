"""Short privacy and terms pages served by the bot itself, so the Teams app package (which must
link to both) points at pages that say something true about this bot, not at /healthz.

Anyone may open them, signed in or not: they are written in the language the browser asks for
(``Accept-Language``), else the workspace's. An organisation with its own policies passes their
addresses to ``advocacy teams package``."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.i18n import N_, _, accepted_locale, default_locale, speaking

PRIVACY_PATH = "/privacy"
TERMS_PATH = "/terms"

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body>
<h1>{title}</h1>
{body}
</body></html>
"""


def _privacy() -> str:
    # Translators: HTML; keep the tags (<strong>, <em>) as they are.
    items = (
        _(
            "<strong>Who you are:</strong> your chat account's id, your name, team, manager, role "
            "and time zone, from your organisation's HR file or the chat platform's directory."
        ),
        _(
            "<strong>What you do with what it sends:</strong> Useful / Not relevant, reactions, "
            "comments, and clicks on its share links (counted once, to measure whether content "
            "helped)."
        ),
        _(
            "<strong>Your ideas and votes</strong>, and the answers they get. An idea sent "
            "<em>anonymously</em> keeps its author only in sealed form, opened by the bot alone to "
            "tell you what became of it: no manager, report, export or log shows or hints at who "
            "wrote it."
        ),
        _("<strong>Your preferences</strong> (what you receive, and when)."),
    )
    return "\n".join(
        (
            "<p>"
            + _(
                "This bot is run by your organisation on its own server. What it keeps stays in "
                "that server's database; it sends nothing to anyone but the chat platform that "
                "carries its messages."
            )
            + "</p>",
            "<ul>",
            *(f"<li>{item}</li>" for item in items),
            "</ul>",
            "<p>"
            + _(
                "Customer feedback shown to employees has e-mail addresses, phone numbers, card "
                "numbers and similar masked. Someone who leaves the organisation is marked as "
                "left: their ideas and votes stay, and they receive nothing more."
            )
            + "</p>",
            "<p>"
            + _(
                "Questions, or a request to see or remove what is kept about you: ask the "
                "administrators of this bot in your organisation."
            )
            + "</p>",
        )
    )


def _terms() -> str:
    items = (
        _(
            "Ideas and comments you send are seen by your managers and, for ideas, by colleagues "
            "who can vote on them (without your name when you send them anonymously). Managers "
            "may hide an abusive idea, with a reason."
        ),
        _(
            "Do not send customers' personal data or anything confidential you would not post in "
            "your organisation's chat."
        ),
        _(
            "Content it suggests for sharing is yours to share or not; nothing is posted on your "
            "behalf."
        ),
    )
    return "\n".join(
        (
            "<p>"
            + _(
                "This bot is provided by your organisation for its employees, for internal use "
                "only, under your organisation's own rules for its chat tools."
            )
            + "</p>",
            "<ul>",
            *(f"<li>{item}</li>" for item in items),
            "</ul>",
            "<p>"
            + _("Questions: ask the administrators of this bot in your organisation.")
            + "</p>",
        )
    )


def _page(request: web.Request, title: str, body: Callable[[], str]) -> web.Response:
    """``title`` (marked only) and ``body`` in the language the reader's browser asks for."""
    locale = accepted_locale(request.headers.get("Accept-Language")) or default_locale()
    with speaking(locale):
        text = PAGE.format(lang=locale.replace("_", "-"), title=_(title), body=body())
    return web.Response(text=text, content_type="text/html", headers={"Vary": "Accept-Language"})


async def privacy(request: web.Request) -> web.Response:
    return _page(request, N_("Privacy"), _privacy)


async def terms(request: web.Request) -> web.Response:
    return _page(request, N_("Terms of use"), _terms)


def mount_policy_pages(app: web.Application) -> None:
    app.router.add_get(PRIVACY_PATH, privacy)
    app.router.add_get(TERMS_PATH, terms)
