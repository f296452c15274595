"""``POST /v1/articles``: authenticate, read, parse, queue once, answer.

It is answered in plain ASGI before FastAPI's machinery runs (`IngestAPI`): for a small story
that machinery (middleware, routing, dependency solving, response classes) cost more CPU than
the work itself. The FastAPI route of the same path documents the operation in OpenAPI and
answers through the same `Articles.answer` wherever the fast path is not in front.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
import structlog
from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from shared.observability import Metrics

from ingest.auth import SourceKeys
from ingest.body import read_body
from ingest.errors import IngestError
from ingest.intake import Intake
from ingest.limits import Limits
from ingest.parsing import parse_checked
from ingest.settings import IngestSettings

log = structlog.get_logger()

PATH = "/v1/articles"
ROUTE = "articles"  # the route label of its metrics
# Documents up to this size are parsed on the event loop: a JSON story of 2500 words (14 KB)
# parses in about half a millisecond, while handing it to a thread and back costs GIL
# hand-offs (up to the 5 ms switch interval each under load) that capped ingest far below
# its CPU.
INLINE_PARSE_BYTES = 16 * 1024
_JSON = (b"content-type", b"application/json")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()


class Articles:
    """Accepts one story or a batch, in any supported format (detected from the content)."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        keys: SourceKeys,
        intake: Intake,
        metrics: Metrics,
        limits: Limits,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.intake = intake
        self.metrics = metrics
        self.limits = limits
        self._accepted = metrics.http_requests.labels(ROUTE, "202")
        self._unavailable = metrics.http_requests.labels(ROUTE, "503")
        self._events_out = metrics.events_out.labels(intake.stream)
        self._retry_after = (b"retry-after", str(settings.retry_after_s).encode())

    async def answer(self, headers: Mapping[str, str], receive: Receive) -> Answer:
        """The answer to one request (lower-case header names; the body read from
        ``receive``); every IngestError becomes its 4xx here."""
        try:
            return await self._accept(headers, receive)
        except IngestError as exc:
            self.metrics.http_requests.labels(ROUTE, str(exc.status)).inc()
            log.info("request.rejected", code=exc.code, field=exc.field, message=exc.message)
            return Answer(exc.status, orjson.dumps(exc.body()))

    async def _accept(self, headers: Mapping[str, str], receive: Receive) -> Answer:
        settings = self.settings
        source = self.keys.authenticate(headers.get("authorization"))
        raw = await read_body(headers, receive, settings.max_request_bytes)
        parse = functools.partial(
            parse_checked,
            raw,
            headers.get("content-type"),
            provider=source,
            max_bytes=settings.max_request_bytes,
            max_items=settings.max_items_per_request,
            limits=self.limits,
        )
        # Parsing a large document is CPU work: keep it off the event loop. A small one parses
        # faster than a thread hop and back.
        parsed = parse() if len(raw) <= INLINE_PARSE_BYTES else await asyncio.to_thread(parse)
        try:
            # A stalled Redis holds the sender no longer than the intake's timeout: it gets a
            # 503 and retries; the (source, uri, version) key makes that retry a `duplicate` if
            # the append did happen.
            results = await self.intake.submit(parsed.articles)
        except (RedisError, TimeoutError) as exc:
            log.error("intake.unavailable", error=str(exc) or type(exc).__name__)
            self._unavailable.inc()
            return Answer(
                503,
                orjson.dumps(
                    {
                        "error": {
                            "code": "unavailable",
                            "message": "queue unavailable, retry",
                            "field": None,
                        }
                    }
                ),
                (self._retry_after,),
            )
        taken = [(r, n) for r, n in zip(results, parsed.notices, strict=True) if r.taken]
        refused = [r for r in results if r.error is not None]
        if refused and not taken:  # nothing was taken: the request fails as the first refusal
            raise refused[0].error  # type: ignore[misc]
        self._accepted.inc()
        self._events_out.inc(sum(1 for r in results if r.status == "accepted"))
        wired = []
        for result, notices in taken:
            entry = result.wire()
            if notices:  # accepted, but some value could not be used as sent
                entry["warnings"] = [n.wire() for n in notices]
            wired.append(entry)
        body: dict[str, object] = {"results": wired}
        rejected = [{"item": r.item, **r.error.body()["error"]} for r in parsed.rejections]
        rejected += [
            {"item": repr(r.uri), **r.error.body()["error"]} for r in refused if r.error is not None
        ]
        if rejected:  # the usable items went through; say which were left out
            body["rejected"] = rejected
        return Answer(202, orjson.dumps(body))


class IngestAPI(FastAPI):
    """FastAPI, with ``POST /v1/articles`` handed to `Articles` before any of its machinery
    (middleware, routing, dependency solving, response classes) runs."""

    articles: Articles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        articles = self.articles
        if (
            articles is None
            or scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
        ):
            await super().__call__(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:  # the first of a repeated header counts
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        answer = await articles.answer(headers, receive)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-length", str(len(answer.body)).encode()),
                    _JSON,
                    *answer.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
