"""deliver's HTTP/1.1 pool against scripted loopback servers: reuse, framing, limits, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from deliver import http1
from deliver.http1 import (
    ConnectionPool,
    ConnectTimeout,
    DeadlineExceeded,
    Disconnected,
    Endpoint,
    ReadTimeout,
    Response,
    Unanswered,
)

CLOSE = None  # in a script: close the connection now
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
EARLY = http1.TIMER_SLACK_S  # a limit may be called this much early (timer resolution)

Step = bytes | float | None  # bytes to write, seconds to wait, or CLOSE
Script = Callable[[int, int], Sequence[Step]]  # (connection, request on it) -> steps


class Tally:
    """Requests read and not yet answered in full, now and at most, across servers."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0


class Server:
    """A loopback HTTP/1.1 server that reads whole requests and follows a script for each."""

    def __init__(self, script: Script, tally: Tally | None = None) -> None:
        self.script = script
        self.connections = 0
        self.ended = 0  # connections closed (by either side)
        self.requests: list[tuple[int, bytes]] = []  # (connection, head and body)
        self.active = tally or Tally()
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> Server:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hook"
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = self.connections
        self.connections += 1
        try:
            for number in itertools.count():
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                self.requests.append((connection, head + await reader.readexactly(length)))
                self.active.now += 1
                self.active.most = max(self.active.most, self.active.now)
                try:
                    for step in self.script(connection, number):
                        if step is CLOSE:
                            return
                        if isinstance(step, float):
                            await asyncio.sleep(step)
                        else:
                            writer.write(step)
                            await writer.drain()
                finally:
                    self.active.now -= 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.ended += 1
            writer.close()


@contextlib.asynccontextmanager
async def serving(script: Script, tally: Tally | None = None) -> AsyncIterator[Server]:
    server = await Server(script, tally).start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def pooled(*, connections: int = 16, per_host: int = 4, read_timeout_s: float = 1.0,
                 deadline_s: float = 3.0, body_max: int = 64 * 1024,
                 body_keep: int = 2048) -> AsyncIterator[ConnectionPool]:
    async def resolve(host: str, port: int) -> list[str]:
        return [host]

    pool = ConnectionPool(resolve, connections=connections, connections_per_host=per_host,
                          connect_timeout_s=0.3, read_timeout_s=read_timeout_s,
                          deadline_s=deadline_s, body_max=body_max, body_keep=body_keep)
    try:
        yield pool
    finally:
        await pool.close()


async def post(pool: ConnectionPool, url: str, body: bytes = b'{"n": 1}') -> Response:
    return await pool.post(Endpoint.post(url, {"content-type": "application/json"}),
                           {"webhook-id": "msg_1"}, body)


async def test_the_request_is_one_post_with_its_head_and_body() -> None:
    async with serving(lambda c, n: [OK]) as server, pooled() as pool:
        port = server.url.split(":")[2].split("/")[0]
        await post(pool, server.url.replace("/hook", "/hook/ü?a=1&b"), b"{}")
    (_, request), = server.requests
    assert request == (f"POST /hook/%C3%BC?a=1&b HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
                       "content-type: application/json\r\nwebhook-id: msg_1\r\n"
                       "content-length: 2\r\n\r\n{}").encode()


async def test_a_kept_alive_connection_is_reused() -> None:
    async with serving(lambda c, n: [OK]) as server, pooled() as pool:
        answers = [await post(pool, server.url) for _ in range(3)]
    assert [(a.status, a.body, a.complete) for a in answers] == [(200, b"ok", True)] * 3
    assert server.connections == 1


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
])
async def test_no_reuse_when_the_receiver_closes_or_speaks_http_1_0(answer: bytes) -> None:
    # The server keeps its end open: only the answer says not to reuse the connection.
    async with serving(lambda c, n: [answer]) as server, pooled() as pool:
        answers = [await post(pool, server.url) for _ in range(3)]
    assert [a.status for a in answers] == [200] * 3
    assert server.connections == 3


async def test_an_http_1_0_answer_asking_for_keep_alive_keeps_its_connection() -> None:
    answer = b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok"
    async with serving(lambda c, n: [answer]) as server, pooled() as pool:
        for _ in range(3):
            await post(pool, server.url)
    assert server.connections == 1


