"""HTTP/1.1 POSTs over kept-alive connections: a narrow client on asyncio transports and llhttp.

Why not a client library: deliver sends thousands of small POSTs a second to a few receivers, and
the HTTP client was most of its CPU. On this machine (keep-alive POSTs of 3.8 KB to a loopback
receiver) aiohttp costs 224/150/117 µs per request at 1/4/16 in flight, while an asyncio
``Protocol`` that writes the request in one call and parses the answer with httptools' llhttp
costs 80/28/24 µs; aiosonic and blacksheep's client were slower than aiohttp. A webhook POST
needs little of a general client: no redirects, no cookies, no compression, no proxies, no
request streaming. So this module does only what a delivery needs:

- one ``POST`` per call, its head and body written with one ``writelines``;
- connections kept alive and pooled per origin (scheme, host, port), at most ``connections`` in
  all and ``connections_per_host`` per origin; a request waits for a free one and never fails
  for want of one. A connection goes back to the pool only when its answer was read to its end
  and the receiver did not ask to close it (``Connection: close``, or HTTP/1.0 without
  keep-alive); one idle longer than ``IDLE_S`` is closed;
- names resolved only by the caller's ``resolve`` (deliver's egress policy), and the connection
  made to an address it returned, never to a second DNS answer; https verified against the URL's
  own host name (SNI and certificate) while connected to that address;
- a connect timeout per address, a read timeout between bytes, and a deadline for the whole
  exchange, the answer's body included. One timer per connection, kept from one request to the
  next: when it fires it checks the request in hand and is set again for that request's next
  limit, or left unset if the connection is idle (a timer made and cancelled per request, 2 µs
  with uvloop, was a tenth of a request's Python);
- answers: 1xx skipped, bodies by length, chunked, or until the connection closes; the first
  ``body_keep`` bytes kept and at most ``body_max`` read (a longer answer is cut off and its
  connection closed). Once the head has arrived, the answer is returned even if its body then
  stalls or breaks off (``complete`` says so): the status line is the receiver's verdict.

A stale connection: the receiver may close a kept-alive connection while it sits in the pool.
A closed one is seen (its ``connection_lost``) and not reused; but its close may still be on the
way when a request is written. So a request on a *reused* connection that ends with the
connection closed before a single byte of answer came back is sent once more, on a new
connection: a receiver that closes without answering has not processed the request (for a
webhook, at worst it is sent again, as the caller's retry would anyway; the receiver dedupes by
``webhook-id``). A timeout, or any byte of answer, is never retried here.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, cast
from urllib.parse import quote, urlsplit

import httptools

IDLE_S = 15.0  # a pooled connection unused this long is closed, not reused
TIMER_SLACK_S = 0.001  # event loop timers may fire this much early (uvloop: ms resolution)
DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters sent as they are in a request target: printable ASCII (spaces and controls are
# refused by the egress policy); anything else is percent-encoded.
TARGET_SAFE = "".join(chr(c) for c in range(33, 127))

Origin = tuple[str, str, int]  # scheme, host (as in the URL, lower case, no brackets), port
Resolve = Callable[[str, int], Awaitable[list[str]]]


class Disconnected(ConnectionError):
    """The receiver closed the connection before its answer's head was complete."""


class Unanswered(Disconnected):
    """The connection closed before a single byte of answer came back."""


class BadResponse(ConnectionError):
    """What came back is not an HTTP/1.x answer."""


class ConnectTimeout(TimeoutError):
    """No connection within the connect timeout (or the deadline)."""


class ReadTimeout(TimeoutError):
    """Nothing came back for the read timeout."""


class DeadlineExceeded(TimeoutError):
    """The answer's head did not come within the exchange's deadline."""


class Response(NamedTuple):
    status: int
    headers: dict[bytes, bytes]  # names in lower case; a repeated header keeps its last value
    body: bytes  # its first ``body_keep`` bytes
    complete: bool  # the body was read to its end (not cut off, stalled or broken off)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a POST goes, and the start of its head: worked out once per URL."""

    origin: Origin
    head: bytes  # request line, Host and the fixed headers

    @classmethod
    def post(cls, url: str, headers: Mapping[str, str]) -> Endpoint:
        """For a URL whose syntax was checked (http or https, a host, no whitespace)."""
        parts = urlsplit(url)
        scheme, host = parts.scheme, (parts.hostname or "").rstrip(".")
        port = parts.port or DEFAULT_PORTS[scheme]
        name = f"[{host}]" if ":" in host else host.encode("idna").decode()
        authority = name if port == DEFAULT_PORTS[scheme] else f"{name}:{port}"
        target = quote(parts.path or "/", safe=TARGET_SAFE)
        if parts.query:
            target += "?" + quote(parts.query, safe=TARGET_SAFE)
        head = f"POST {target} HTTP/1.1\r\nhost: {authority}\r\n" + _fields(headers)
        return cls((scheme, host, port), head.encode("latin-1"))


