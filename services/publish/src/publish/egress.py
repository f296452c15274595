"""SSRF guard: webhook targets may only be public http(s) addresses unless explicitly allowed.

Checked when a subscription is created or changed, and again before every delivery because DNS
may change. The delivery then connects to the very address that was checked (the URL's host is
replaced by that IP, with the original ``Host`` header and TLS server name), so a rebinding DNS
answer between the check and the connect cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Link-local and unique-local anyway, but named so that no allowlist of ranges lets them through.
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}


class EgressRefused(ValueError):
    """The target is not allowed; the message says why (shown to the API caller)."""


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to ``ip``, present ``host``."""

    url: str
    host: str
    ip: str

    def pinned(self) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
        """The URL with the checked IP, the Host header, and the TLS server-name extension."""
        url = httpx.URL(self.url)
        if url.host == self.ip:
            return url, {}, {}
        host_header = url.host if url.port is None else f"{url.host}:{url.port}"
        return url.copy_with(host=self.ip), {"Host": host_header}, {"sni_hostname": url.host}


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class EgressPolicy:
    """Decides whether a URL may be called; ``allow_hosts`` are exact hosts or IP literals/CIDRs
    matched against the URL's own host (never against what a name resolves to)."""

    def __init__(self, allow_hosts: Iterable[str] = (),
                 resolver: Resolver = system_resolver) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow_hosts:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.names.add(entry.casefold().rstrip("."))
        self.resolver = resolver

    def check_syntax(self, url: str) -> tuple[str, int]:
        """Scheme and host; raises EgressRefused. Returns (host, port)."""
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            raise EgressRefused("the URL contains whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
            httpx.URL(url)  # what sends it must accept it too
        except (ValueError, httpx.InvalidURL) as exc:
            raise EgressRefused(f"not a valid URL: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise EgressRefused("only http and https URLs are allowed")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise EgressRefused("the URL has no host")
        if parts.username or parts.password:
            raise EgressRefused("credentials in the URL are not allowed; sign with the secret")
        return host, port or (443 if parts.scheme == "https" else 80)

    async def check(self, url: str) -> Target:
        """Resolve and check every address; raises EgressRefused."""
        host, port = self.check_syntax(url)
        literal = _ip(host)
        if self._allowed(host, literal):
            address = str(literal) if literal else (await self._resolve(host, port))[0]
            return Target(url, host, address)
        if literal is not None:
            _refuse_if_internal(literal, host)
            return Target(url, host, str(literal))
        addresses = await self._resolve(host, port)
        for address in addresses:
            _refuse_if_internal(ipaddress.ip_address(address.split("%")[0]), host)
        return Target(url, host, addresses[0])

    def _allowed(self, host: str, literal: IPAddress | None) -> bool:
        if literal is not None:
            return any(literal in net for net in self.networks)
        return host.casefold() in self.names

    async def _resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses; at least one, or EgressRefused."""
        try:
            addresses = await self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise EgressRefused(f"the host {host!r} does not resolve") from exc
        if not addresses:
            raise EgressRefused(f"the host {host!r} does not resolve")
        return list(addresses)


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _refuse_if_internal(address: IPAddress, host: str) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        raise EgressRefused(f"{host} resolves to a cloud metadata address ({address})")
    kinds = [name for name, flag in (
        ("loopback", address.is_loopback), ("private", address.is_private),
        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
        ("reserved", address.is_reserved), ("unspecified", address.is_unspecified),
    ) if flag]
    if kinds or not address.is_global:
        kind = kinds[0] if kinds else "non-public"
        raise EgressRefused(f"{host} resolves to a {kind} address ({address}); webhook targets "
                            "must be public (see NEWSFLOW_WEBHOOK_ALLOW_HOSTS)")
