"""The SSE fan-out: a client that cannot keep up is cut off, the others get everything."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.article import Article, Source
from shared.events import ArticlePublished
from shared.filters import Filters
from shared.observability import Metrics

from publish.metrics import ChannelMetrics
from publish.sse import EventStreamResponse, Frame, StreamHub, client_frames


def frame(n: int) -> Frame:
    article = Article(uri=f"urn:sse:{n}", version=1, source=Source(provider="dpa", format="json"))
    event = ArticlePublished.for_article(article, "test")
    return Frame.of(f"{1000 + n}-0", {k.encode(): v if isinstance(v, bytes) else v.encode()
                                      for k, v in event.to_fields().items()})


def hub(queue_size: int) -> tuple[StreamHub, ChannelMetrics]:
    metrics = ChannelMetrics(Metrics("test"))
    return StreamHub(redis=None, stream="s", metrics=metrics,  # type: ignore[arg-type]
                     queue_size=queue_size), metrics


async def test_a_stalled_client_is_disconnected_with_a_final_comment_and_others_keep_up() -> None:
    the_hub, metrics = hub(queue_size=3)
    stalled, healthy = the_hub.connect(Filters()), the_hub.connect(Filters())
    sent: list[bytes] = []
    blocked = asyncio.Event()

    async def stuck_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("more_body"):
            if sent:  # the first chunk goes out, then the socket stops draining
                blocked.set()
                await asyncio.sleep(3600)
            sent.append(message["body"])
        elif message["type"] == "http.response.body":
            sent.append(message["body"])

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    response = EventStreamResponse(client_frames(the_hub, stalled, None, 30.0), stalled)
    serving = asyncio.create_task(response({"type": "http"}, receive, stuck_send))
    the_hub.join(healthy)
    await asyncio.sleep(0.05)
    delivered = []
    for n in range(10):
        the_hub.dispatch([frame(n)])
        while not healthy.queue.empty():  # a client that reads
            delivered.append(healthy.queue.get_nowait().entry_id)
        if n == 1:
            await blocked.wait()
    await asyncio.wait_for(serving, 2.0)  # the response ends although the socket is stuck

    assert stalled not in the_hub.clients and healthy in the_hub.clients
    assert delivered == [f"{1000 + n}-0" for n in range(10)]  # nobody waited for the slow one
    assert metrics.sse_clients._value.get() == 1
    assert metrics.sse_dropped._value.get() == 1


async def test_a_slow_but_reading_client_gets_the_final_comment() -> None:
    the_hub, _ = hub(queue_size=2)
    client = the_hub.connect(Filters())
    the_hub.join(client)
    for n in range(5):
        the_hub.dispatch([frame(n)])
    assert client.too_slow.is_set()
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    response = EventStreamResponse(client_frames(the_hub, client, None, 30.0), client)
    await asyncio.wait_for(response({"type": "http"}, receive, send), 2.0)
    assert sent[-1].startswith(b": disconnected: too slow")


async def test_the_stream_is_readable_by_a_browser_on_another_origin() -> None:
    the_hub, _ = hub(queue_size=2)
    client = the_hub.connect(Filters())
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and message.get("more_body"):
            the_hub.leave(client)
            client.too_slow.set()  # ends the response after the first chunk

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    response = EventStreamResponse(client_frames(the_hub, client, None, 30.0), client)
    await asyncio.wait_for(response({"type": "http"}, receive, send), 2.0)
    headers = dict(messages[0]["headers"])
    assert headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert headers[b"cache-control"] == b"no-cache"
    assert headers[b"access-control-allow-origin"] == b"*"
    assert messages[1]["body"] == b"retry: 2000\n\n"


async def test_a_new_client_gets_its_first_byte_while_the_idle_reader_cannot_start(
        monkeypatch: Any) -> None:
    the_hub, _ = hub(queue_size=2)
    the_hub._following.clear()  # idle, and its restart is stuck (Redis out of reach)
    monkeypatch.setattr("publish.sse.FOLLOW_WAIT_S", 0.05)
    client = the_hub.connect(Filters())
    frames = client_frames(the_hub, client, None, 30.0)
    first = await asyncio.wait_for(anext(frames), 1.0)
    assert first.startswith(b"retry:")
    assert client in the_hub.clients  # joined: live entries reach it once the reader runs
    await frames.aclose()