async def test_a_connection_the_receiver_closed_while_idle_is_not_reused() -> None:
    async with serving(lambda c, n: [OK, CLOSE]) as server, pooled() as pool:
        first = await post(pool, server.url)
        await asyncio.sleep(0.05)  # the close reaches the pool
        second = await post(pool, server.url)
    assert (first.status, second.status) == (200, 200)
    assert [c for c, _ in server.requests] == [0, 1]  # nothing written to the closed one


async def test_a_connection_idle_too_long_is_closed_not_reused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http1, "IDLE_S", 0.05)
    async with serving(lambda c, n: [OK]) as server, pooled() as pool:
        await post(pool, server.url)
        await asyncio.sleep(0.1)
        await post(pool, server.url)
        await asyncio.sleep(0.05)
        assert (server.connections, server.ended) == (2, 1)


async def test_a_reused_connection_closed_before_any_answer_is_retried_once_anew() -> None:
    """The receiver's close crossed the request: it saw the request and dropped it unanswered.
    The request goes once more, on a new connection."""
    def script(connection: int, number: int) -> list[Step]:
        return [CLOSE] if number == 1 else [OK]  # each connection drops its second request

    async with serving(script) as server, pooled() as pool:
        first = await post(pool, server.url)
        second = await post(pool, server.url)
    assert (first.status, second.status) == (200, 200)
    assert [c for c, _ in server.requests] == [0, 0, 1]


async def test_a_new_connection_closed_before_any_answer_is_not_retried() -> None:
    async with serving(lambda c, n: [CLOSE]) as server, pooled() as pool:
        with pytest.raises(Unanswered):
            await post(pool, server.url)
    assert len(server.requests) == 1


async def test_a_reused_connection_closed_within_the_answer_is_not_retried() -> None:
    """Some answer came: the receiver may have acted on the request."""
    def script(connection: int, number: int) -> list[Step]:
        return [b"HTTP/1.1 2", CLOSE] if number == 1 else [OK]

    async with serving(script) as server, pooled() as pool:
        await post(pool, server.url)
        with pytest.raises(Disconnected) as raised:
            await post(pool, server.url)
    assert not isinstance(raised.value, Unanswered)
    assert len(server.requests) == 2


async def test_a_chunked_answer_is_read_whole_and_its_connection_reused() -> None:
    answer = (b"HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\nretry-after: 7\r\n\r\n"
              b"5\r\ncome \r\n")
    async with serving(lambda c, n: [answer, 0.05, b"a\r\nback later\r\n0\r\n\r\n"]) as server, \
            pooled() as pool:
        answers = [await post(pool, server.url) for _ in range(2)]
    assert [(a.status, a.body, a.complete) for a in answers] == [
        (503, b"come back later", True)] * 2
    assert answers[0].headers[b"retry-after"] == b"7"
    assert server.connections == 1


async def test_an_answer_without_a_length_ends_when_the_connection_closes() -> None:
    answer = b"HTTP/1.1 400 Bad Request\r\n\r\nno such"
    async with serving(lambda c, n: [answer, 0.05, b" hook", CLOSE]) as server, \
            pooled() as pool:
        answers = [await post(pool, server.url) for _ in range(2)]
    assert [(a.status, a.body, a.complete) for a in answers] == [
        (400, b"no such hook", True)] * 2
    assert server.connections == 2


async def test_a_body_longer_than_the_cap_is_cut_off_and_its_connection_closed() -> None:
    answer = b"HTTP/1.1 500 Oops\r\ncontent-length: 5000\r\n\r\n" + b"x" * 5000
    async with serving(lambda c, n: [answer]) as server, \
            pooled(body_max=1000, body_keep=100) as pool:
        answers = [await post(pool, server.url) for _ in range(2)]
    assert [(a.status, a.body, a.complete) for a in answers] == [(500, b"x" * 100, False)] * 2
    assert server.connections == 2


