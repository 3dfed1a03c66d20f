"""Fetch a web page for its metadata, safely: only http and https, never a private, loopback or
link-local address (checked when connecting, so redirects and DNS tricks cannot reach inside),
a time-out, and a cap on how much is read."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict

from bot.errors import InvalidInput

MAX_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 10
MAX_REDIRECTS = 5
USER_AGENT = "AdvocacyBot/0.1 (+https://github.com; reads Open Graph tags)"


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=CIMultiDict)  # case-insensitive


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class PublicOnlyResolver(AbstractResolver):
    """Resolves names like aiohttp does, but refuses any address that is not public."""

    def __init__(self, allow_private: bool = False) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self.allow_private:
            refused = [r["host"] for r in results if not _public(r["host"])]
            if refused:
                raise InvalidInput(
                    f"{host} resolves to a private address; the bot only fetches public pages."
                )
        return results

    async def close(self) -> None:
        await self._inner.close()


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


def check_url(url: str, allow_private: bool = False) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"'{url}' is not an http:// or https:// address.")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if not allow_private and not _public(str(literal)):
        raise InvalidInput(
            f"{parts.hostname} is a private address; the bot only fetches public pages."
        )


async def fetch_page(
    url: str,
    *,
    allow_private: bool = False,
    headers: dict[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    **session_args: Any,
) -> Fetched:
    """The page's first ``max_bytes``, or a one-line InvalidInput saying why it cannot be read.
    ``headers`` may make the request conditional (If-None-Match...): 304 comes back as is."""
    check_url(url, allow_private)
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(allow_private), limit=4)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"User-Agent": USER_AGENT}, **session_args
        ) as session:
            current = url
            for _ in range(MAX_REDIRECTS + 1):
                check_url(current, allow_private)
                async with session.get(current, allow_redirects=False, headers=headers) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise InvalidInput(f"{current} redirects nowhere.")
                        current = str(response.url.join(aiohttp.client.URL(location)))
                        continue
                    if response.status == 304:
                        return Fetched(
                            str(response.url), "", b"", 304, CIMultiDict(response.headers)
                        )
                    if response.status >= 400:
                        raise InvalidInput(f"{current} answered HTTP {response.status}.")
                    body = await _read_capped(response, max_bytes)
                    return Fetched(
                        str(response.url),
                        response.content_type or "",
                        body,
                        response.status,
                        CIMultiDict(response.headers),
                    )
            raise InvalidInput(f"{url} redirects more than {MAX_REDIRECTS} times.")
    except TimeoutError:
        raise InvalidInput(f"{url} did not answer within {TIMEOUT_SECONDS} s.") from None
    except aiohttp.ClientError as error:
        cause = error.__cause__ if isinstance(error.__cause__, InvalidInput) else None
        if cause is not None:
            raise cause from None
        raise InvalidInput(f"{url} could not be fetched: {error}") from None
