"""Fetch a web page for its metadata, safely: only http and https, only public addresses (checked
on the address each socket connects to, for every redirect, whatever the URL's spelling and
whatever DNS answers), no proxy from the environment, a time-out, and a cap on what is read."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from multidict import CIMultiDict
from yarl import URL

from bot.errors import InvalidInput
from bot.i18n import _
from content.curated.addresses import legacy_ipv4, parse_address, why_not_public

MAX_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 10
MAX_REDIRECTS = 5
USER_AGENT = "AdvocacyBot/0.1 (+https://github.com; reads Open Graph tags)"
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=CIMultiDict)  # case-insensitive


class AddressRefused(OSError):
    """A connection the bot will not make; an OSError so the connector treats it as one."""


def _public(address: str) -> bool:
    """May the bot connect to ``address``? Every check in this module asks here."""
    ip = parse_address(address)
    return ip is not None and why_not_public(ip) is None


def _refusal(host: str, address: str) -> str | None:
    """Why ``host`` (as the client spells it) may not be read at ``address``; None if it may.
    It names the setting that allows it, for the operator whose pages really are inside."""
    if _public(address):
        return None
    ip = parse_address(address)
    kind = why_not_public(ip) if ip is not None else "not a plain address"
    what = (
        _("a private address")
        if kind in (None, "private")
        else _("a private address ({kind})").format(
            kind=_("not a plain address") if ip is None else _(str(kind))
        )
    )
    shown = str(ip) if ip is not None else address
    if ip is not None and parse_address(host.rstrip(".")) == ip:
        return _(
            "{address} is {what}; the bot only fetches public pages (an intranet page? an admin "
            "can set CONTENT_FETCH_ALLOW_PRIVATE=true)."
        ).format(address=shown, what=what)
    return _(
        "{host} leads to {address}, {what}; the bot only fetches public pages (an intranet "
        "page? an admin can set CONTENT_FETCH_ALLOW_PRIVATE=true)."
    ).format(host=host, address=shown, what=what)


class PublicOnlyConnector(aiohttp.TCPConnector):
    """Connects only to public addresses. The check runs on the address handed to each socket,
    after any DNS lookup and after the client has normalised the host (IDNA, fullwidth digits),
    so the check and the connection never disagree and a second lookup cannot answer otherwise
    (DNS rebinding). Once connected, the peer is checked again before the request is sent."""

    def __init__(
        self, *, allow_private: bool = False, resolver: AbstractResolver | None = None
    ) -> None:
        super().__init__(
            resolver=resolver or aiohttp.ThreadedResolver(),
            limit=4,
            socket_factory=self._socket_for,
        )
        self.allow_private = allow_private
        self.host = ""  # the host being connected to, for the message
        self.refusal: str | None = None

    def _check(self, address: str) -> None:
        if self.allow_private:
            return
        refusal = _refusal(self.host, address)
        if refusal is not None:
            self.refusal = refusal
            raise AddressRefused(refusal)

    def _socket_for(self, addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        self._check(str(sockaddr[0]))
        return socket.socket(family, kind, proto)

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        self.host = req.url.raw_host or ""
        connection = await super().connect(req, traces, timeout)
        transport = connection.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        try:
            if not peer and not self.allow_private:
                self.refusal = _("The bot could not tell which address {host} is at.").format(
                    host=self.host
                )
                raise AddressRefused(self.refusal)
            if peer:
                self._check(str(peer[0]))
        except AddressRefused:
            connection.close()  # not back to the pool: nothing is sent on it
            raise
        return connection


def check_url(url: str | URL, allow_private: bool = False) -> URL:
    """The URL as the HTTP client reads it, refused early when its host is plainly not public
    (the connector checks again on every connection, whatever this lets through)."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise InvalidInput(_("'{url}' is not an http:// or https:// address.").format(url=url))
    if allow_private:
        return parsed
    host = parsed.raw_host.rstrip(".")
    legacy = legacy_ipv4(host)
    if legacy is not None:
        raise InvalidInput(
            _(
                "{host} is the address {address} in an old numeric spelling; the bot only "
                "fetches pages by name or by a plain address."
            ).format(host=parsed.raw_host, address=legacy)
        )
    ip = parse_address(host)
    refusal = _refusal(host, str(ip)) if ip is not None else None
    if refusal is not None:
        raise InvalidInput(refusal)
    return parsed


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """Up to ``max_bytes`` of the body: a single read returns one network chunk, not all."""
    parts: list[bytes] = []
    remaining = max_bytes
    while remaining > 0:
        chunk = await response.content.read(min(remaining, 65536))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _next_hop(response: aiohttp.ClientResponse, allow_private: bool) -> URL:
    location = response.headers.get("Location")
    if not location:
        raise InvalidInput(_("{url} redirects nowhere.").format(url=response.url))
    try:
        target = response.url.join(URL(location))
    except (TypeError, ValueError):
        raise InvalidInput(
            _("{url} redirects to an unreadable address.").format(url=response.url)
        ) from None
    return check_url(target, allow_private)


async def fetch_page(
    url: str,
    *,
    allow_private: bool = False,
    headers: dict[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    resolver: AbstractResolver | None = None,
) -> Fetched:
    """The page's first ``max_bytes``, or a one-line InvalidInput saying why it cannot be read.
    ``headers`` may make the request conditional (If-None-Match...): 304 comes back as is.
    ``resolver`` answers DNS questions (tests give a fake one); by default, the system's."""
    current = check_url(url, allow_private)
    connector = PublicOnlyConnector(allow_private=allow_private, resolver=resolver)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # an HTTP_PROXY in the environment must not choose where we go
        ) as session:
            for _hop in range(MAX_REDIRECTS + 1):
                async with session.get(current, allow_redirects=False, headers=headers) as response:
                    if response.status in REDIRECTS:
                        current = _next_hop(response, allow_private)
                        continue
                    if response.status == 304:
                        return Fetched(
                            str(response.url), "", b"", 304, CIMultiDict(response.headers)
                        )
                    if response.status >= 400:
                        raise InvalidInput(
                            _("{url} answered HTTP {status}.").format(
                                url=current, status=response.status
                            )
                        )
                    body = await _read_capped(response, max_bytes)
                    return Fetched(
                        str(response.url),
                        response.content_type or "",
                        body,
                        response.status,
                        CIMultiDict(response.headers),
                    )
            raise InvalidInput(
                _("{url} redirects more than {count} times.").format(url=url, count=MAX_REDIRECTS)
            )
    except TimeoutError:
        raise InvalidInput(
            _("{url} did not answer within {seconds} s.").format(url=url, seconds=TIMEOUT_SECONDS)
        ) from None
    except (aiohttp.ClientError, OSError) as error:
        if connector.refusal is not None:
            raise InvalidInput(connector.refusal) from None
        raise InvalidInput(
            _("{url} could not be fetched: {error}").format(url=url, error=error)
        ) from None