async def test_informational_answers_are_skipped() -> None:
    answer = (b"HTTP/1.1 100 Continue\r\n\r\n"
              b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>\r\n\r\n"
              b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone")
    async with serving(lambda c, n: [answer]) as server, pooled() as pool:
        answers = [await post(pool, server.url) for _ in range(2)]
    assert [(a.status, a.body, a.complete) for a in answers] == [(201, b"done", True)] * 2
    assert b"link" not in answers[0].headers
    assert server.connections == 1


async def test_requests_wait_for_a_connection_within_the_per_host_limit() -> None:
    async with serving(lambda c, n: [0.05, OK]) as server, pooled(per_host=2) as pool:
        answers = await asyncio.gather(*(post(pool, server.url) for _ in range(8)))
    assert [a.status for a in answers] == [200] * 8
    assert server.connections == 2
    assert server.active.most == 2


async def test_the_pool_limit_holds_across_hosts_and_idle_connections_make_room() -> None:
    tally = Tally()
    async with serving(lambda c, n: [0.05, OK], tally) as one, \
            serving(lambda c, n: [0.05, OK], tally) as two, \
            pooled(connections=2, per_host=2) as pool:
        first = await asyncio.gather(*(post(pool, one.url) for _ in range(4)))
        # one's two connections sit idle: two's requests close them to open their own
        second = await asyncio.gather(*(post(pool, two.url) for _ in range(4)),
                                      *(post(pool, one.url) for _ in range(4)))
    assert [a.status for a in first + second] == [200] * 12
    assert tally.most == 2
    assert two.connections >= 1 and one.connections >= 2


async def test_no_answer_is_a_read_timeout() -> None:
    async with serving(lambda c, n: [5.0]) as server, pooled(read_timeout_s=0.2) as pool:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await post(pool, server.url)
    assert 0.2 - EARLY <= time.monotonic() - started < 1.0


async def test_a_head_that_trickles_past_the_deadline_is_a_timeout() -> None:
    steps: list[Step] = [b"HTTP/1.1 200 OK\r\nx-slow: "]
    async with serving(lambda c, n: steps + [b"a", 0.05] * 40) as server, \
            pooled(read_timeout_s=0.2, deadline_s=0.5) as pool:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await post(pool, server.url)
    assert 0.5 - EARLY <= time.monotonic() - started < 1.0


async def test_a_head_then_a_stalled_body_returns_the_head_at_the_read_timeout() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nstart"
    async with serving(lambda c, n: [head, 5.0]) as server, pooled(read_timeout_s=0.2) as pool:
        answer = await post(pool, server.url)
        again = await post(pool, server.url)
    assert (answer.status, answer.body, answer.complete) == (200, b"start", False)
    assert again.status == 200 and server.connections == 2


async def test_connecting_to_a_receiver_that_never_accepts_is_a_connect_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    for _ in range(4):  # fill the accept queue: later connects are not answered
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        queued.append(client)
    try:
        async with pooled() as pool:
            started = time.monotonic()
            with pytest.raises(ConnectTimeout):
                await post(pool, f"http://127.0.0.1:{port}/hook")
        assert 0.3 - EARLY <= time.monotonic() - started < 1.0
    finally:
        for client in queued:
            client.close()
        listener.close()


async def test_close_closes_the_pooled_connections() -> None:
    async with serving(lambda c, n: [OK]) as server:
        async with pooled() as pool:
            await asyncio.gather(*(post(pool, server.url) for _ in range(3)))
            assert server.connections == 3 and server.ended == 0
        for _ in range(100):
            if server.ended == 3:
                break
            await asyncio.sleep(0.01)
        assert server.ended == 3


async def test_a_connection_idle_past_its_read_timeout_is_reused_and_still_times_out() -> None:
    """The request timer outlives the request: firing while the connection is idle must neither
    close it nor leave the next request on it without a read timeout or a deadline."""
    trickle: list[Step] = [b"HTTP/1.1 200 OK\r\nx-slow: ", *[b"a", 0.05] * 40]
    steps: dict[tuple[int, int], list[Step]] = {(0, 2): [5.0], (1, 0): trickle}
    async with serving(lambda c, n: steps.get((c, n), [OK])) as server, \
            pooled(read_timeout_s=0.2, deadline_s=0.5) as pool:
        assert (await post(pool, server.url)).status == 200
        await asyncio.sleep(0.3)  # its timer fires meanwhile
        assert (await post(pool, server.url)).status == 200
        assert server.connections == 1
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await post(pool, server.url)
        assert 0.2 - EARLY <= time.monotonic() - started < 0.45
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await post(pool, server.url)
        assert 0.5 - EARLY <= time.monotonic() - started < 1.0
