"""Where a webhook may be sent: https URLs that resolve only to public addresses (SSRF guard).

Checked when an endpoint is saved and again before every attempt, when the address is also pinned: the
request goes to the address that was checked, so a DNS answer that changes in between (rebinding) cannot
redirect it. Every notation of an address (decimal, octal, hex, IPv4-mapped IPv6, 6to4, Teredo) is what the
resolver turns it into, so it is judged by the address it really reaches.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from salesbot.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent
    address: str


def resolve(host: str, port: int) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def networks(spec: Sequence[str]) -> tuple[Network, ...]:
    """Allow-listed networks from `SALESBOT_WEBHOOK_ALLOW_NETWORKS` (CIDRs)."""
    try:
        return tuple(ipaddress.ip_network(each.strip(), strict=False) for each in spec if each.strip())
    except ValueError as exc:
        raise InvalidInput.for_field("SALESBOT_WEBHOOK_ALLOW_NETWORKS", str(exc)) from exc


def check(url: str, *, allowed: tuple[Network, ...] = (), resolver: Resolver = resolve) -> Target:
    """The URL as a `Target`, or `InvalidInput` naming `url` with the reason it may not be called."""
    parts = _parts(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = resolver(parts.hostname, port)
    except (OSError, UnicodeError) as exc:
        raise _refused(f"{parts.hostname} does not resolve ({exc})") from exc
    if not found:
        raise _refused(f"{parts.hostname} does not resolve")
    addresses = [ipaddress.ip_address(each.split("%")[0]) for each in found]
    listed = all(any(address in network for network in allowed) for address in addresses)
    if not listed:
        for address in addresses:
            if why := forbidden(address):
                raise _refused(f"{parts.hostname} resolves to {address}, {why}")
        if parts.scheme != "https":
            raise _refused("use https (plain http only for allow-listed networks)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, parts.scheme, parts.hostname, port, path, str(addresses[0]))


def forbidden(address: Address) -> str | None:
    """Why no webhook may reach this address, or None for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return forbidden(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _parts(url: str):  # type: ignore[no-untyped-def]
    if not isinstance(url, str) or len(url) > 2000:
        raise _refused("must be a URL of at most 2,000 characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"https", "http"}:
        raise _refused("must start with https://")
    if not parts.hostname:
        raise _refused("has no host")
    if parts.username or parts.password:
        raise _refused("may not carry a user name or password")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port when it is read)
    except ValueError as exc:
        raise _refused(str(exc)) from exc
    return parts


def _refused(reason: str) -> InvalidInput:
    return InvalidInput.for_field("url", reason)


@dataclass(frozen=True)
class Guard:
    """The operator's allow-list and the resolver, applied to every URL."""

    allowed: tuple[Network, ...] = ()
    resolver: Resolver = resolve

    def check(self, url: str) -> Target:
        return check(url, allowed=self.allowed, resolver=self.resolver)
