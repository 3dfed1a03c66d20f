"""Which network addresses the bot may fetch pages from: public unicast ones only. An address is
judged by what it reaches, so IPv4 written inside IPv6 (mapped, NAT64, 6to4) is judged as IPv4."""

from __future__ import annotations

import ipaddress
import re
import socket

from bot.i18n import N_

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the IPv4 address is the tail
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # a network's own translators (RFC 8215)
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated (RFC 4291)
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
TEREDO = ipaddress.ip_network("2001::/32")
# What socket.inet_aton accepts besides four decimals: 2130706433, 0x7f.1, 127.1, 0177.0.0.1.
_NUMERIC = re.compile(r"[0-9a-fA-FxX.]+")


def parse_address(text: str) -> IPAddress | None:
    """The address ``text`` is written as (a zone such as ``%eth0`` ignored), or None."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address that the C library reads from an old numeric spelling (``2130706433``,
    ``0x7f.1``, ``127.1``), or None when ``host`` is a name or a plain dotted quad."""
    if not _NUMERIC.fullmatch(host) or parse_address(host) is not None:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def why_not_public(ip: IPAddress) -> str | None:
    """None for a public unicast address; otherwise what it is, in a few words (English, marked
    for the catalogue: ``_()`` it where it is shown)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return why_not_public(embedded)
        if ip in NAT64_LOCAL:
            return N_("a local NAT64 address")
        if ip in TEREDO:
            return N_("a Teredo tunnel address")
        if ip in IPV4_TRANSLATED or (ip in IPV4_COMPATIBLE and int(ip) > 1):
            return N_("IPv4 written in a deprecated IPv6 form")
        if ip.is_site_local:
            return N_("site-local")
    if ip.is_loopback:
        return N_("loopback")
    if ip.is_link_local:
        return N_("link-local")
    if ip.is_multicast:
        return N_("multicast")
    if ip.is_unspecified:
        return N_("unspecified")
    if ip in SHARED:
        return N_("shared address space")
    if ip.is_private:
        return N_("private")
    if ip.is_reserved or not ip.is_global:
        return N_("reserved")
    return None
