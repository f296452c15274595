"""Egress policy (SSRF guard): outbound calls go only to public http(s) addresses unless allowed.

Webhook targets are checked when a subscription is created or changed and again before every
connection, because DNS may change; ingest's feed poller checks each feed URL and every redirect
hop. The caller then connects to the very address that was checked (a pinned connection: the
checked IP, with the original ``Host`` header and TLS server name), so a rebinding DNS answer
between the check and the connect cannot send it elsewhere.

Refused: loopback, private, link-local, shared (CGNAT), multicast, reserved, unspecified and
cloud metadata addresses, IPv6 site-local ``fec0::/10``, and IPv6 forms that carry an IPv4
address inside (IPv4-mapped ``::ffff:0:0/96``, IPv4-compatible ``::/96``, 6to4 ``2002::/16``,
NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, Teredo ``2001::/32``) when that IPv4 address is
internal, or when it cannot be told (Teredo, IPv4-compatible and local-use NAT64 always).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Link-local and unique-local anyway, but named so that no allowlist of ranges lets them through.
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv6 ranges refused whatever they carry: the embedded IPv4 cannot be checked.
TUNNELS = {
    ipaddress.ip_network("64:ff9b:1::/48"): "local-use NAT64",
    ipaddress.ip_network("2001::/32"): "Teredo",
    ipaddress.ip_network("::/96"): "IPv4-compatible",
    ipaddress.ip_network("fec0::/10"): "site-local",
}


class EgressRefused(ValueError):
    """The target is not allowed; the message says why (shown to the API caller)."""


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to ``ip``, present ``host``."""

    url: str
    host: str
    ip: str

    def pinned(self) -> tuple[str, dict[str, str], str | None]:
        """The URL with the checked IP, the Host header to send, and the TLS server name."""
        parts = urlsplit(self.url)
        if _ip(self.host) is not None:
            return self.url, {}, None
        address = f"[{self.ip}]" if ":" in self.ip else self.ip
        netloc = address if parts.port is None else f"{address}:{parts.port}"
        host_header = self.host if parts.port is None else f"{self.host}:{parts.port}"
        return (urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, self.host)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class EgressPolicy:
    """Decides whether a URL may be called; ``allow_hosts`` are exact hosts or IP literals/CIDRs
    matched against the URL's own host (never against what a name resolves to)."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = system_resolver,
                 *, setting: str = "NEWSFLOW_WEBHOOK_ALLOW_HOSTS") -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow_hosts:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.names.add(entry.casefold().rstrip("."))
        self.resolver = resolver
        self.setting = setting

    def check_syntax(self, url: str) -> tuple[str, int]:
        """Scheme and host; raises EgressRefused. Returns (host, port)."""
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            raise EgressRefused("the URL contains whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
            host = (parts.hostname or "").rstrip(".")
            if host and _ip(host) is None:
                host.encode("idna")
        except (ValueError, UnicodeError) as exc:
            raise EgressRefused(f"not a valid URL: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise EgressRefused("only http and https URLs are allowed")
        if not host:
            raise EgressRefused("the URL has no host")
        if parts.username or parts.password:
            raise EgressRefused("credentials in the URL are not allowed")
        return host, port or (443 if parts.scheme == "https" else 80)

    def check_literal(self, url: str) -> tuple[str, int, IPAddress | None]:
        """The syntax, and an IP-literal host (which needs no DNS); raises EgressRefused.
        Returns (host, port, the literal or None for a name)."""
        host, port = self.check_syntax(url)
        literal = _ip(host)
        if literal is not None and not self._allowed(host, literal):
            self._refuse_if_internal(literal, host)
        return host, port, literal

    async def check(self, url: str) -> Target:
        """Resolve and check every address; raises EgressRefused."""
        host, port, literal = self.check_literal(url)
        if literal is not None:
            return Target(url, host, str(literal))
        return Target(url, host, (await self.resolve(host, port))[0])

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of a host name, every one checked (an allowed name is not);
        at least one, or EgressRefused."""
        try:
            addresses = list(await self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise EgressRefused(f"the host {host!r} does not resolve") from exc
        if not addresses:
            raise EgressRefused(f"the host {host!r} does not resolve")
        if not self._allowed(host, None):
            for address in addresses:
                self._refuse_if_internal(ipaddress.ip_address(address.split("%")[0]), host)
        return addresses

    def _allowed(self, host: str, literal: IPAddress | None) -> bool:
        if literal is not None:
            return any(literal in net for net in self.networks)
        return host.casefold() in self.names

    def _refuse_if_internal(self, address: IPAddress, host: str) -> None:
        reason = internal_reason(address)
        if reason is not None:
            raise EgressRefused(f"{host} resolves to {reason}; outbound targets must be public "
                                f"(see {self.setting})")


def internal_reason(address: IPAddress) -> str | None:
    """Why an address is not a public one (``a private address (10.0.0.1)``), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
            return _kind(address)
        for network, name in TUNNELS.items():
            if address in network:
                return f"an {name} IPv6 address ({address})"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = internal_reason(embedded)
            return None if inner is None else f"{inner[:-1]} inside {address})"
    return _kind(address)


def _kind(address: IPAddress) -> str | None:
    if address in METADATA:
        return f"a cloud metadata address ({address})"
    kinds = [name for name, flag in (
        ("loopback", address.is_loopback), ("private", address.is_private),
        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
        ("reserved", address.is_reserved), ("unspecified", address.is_unspecified),
    ) if flag]
    if kinds or not address.is_global:
        return f"a {kinds[0] if kinds else 'non-public'} address ({address})"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
