"""Escaping for Slack: text people wrote must never become markup.

Slack reads ``&``, ``<`` and ``>`` as control characters in mrkdwn (and in a message's ``text``):
``<!channel>`` pings everyone, ``<@U123>`` mentions someone, ``<https://evil|Bank>`` disguises a
link. Escaped, they show as typed and do nothing.
"""

from __future__ import annotations

from urllib.parse import quote


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link whose label is escaped and whose URL cannot close the link early."""
    safe_url = quote(url, safe=":/?#[]@!$'()*+,;=%~-._")
    return f"<{safe_url}|{escape(label).replace('|', '¦')}>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
