"""Server-Sent Events at ``GET /v1/stream``: news.published, filtered, resumable by entry id.

One reader task per process follows news.published and hands each entry, encoded once, to every
connected client's bounded queue. A client that cannot keep up (its queue fills) is disconnected
with a final comment instead of slowing the others; it resumes with ``Last-Event-ID``.

Resume without gaps or repeats: the backlog after the client's id is read with XRANGE (exclusive
start) until caught up, the client then joins the live fan-out, one more XRANGE covers what
arrived in between, and live entries at or below the last id read are skipped. When the client's
id is older than the oldest entry still kept (news.published is trimmed after its retention), it
is told so first with a ``gap`` event, so it can re-read what it missed from the read API.

With no client connected the reader stops reading (each read cost a round trip and the decoding
of every published story); the first client to join wakes it, and is held before its first
byte until the reader has taken the stream's newest id as its starting point, so what the
client is sent live starts there (the resume path's second XRANGE covers up to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Header, Query, Request
from pydantic import ValidationError
from redis.asyncio import Redis
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from shared.events import Event, EventDecodeError
from shared.filters import KILLED, WEBHOOK_TYPES, Filters

from publish.errors import BadRequest, Invalid
from publish.metrics import ChannelMetrics

log = structlog.get_logger()

BACKLOG_PAGE = 500
# A new client waits at most this long for the idle reader to start before its first byte: only
# while Redis is out of reach, when nothing can be announced anyway.
FOLLOW_WAIT_S = 2.0
# A stream entry id: milliseconds and an optional sequence, each an unsigned 64-bit number.
# Bounded in digits before int() sees it (which refuses over 4,300 digits with a ValueError).
ENTRY_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
_U64 = 2**64
_LISTS = ("topics", "entities", "sources", "event_types")


@dataclass(frozen=True)
class Frame:
    """One news.published entry, encoded as an SSE message."""

    entry_id: str
    kind: str | None  # article.published | article.killed
    article: dict[str, Any]
    text: bytes

    @classmethod
    def of(cls, entry_id: Any, fields: dict[bytes, bytes]) -> Frame:
        entry_id = _text(entry_id)
        try:
            event = Event.from_fields(fields)
        except EventDecodeError:
            return cls(entry_id, None, {}, b"")
        envelope = {"id": event.id, "type": event.type, "source": event.source,
                    "time": event.time.isoformat().replace("+00:00", "Z"),
                    "subject": event.subject, "data": event.data}
        text = (f"id: {entry_id}\nevent: {event.type}\ndata: ".encode()
                + orjson.dumps(envelope) + b"\n\n")
        return cls(entry_id, WEBHOOK_TYPES.get(event.type), event.data, text)


@dataclass(eq=False)
class Client:
    filters: Filters
    queue: asyncio.Queue[Frame]
    too_slow: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, frame: Frame) -> bool:
        if frame.kind is None or not self.filters.wants_type(frame.kind):
            return False
        if frame.kind == KILLED:
            # A kill notice has no content to filter on, and missing a kill is worse than an
            # extra one: only the source filter applies.
            provider = (frame.article.get("source") or {}).get("provider")
            return not self.filters.sources or provider in self.filters.sources
        return self.filters.matches(frame.article)

    def offer(self, frame: Frame) -> None:
        if self.too_slow.is_set() or not self.wants(frame):
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.too_slow.set()


class StreamHub:
    """The one reader of news.published in this process."""

    def __init__(self, redis: Redis, stream: str, metrics: ChannelMetrics, *,
                 queue_size: int, block_ms: int = 1000) -> None:
        self.redis = redis
        self.stream = stream
        self.metrics = metrics
        self.queue_size = queue_size
        self.block_ms = block_ms
        self.clients: set[Client] = set()
        self._following = asyncio.Event()  # the reader reads (set until it first goes idle)
        self._following.set()
        self._wanted = asyncio.Event()  # a client joined: the idle reader starts again

    def connect(self, filters: Filters) -> Client:
        return Client(filters, asyncio.Queue(self.queue_size))

    def join(self, client: Client) -> None:
        self.clients.add(client)
        self._wanted.set()
        self.metrics.sse_clients.set(len(self.clients))

    async def following(self) -> None:
        """Returns once the reader follows the stream: live entries reach joined clients."""
        await self._following.wait()

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        self.metrics.sse_clients.set(len(self.clients))

    def dispatch(self, frames: list[Frame]) -> None:
        for client in list(self.clients):
            for frame in frames:
                client.offer(frame)
            if client.too_slow.is_set():
                self.leave(client)
                self.metrics.sse_dropped.inc()

    async def run(self) -> None:
        last = await self._last_id()
        while True:
            if not self.clients:  # nobody to send to: read nothing until someone joins
                self._following.clear()
                self._wanted.clear()
                await self._wanted.wait()
                last = await self._last_id()
                self._following.set()
            result: Any
            try:
                result = await self.redis.xread({self.stream: last}, count=BACKLOG_PAGE,
                                                block=self.block_ms)
            except Exception:
                log.exception("sse.read_failed", stream=self.stream)
                await asyncio.sleep(1.0)
                continue
            for _, entries in result or []:
                if entries:
                    last = _text(entries[-1][0])
                    if self.clients:  # the last one may have left during the read
                        self.dispatch([Frame.of(i, f) for i, f in entries])

    async def backlog(self, after: str) -> AsyncIterator[Frame]:
        """Entries after ``after`` (exclusive) up to now, in pages."""
        while True:
            entries: Any = await self.redis.xrange(self.stream, min="(" + after, max="+",
                                                   count=BACKLOG_PAGE)
            for entry_id, fields in entries:
                frame = Frame.of(entry_id, fields)
                after = frame.entry_id
                yield frame
            if len(entries) < BACKLOG_PAGE:
                return

    async def gap(self, after: str) -> bytes | None:
        """A ``gap`` event when entries after ``after`` may have been trimmed away, else None.

        Trimming removes the oldest entries, so a gap is possible exactly when ``after`` is older
        than the first entry kept and some entries were removed (entries-added > length)."""
        info: Any = await self.redis.xinfo_stream(self.stream)
        first, added, length = info.get("first-entry"), info["entries-added"], info["length"]
        if added <= length or _key(after) == (0, 0):
            return None
        # With every entry gone, nothing after the last generated id was lost.
        oldest = _text(first[0]) if first else _text(info["last-generated-id"])
        if _key(after) >= _key(oldest):
            return None
        self.metrics.sse_gaps.inc()
        data = {"lastEventId": after, "oldestAvailableId": oldest,
                "message": "entries after your Last-Event-ID are no longer kept; read what you "
                           "missed from /v1/articles (newest first) and carry on from here"}
        return b"event: gap\ndata: " + orjson.dumps(data) + b"\n\n"

    async def _last_id(self) -> str:
        while True:
            try:
                newest = await self.redis.xrevrange(self.stream, count=1)
                return _text(newest[0][0]) if newest else "0-0"
            except Exception:
                log.exception("sse.start_failed", stream=self.stream)
                await asyncio.sleep(1.0)


async def client_frames(hub: StreamHub, client: Client, last_event_id: str | None,
                        heartbeat_s: float) -> AsyncIterator[bytes]:
    """What one client is sent: the backlog after its id, then live entries and heartbeats."""
    seen: tuple[int, int] | None = None
    try:
        if not last_event_id:
            hub.join(client)  # before the first byte: once a client reads anything, it is live
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FOLLOW_WAIT_S):
                    await hub.following()
        yield b"retry: 2000\n\n"
        if last_event_id:
            seen = _key(last_event_id)
            with contextlib.suppress(Exception):  # a missing stream has nothing to resume
                if gap := await hub.gap(last_event_id):
                    yield gap
            for round_ in (1, 2):
                if round_ == 2:
                    hub.join(client)
                    await hub.following()  # live from an id this XRANGE reaches
                async for frame in hub.backlog(_id(seen)):
                    seen = _key(frame.entry_id)
                    if client.wants(frame):
                        yield frame.text
        while True:
            try:
                # Not wait_for: on 3.11 it can swallow a cancellation that races with a result.
                async with asyncio.timeout(heartbeat_s):
                    frame = await client.queue.get()
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if seen is not None and _key(frame.entry_id) <= seen:
                continue
            yield frame.text
    finally:
        hub.leave(client)


class EventStreamResponse(Response):
    """A ``text/event-stream`` response that ends when the client leaves or falls behind."""

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterator[bytes], client: Client) -> None:
        super().__init__(status_code=200, media_type=self.media_type)
        self.frames = frames
        self.client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"),
            # Public, credential-free data: a browser EventSource on any origin may read it
            # (Last-Event-ID on its reconnects needs no preflight).
            (b"access-control-allow-origin", b"*")]})

        async def pump() -> None:
            async for chunk in self.frames:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async def left() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        tasks = {asyncio.create_task(pump()), asyncio.create_task(left()),
                 asyncio.create_task(self.client.too_slow.wait())}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.frames.aclose()  # type: ignore[attr-defined]
        final = b""
        if self.client.too_slow.is_set():
            final = b": disconnected: too slow to keep up; reconnect with Last-Event-ID\n\n"
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await send({"type": "http.response.body", "body": final, "more_body": False})
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("sse.stream_failed", error=repr(task.exception()))


def sse_router(hub: StreamHub, heartbeat_s: float) -> APIRouter:
    router = APIRouter(tags=["stream"])

    # FastAPI cannot describe EventStreamResponse itself; the 200 is described by hand.
    @router.get("/v1/stream", response_class=Response, responses={200: {
        "description": "`text/event-stream`: `retry:`, then `id:`/`event:`/`data:` messages "
                       "and comment heartbeats",
        "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    async def stream(
        request: Request,
        topics: Annotated[list[str] | None, Query(
            description="medtop codes (repeat or comma-separate)")] = None,
        entities: Annotated[list[str] | None, Query()] = None,
        language: str | None = None,
        urgency: int | None = Query(None, description="at or above: 3 means urgency 1 to 3"),
        sources: Annotated[list[str] | None, Query()] = None,
        event_types: Annotated[list[str] | None, Query(
            description="article.published, article.killed")] = None,
        last_event_id_param: str | None = Query(None, alias="last_event_id"),
        last_event_id: str | None = Header(None),
    ) -> EventStreamResponse:
        """Live published events; `id:` is the news.published entry id, `event:` the ce_type.
        Resume with the `Last-Event-ID` header (or `last_event_id`); kills pass every content
        filter."""
        filters = _filters(topics=topics, entities=entities, language=language,
                           urgency=urgency, sources=sources, event_types=event_types)
        resume = last_event_id or last_event_id_param
        key = None if resume is None else entry_key(resume)
        if resume is not None and key is None:
            raise BadRequest("Last-Event-ID must be a stream entry id such as 1700000000000-0 "
                             "(milliseconds and a sequence, each below 2**64)", "last_event_id")
        client = hub.connect(filters)
        frames = client_frames(hub, client, resume.strip() if resume and key else None,
                               heartbeat_s)
        return EventStreamResponse(frames, client)

    return router


def _filters(**given: Any) -> Filters:
    values: dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(value, list):
            value = [part.strip() for item in value for part in item.split(",") if part.strip()]
            if not value:
                continue
        elif name in _LISTS:
            continue
        if value is not None:
            values[name] = value
    try:
        return Filters.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "filters"
        raise Invalid(f"{name}: {error['msg']}", name) from exc


def entry_key(value: str) -> tuple[int, int] | None:
    """``(ms, seq)`` of a stream entry id such as ``1700000000000-0`` (or ``1700000000000``),
    or None when ``value`` is not one Redis could hold."""
    match = ENTRY_ID.fullmatch(value.strip())
    if match is None:
        return None
    key = int(match[1]), int(match[2] or 0)
    # The very last id is one nothing can follow (Redis refuses a range that starts after it).
    return key if max(key) < _U64 and key != (_U64 - 1, _U64 - 1) else None


def _key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _id(key: tuple[int, int]) -> str:
    return f"{key[0]}-{key[1]}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
