"""Read what a page says about itself: Open Graph, Twitter card and plain meta tags."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from urllib.parse import urljoin

from bot.plugins import PageInfo
from content.curated.fetch import Fetched

TITLE_LIMIT = 300
SUMMARY_LIMIT = 600


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and "content" in values and key not in self.meta:
                self.meta[key] = values["content"]
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self.title) < TITLE_LIMIT:
            self.title += data


def _clean(text: str, limit: int) -> str:
    value = " ".join(html.unescape(text).split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def page_info(fetched: Fetched) -> PageInfo:
    charset = "utf-8"
    if "charset=" in fetched.content_type:
        charset = fetched.content_type.split("charset=")[-1].split(";")[0].strip()
    try:
        text = fetched.body.decode(charset, errors="replace")
    except LookupError:
        text = fetched.body.decode("utf-8", errors="replace")
    parser = _MetaParser()
    parser.feed(text)
    meta = parser.meta

    def first(*keys: str) -> str:
        return next((meta[k] for k in keys if meta.get(k, "").strip()), "")

    image = first("og:image", "og:image:url", "twitter:image", "twitter:image:src")
    image_url = urljoin(fetched.url, image) if image else None
    if image_url and not image_url.startswith(("https://", "http://")):
        image_url = None
    return PageInfo(
        url=fetched.url,  # not og:url: a page must not choose what it is curated as
        title=_clean(first("og:title", "twitter:title") or parser.title, TITLE_LIMIT),
        summary=_clean(
            first("og:description", "twitter:description", "description"), SUMMARY_LIMIT
        ),
        image_url=image_url,
        site_name=_clean(first("og:site_name"), 100),
    )
