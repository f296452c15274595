"""One signed POST of a delivery to its subscriber: the webhook policy over deliver.http1.

The policy lives here, the HTTP in ``http1`` (why deliver has its own: see there). The SSRF
guarantee: names are resolved only through the egress policy, and the pool connects to an
address it returned (checked), never to a second DNS answer; IP-literal URLs are checked before
the request. Answers are cached for ``DNS_TTL_S``, as checked, per host and port. Redirects are
never followed, and cookies are neither kept nor sent (``Set-Cookie`` is never even read): a
cookie one receiver sets must never reach another subscription on the same host.

Per request the sender does as little as it can, since one process sends thousands a second and
at one request in flight every microsecond between a response and the next request counts: the
URL is parsed (and checked) once per subscription URL, into the start of its request head; an
attempt keeps its time as a number, written out only for an attempt that is recorded (one that
failed).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.egress import EgressPolicy, EgressRefused
from shared.http import parse_retry_after

from deliver.http1 import ConnectionPool, Endpoint
from deliver.queue import Delivery
from deliver.registry import Subscription
from deliver.signing import signature_headers

USER_AGENT = "Newsflow-Webhooks/0.1"
RESPONSE_KEEP = 512  # characters of a failed response kept in the attempt history
RESPONSE_READ_MAX = 64 * 1024  # a longer answer is cut off and its connection closed
DNS_TTL_S = 10.0  # a name's checked addresses are used for new connections this long
FIXED_HEADERS = {"content-type": "application/json", "user-agent": USER_AGENT}


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made an
# Attempt (one per request) cost 1 µs to build; nothing changes one once it is made.
@dataclass(slots=True)
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


class WebhookSender:
    """Signs and sends deliveries; ``start`` opens the process's one connection pool, ``close``
    closes its connections."""

    def __init__(self, egress: EgressPolicy, *, connect_timeout_s: float, read_timeout_s: float,
                 connections: int, connections_per_host: int) -> None:
        self.egress = egress
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.connections = connections
        self.connections_per_host = connections_per_host
        # read_timeout bounds each read; this bounds a receiver that trickles bytes.
        self.deadline_s = connect_timeout_s + read_timeout_s + 1.0
        self._pool: ConnectionPool | None = None
        # url -> its endpoint, or why it is refused (syntax, IP literal): once per URL
        self._targets: dict[str, Endpoint | str] = {}
        self._addresses: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def start(self) -> None:
        # The deadline covers the whole attempt once a connection is had: connecting, the
        # request, and the answer's body (the status line decides the outcome: see ``send``).
        self._pool = ConnectionPool(
            self._resolve, connections=self.connections,
            connections_per_host=self.connections_per_host,
            connect_timeout_s=self.connect_timeout_s, read_timeout_s=self.read_timeout_s,
            deadline_s=self.deadline_s, body_max=RESPONSE_READ_MAX,
            body_keep=RESPONSE_KEEP * 4)  # UTF-8: up to 4 bytes a character

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def send(self, subscription: Subscription, delivery: Delivery) -> Attempt:
        assert self._pool is not None, "start() the sender first"
        at_s = time.time()
        started = time.perf_counter()

        def finish(outcome: str, status: int | None = None, error: str | None = None,
                   retry_after: float | None = None) -> Attempt:
            ms = int((time.perf_counter() - started) * 1000)
            return Attempt(at_s, status, error, ms, outcome, retry_after)

        endpoint = self._target(subscription.record.url)
        if isinstance(endpoint, str):
            return finish("refused", error=f"refused: {endpoint}")
        body = delivery.body
        headers = signature_headers(delivery.id, int(at_s), body,
                                    subscription.signing_secrets())
        try:
            response = await self._pool.post(endpoint, headers, body)
        except EgressRefused as exc:
            return finish("refused", error=f"refused: {exc}")
        except TimeoutError as exc:
            return finish("timeout", error=f"timeout: {type(exc).__name__}")
        except (OSError, ValueError) as exc:
            return finish("network_error", error=f"{type(exc).__name__}: {exc}"[:300])
        # The status line decides the outcome: a receiver that answered 2xx (or 410, or 503
        # with Retry-After) and then trickles or breaks off its body must not count as a
        # timeout, which would send an accepted delivery again.
        status = response.status
        if 200 <= status < 300:
            return finish("delivered", status)
        if status == 410:
            return finish("gone", status, "410 Gone")
        error = response.body.decode("utf-8", "replace")[:RESPONSE_KEEP] or None
        if 300 <= status < 400:
            location = response.headers.get(b"location", b"?").decode("latin-1")
            error = f"redirect to {location} (not followed)"
        retry_after = response.headers.get(b"retry-after", b"").decode("latin-1")
        return finish("http_error", status, error, parse_retry_after(retry_after))

    def _target(self, url: str) -> Endpoint | str:
        """The URL's endpoint, or why it is refused. Syntax and IP-literal hosts are checked
        here (no DNS, so the answer never changes); names are checked at each connection."""
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 10_000:
                self._targets.clear()
            try:
                self.egress.check_literal(url)
                target = Endpoint.post(url, FIXED_HEADERS)
            except EgressRefused as exc:
                target = str(exc)
            except ValueError as exc:
                target = f"not a URL: {exc}"
            self._targets[url] = target
        return target

    async def _resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to: an IP literal itself (checked in ``_target``), or the
        name's addresses as the egress policy resolved and checked them."""
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        now = time.monotonic()
        cached = self._addresses.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        addresses = await self.egress.resolve(host, port)
        if len(self._addresses) > 10_000:
            self._addresses.clear()
        self._addresses[(host, port)] = (now + DNS_TTL_S, addresses)
        return addresses