class ConnectionPool:
    """Kept-alive connections per origin; ``post`` sends one request and reads its answer."""

    def __init__(self, resolve: Resolve, *, connections: int, connections_per_host: int,
                 connect_timeout_s: float, read_timeout_s: float, deadline_s: float,
                 body_max: int, body_keep: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._resolve = resolve
        self._limit = connections
        self._per_host = connections_per_host
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._deadline_s = deadline_s
        self._body_max = body_max
        self._body_keep = body_keep
        self._tls = ssl.create_default_context()
        self._hosts: dict[Origin, _Host] = {}
        self._open = 0  # connections open or being opened, all origins
        self._waiting: deque[asyncio.Future[Connection | None]] = deque()  # for any slot
        self._connections: set[Connection] = set()  # every open transport, for close()
        self._swept = self._loop.time()
        self._closed = False

    async def post(self, endpoint: Endpoint, headers: Mapping[str, str],
                   body: bytes) -> Response:
        """Send ``endpoint.head`` + ``headers`` + ``body``; the answer once its head has come.
        Raises TimeoutError (ConnectTimeout, ReadTimeout, DeadlineExceeded), OSError
        (Disconnected, BadResponse, refused connections, TLS errors), or what ``resolve``
        raises. The deadline starts once a connection (or a slot to open one) is had."""
        head = b"%s%scontent-length: %d\r\n\r\n" % (
            endpoint.head, _fields(headers).encode("latin-1"), len(body))
        host = self._hosts.get(endpoint.origin)
        if host is None:
            host = self._hosts[endpoint.origin] = _Host(endpoint.origin)
        connection = await self._acquire(host)
        deadline = self._loop.time() + self._deadline_s
        try:
            if connection is not None:
                try:
                    return await connection.exchange(head, body, deadline)
                except Unanswered:
                    pass  # a stale connection (see the module's docstring): once more, anew
            connection = await self._connect(host.origin, deadline)
            return await connection.exchange(head, body, deadline)
        finally:
            self._release(host, connection)

    async def close(self) -> None:
        """Close every connection; requests still waiting for one fail."""
        self._closed = True
        for connection in list(self._connections):
            connection.close()
        for host in self._hosts.values():
            _wake_all(host.waiting)
        _wake_all(self._waiting)
        self._hosts.clear()

    async def _acquire(self, host: _Host) -> Connection | None:
        """A pooled connection, or None: a slot is reserved to open a new one. Waits while
        the origin (or the whole pool) has all its connections busy."""
        while True:
            if self._closed:
                raise ConnectionError("the connection pool is closed")
            idle = host.idle
            while idle:
                connection = idle.pop()
                if not connection.closed and self._loop.time() - connection.idle_since < IDLE_S:
                    return connection
                self._drop(host, connection)
            if host.open < self._per_host and (self._open < self._limit or self._evict()):
                host.open += 1
                self._open += 1
                return None
            waiter: asyncio.Future[Connection | None] = self._loop.create_future()
            (host.waiting if host.open >= self._per_host else self._waiting).append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # woken, then cancelled
                    handed = waiter.result()
                    if handed is None:
                        self._wake(host)
                    else:
                        self._release(host, handed)
                raise
            if handed is not None:
                return handed

    async def _connect(self, origin: Origin, deadline: float) -> Connection:
        """A new connection to one of the addresses ``resolve`` gives, tried in order."""
        if self._closed:
            raise ConnectionError("the connection pool is closed")
        scheme, host, port = origin
        loop = self._loop
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await self._resolve(host, port)
        except TimeoutError as exc:
            raise ConnectTimeout(f"{host} was not resolved within the deadline") from exc
        tls = self._tls if scheme == "https" else None
        error: OSError = ConnectionError(f"{host} has no address")
        for address in addresses:
            until = min(deadline, loop.time() + self._connect_timeout_s)
            try:
                async with asyncio.timeout_at(until):
                    _, connection = await loop.create_connection(
                        self._protocol, address, port, ssl=tls,
                        server_hostname=host if tls else None)
            except TimeoutError:
                error = ConnectTimeout(f"no connection to {address} port {port} in time")
            except OSError as exc:
                error = exc
            else:
                self._connections.add(connection)
                return connection
        raise error

    def _protocol(self) -> Connection:
        return Connection(self._loop, self._connections.discard, self._read_timeout_s,
                          self._body_max, self._body_keep)

    def _release(self, host: _Host, connection: Connection | None) -> None:
        """After a request: a reusable connection goes to a waiting request or the pool; any
        other is closed and its slot freed."""
        if connection is not None and connection.reusable and not self._closed:
            while host.waiting:
                waiter = host.waiting.popleft()
                if not waiter.done():
                    waiter.set_result(connection)
                    return
            if not self._waiting:  # else its slot is for a request to another origin
                now = self._loop.time()
                connection.idle_since = now
                host.idle.append(connection)
                if now - self._swept > IDLE_S:
                    self._sweep(now)
                return
        self._drop(host, connection)

    def _drop(self, host: _Host, connection: Connection | None) -> None:
        if connection is not None:
            connection.close()
        host.open -= 1
        self._open -= 1
        self._wake(host)

    def _wake(self, host: _Host) -> None:
        """A slot was freed: the first request waiting for this origin, else for any, tries
        again."""
        for queue in (host.waiting, self._waiting):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return

    def _evict(self) -> bool:
        """Close an idle connection of any origin to free its slot (the pool is full)."""
        for host in self._hosts.values():
            if host.idle:
                host.idle.pop(0).close()
                host.open -= 1
                self._open -= 1
                return True
        return False

    def _sweep(self, now: float) -> None:
        """Close connections idle too long, and forget origins with none open."""
        self._swept = now
        for origin, host in list(self._hosts.items()):
            for connection in [c for c in host.idle if now - c.idle_since >= IDLE_S]:
                host.idle.remove(connection)
                self._drop(host, connection)
            if host.open == 0 and not host.waiting and not self._waiting:
                del self._hosts[origin]


class _Host:
    """The connections to one origin: idle ones (the most recently used last), how many are
    open or being opened, and the requests waiting for one."""

    __slots__ = ("idle", "open", "origin", "waiting")

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.idle: list[Connection] = []
        self.open = 0
        self.waiting: deque[asyncio.Future[Connection | None]] = deque()


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection, one exchange at a time; llhttp calls the ``on_*`` methods
    as it parses what comes back. The waiting request is woken once its answer's head has
    come (with the whole answer, usually), and once more only if it must wait for the body."""

    __slots__ = (
        "_body_keep", "_body_len", "_body_max", "_cut", "_deadline", "_done", "_error",
        "_framed", "_head_done", "_headers", "_informational", "_keep_alive", "_kept",
        "_last_read", "_loop", "_on_lost", "_parser", "_read_timeout_s", "_received",
        "_status", "_timer", "_timer_at", "_transport", "_waiter", "_want_body", "closed",
        "idle_since", "reusable")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[Connection], None],
                 read_timeout_s: float, body_max: int, body_keep: int) -> None:
        self._loop = loop
        self._on_lost = on_lost
        self._read_timeout_s = read_timeout_s
        self._body_max = body_max
        self._body_keep = body_keep
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # set and not fired yet
        self._timer_at = 0.0  # when it fires
        self._deadline = 0.0
        self._last_read = 0.0
        self.closed = False
        self.reusable = False  # its last answer was read whole and it may be kept alive
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: dict[bytes, bytes] = {}
        self._kept = bytearray()
        self._body_len = 0
        self._received = 0  # bytes of answer
        self._head_done = False
        self._framed = False  # a length or chunks, rather than "until the connection closes"
        self._informational = False  # parsing a 1xx answer
        self._done = False  # nothing more to wait for: whole, or cut off at body_max
        self._cut = False
        self._keep_alive = False
        self._want_body = False  # the request has the head and waits for the body
        self._error: Exception | None = None

    async def exchange(self, head: bytes, body: bytes, deadline: float) -> Response:
        # closing, not yet told: uvloop's transport refuses a write then (asyncio's drops it)
        if self.closed or self._transport is None or self._transport.is_closing():
            raise Unanswered("the connection was closed while idle")
        self._reset()
        self.reusable = False
        loop = self._loop
        self._last_read = now = loop.time()
        self._deadline = deadline
        self._waiter = waiter = loop.create_future()
        limit = min(deadline, now + self._read_timeout_s)
        if self._timer is None or self._timer_at > limit:  # else it fires first, and checks
            self._set_timer(limit)
        self._transport.writelines((head, body))
        try:
            await waiter
            if not self._done and self._error is None:
                self._want_body = True
                self._waiter = waiter = loop.create_future()
                await waiter
        finally:
            self._waiter = None
        if not self._head_done:
            assert self._error is not None
            raise self._error
        complete = self._done and not self._cut
        if complete and self._keep_alive and not self.closed:
            self.reusable = True
        else:
            self.close()
        return Response(self._status, self._headers, bytes(self._kept), complete)

    def close(self) -> None:
        self.closed = True
        self.reusable = False
        self._cancel_timer()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close now, without waiting for unsent bytes (a receiver that stopped reading)."""
        self.closed = True
        self.reusable = False
        self._cancel_timer()
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio's callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio's, though they are the same to use
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # an idle connection has nothing to say: do not trust it
            self.close()
            return
        self._received += len(data)
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self._done:
                self._fail(BadResponse(f"not an HTTP/1.1 answer: {exc}"))
            return
        if self._done or (self._head_done and not self._want_body):
            self._wake()

    def eof_received(self) -> None:
        self.closed = True  # not to be reused; the transport closes itself (None returned)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self._cancel_timer()  # an exchange in hand ends below
        self._on_lost(self)
        if self._waiter is None or self._done:
            return
        if self._head_done and not self._framed:
            self._done = True  # a body without a length ends when the connection does
        elif self._error is None:
            why = f": {exc}" if exc else ""
            self._error = (Unanswered(f"the connection closed before any answer{why}")
                           if self._received == 0 else
                           Disconnected(f"the connection closed within the answer{why}"))
        self._wake()

    def _on_timer(self) -> None:
        self._timer = None
        if self._waiter is None:  # set for an exchange that has ended: nothing to time now
            return
        now = self._loop.time() + TIMER_SLACK_S
        if now >= self._deadline:
            self._error = DeadlineExceeded("no whole answer within the deadline")
        elif now - self._last_read >= self._read_timeout_s:
            self._error = ReadTimeout(f"nothing came for {self._read_timeout_s:g}s")
        else:
            self._set_timer(min(self._deadline, self._last_read + self._read_timeout_s))
            return
        self.abort()
        self._wake()

    def _set_timer(self, when: float) -> None:
        self._cancel_timer()
        self._timer = self._loop.call_at(when, self._on_timer)
        self._timer_at = when

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fail(self, error: Exception) -> None:
        self._error = error
        self.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- llhttp's callbacks; anything after the answer (a second one) only stops reuse

    def on_message_begin(self) -> None:
        if self._done:
            self._keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._done:
            self._headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        if self._done:
            return
        status = self._parser.get_status_code()
        if status < 200:
            self._informational = True
            return
        self._status = status
        self._head_done = True
        self._framed = (b"content-length" in self._headers
                        or b"transfer-encoding" in self._headers)

    def on_body(self, body: bytes) -> None:
        if self._done:
            return
        room = self._body_max - self._body_len
        if len(body) > room:
            body = body[:room]
            self._cut = self._done = True
        self._body_len += len(body)
        if len(self._kept) < self._body_keep:
            self._kept += body[:self._body_keep - len(self._kept)]

    def on_message_complete(self) -> None:
        if self._done:
            return
        if self._informational:  # a 100 Continue, 103 Early Hints: the answer is still to come
            self._informational = False
            self._headers = {}
            return
        self._done = True
        self._keep_alive = self._parser.should_keep_alive()


def _fields(headers: Mapping[str, str]) -> str:
    """Header lines; a value with a line break would smuggle in a header of its own."""
    lines = []
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"the {name} header contains a line break")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines)


def _wake_all(waiting: deque[asyncio.Future[Connection | None]]) -> None:
    while waiting:
        waiter = waiting.popleft()
        if not waiter.done():
            waiter.set_result(None)
