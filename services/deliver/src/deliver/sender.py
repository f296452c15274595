"""One signed POST of a delivery to its subscriber, over one shared aiohttp session.

The session (one per process) keeps connections alive and pools them per receiver host, up to
``connections_per_host``; every response body is read (up to a cap) so its connection is reused.
The SSRF guarantee: the connector resolves names only through the egress policy
(``CheckedResolver``), so it connects to addresses that were checked, never to a second DNS
answer; IP-literal URLs are checked before the request (aiohttp does not resolve them).
Redirects are never followed, and cookies are neither kept nor sent: a cookie one receiver sets
must never reach another subscription on the same host.

Per request the sender does as little as it can, since one process sends thousands a second and
at one request in flight every microsecond between a response and the next request counts: the
URL is parsed (and checked) once per subscription URL, the session's own timeout is the
request's deadline (no second timer per request), and an attempt keeps its time as a number,
written out only for an attempt that is recorded (one that failed).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from shared.egress import EgressPolicy, EgressRefused
from shared.http import parse_retry_after

from deliver.queue import Delivery
from deliver.registry import Subscription
from deliver.signing import signature_headers

USER_AGENT = "Newsflow-Webhooks/0.1"
RESPONSE_KEEP = 512  # bytes of a failed response kept in the attempt history
RESPONSE_READ_MAX = 64 * 1024  # a longer answer is cut off and its connection closed


@dataclass(frozen=True, slots=True)
class Attempt:
    at_s: float  # when it started (epoch seconds)
    status: int | None
    error: str | None
    duration_ms: int
    outcome: str  # delivered | http_error | gone | timeout | network_error | refused
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"

    @property
    def at(self) -> str:
        """When it started, as the attempt history writes it (ISO 8601, UTC, ``Z``)."""
        return datetime.fromtimestamp(self.at_s, UTC).isoformat().replace("+00:00", "Z")

    def record(self) -> dict[str, object]:
        return {"at": self.at, "status": self.status, "error": self.error,
                "duration_ms": self.duration_ms}


class CheckedResolver(AbstractResolver):
    """aiohttp's name resolution through the egress policy: only checked addresses come back."""

    def __init__(self, egress: EgressPolicy) -> None:
        self.egress = egress

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = await self.egress.resolve(host, port)
        results: list[ResolveResult] = []
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            af = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            if family in (socket.AF_UNSPEC, af):
                results.append({"hostname": host, "host": address, "port": port, "family": af,
                                "proto": 0, "flags": socket.AI_NUMERICHOST})
        if not results:
            raise OSError(f"{host} has no address of the wanted family")
        return results

    async def close(self) -> None:
        return None


class WebhookSender:
    """Signs and sends deliveries; ``start`` opens the process's one session, ``close`` ends it."""

    def __init__(self, egress: EgressPolicy, *, connect_timeout_s: float, read_timeout_s: float,
                 connections: int, connections_per_host: int) -> None:
        self.egress = egress
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.connections = connections
        self.connections_per_host = connections_per_host
        # read_timeout bounds each read; this bounds a receiver that trickles bytes.
        self.deadline_s = connect_timeout_s + read_timeout_s + 1.0
        self._session: aiohttp.ClientSession | None = None
        # url -> its parsed URL, or why it is refused (syntax, IP literal): once per URL
        self._targets: dict[str, URL | str] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.connections, limit_per_host=self.connections_per_host,
            resolver=CheckedResolver(self.egress), ttl_dns_cache=10)
        # ``total`` is the deadline of the whole attempt, the answer's body included (aiohttp
        # keeps that timer until the connection is released).
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.deadline_s,
                                          sock_connect=self.connect_timeout_s,
                                          sock_read=self.read_timeout_s),
            skip_auto_headers=("User-Agent", "Accept-Encoding"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, subscription: Subscription, delivery: Delivery) -> Attempt:
        assert self._session is not None, "start() the sender first"
        at_s = time.time()
        started = time.perf_counter()

        def finish(outcome: str, status: int | None = None, error: str | None = None,
                   retry_after: float | None = None) -> Attempt:
            ms = int((time.perf_counter() - started) * 1000)
            return Attempt(at_s, status, error, ms, outcome, retry_after)

        url = self._target(subscription.record.url)
        if isinstance(url, str):
            return finish("refused", error=f"refused: {url}")
        body = delivery.body.encode()
        headers = signature_headers(delivery.id, int(at_s), body,
                                    subscription.signing_secrets())
        headers["content-type"] = "application/json"
        headers["user-agent"] = USER_AGENT
        try:
            response = await self._session.post(url, data=body, headers=headers,
                                                allow_redirects=False)
        except EgressRefused as exc:
            return finish("refused", error=f"refused: {exc}")
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            return finish("timeout", error=f"timeout: {type(exc).__name__}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            if isinstance(exc.__cause__, EgressRefused):
                return finish("refused", error=f"refused: {exc.__cause__}")
            return finish("network_error", error=f"{type(exc).__name__}: {exc}"[:300])
        # The status line decides the outcome: a receiver that answered 2xx (or 410, or 503
        # with Retry-After) and then trickles or breaks off its body must not count as a
        # timeout, which would send an accepted delivery again.
        status = response.status
        head = await _read_body(response)
        if 200 <= status < 300:
            return finish("delivered", status)
        if status == 410:
            return finish("gone", status, "410 Gone")
        error = head.decode("utf-8", "replace")[:RESPONSE_KEEP] or None
        if 300 <= status < 400:
            error = f"redirect to {response.headers.get('location', '?')} (not followed)"
        return finish("http_error", status, error,
                      parse_retry_after(response.headers.get("retry-after")))

    def _target(self, url: str) -> URL | str:
        """The parsed URL, or why it is refused. Syntax and IP-literal hosts are checked here
        (no DNS, so the answer never changes); names are checked at each connection."""
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 10_000:
                self._targets.clear()
            try:
                self.egress.check_literal(url)
                target = URL(url)
            except EgressRefused as exc:
                target = str(exc)
            except ValueError as exc:
                target = f"not a URL: {exc}"
            self._targets[url] = target
        return target


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body up to RESPONSE_READ_MAX, by the attempt's deadline (the session's
    timeout). Read to its end, the connection goes back to the pool; cut off, it is closed."""
    if response.content.at_eof():  # no body (a 204), or all of it read already
        response.release()
        return b""
    body = bytearray()
    try:
        while len(body) < RESPONSE_READ_MAX:
            chunk = await response.content.read(RESPONSE_READ_MAX - len(body))
            if not chunk:
                break
            body += chunk
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        response.close()
        return bytes(body)
    if response.content.at_eof():
        response.release()
    else:
        response.close()
    return bytes(body)
