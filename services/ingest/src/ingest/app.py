"""Composition root of ingest: settings, logging, Redis, HTTP API, feed pollers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.egress import EgressPolicy
from shared.events import INGESTED_STREAM
from shared.logging import configure_logging
from shared.observability import Metrics, health_router
from shared.runtime import settle_heap

from ingest.auth import SourceKeys
from ingest.body import read_body
from ingest.errors import IngestError
from ingest.intake import Intake
from ingest.openapi import articles_request_body
from ingest.parsing import parse_checked
from ingest.polling import FeedPoller
from ingest.settings import IngestSettings

log = structlog.get_logger()

# Documents up to this size are parsed on the event loop: a JSON story of 2500 words (14 KB)
# parses in about half a millisecond, while handing it to a thread and back costs GIL
# hand-offs (up to the 5 ms switch interval each under load) that capped ingest far below
# its CPU.
INLINE_PARSE_BYTES = 16 * 1024


def create_app(settings: IngestSettings | None = None, redis: Redis | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    configure_logging(settings.log_level, settings.log_json)
    redis = redis or Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
    )
    metrics = Metrics("ingest")
    keys = SourceKeys(settings.ingest_keys)
    limits = settings.limits()
    intake = Intake(
        redis,
        stream=settings.stream_prefix + INGESTED_STREAM,
        namespace=settings.stream_prefix,
        dedupe_ttl_s=settings.dedupe_ttl_s,
        waitaof=settings.waitaof,
        max_version_jump=settings.max_version_jump,
        shared_namespaces=settings.shared_namespaces,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if settings.feeds:
            poller = FeedPoller(
                settings.feeds,
                intake,
                redis,
                namespace=settings.stream_prefix,
                max_bytes=settings.max_request_bytes,
                egress=EgressPolicy(settings.feed_allowed, setting="NEWSFLOW_FEED_ALLOW_HOSTS"),
                limits=limits,
            )
            tasks.append(asyncio.create_task(poller.run()))
        log.info("ingest.started", port=settings.http_port, sources=sorted(settings.ingest_keys))
        settle_heap()
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await redis.aclose()

    app = FastAPI(
        title="Newsflow ingest",
        version="0.1.0",
        description="Push stories in any supported wire format; 202 once durably queued.",
        lifespan=lifespan,
    )
    app.include_router(health_router(metrics, {"redis": redis.ping}))

    @app.exception_handler(IngestError)
    async def ingest_error(request: Request, exc: IngestError) -> JSONResponse:
        metrics.http_requests.labels("articles", str(exc.status)).inc()
        log.info("request.rejected", code=exc.code, field=exc.field, message=exc.message)
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.post(
        "/v1/articles",
        status_code=202,
        responses={
            202: {"description": "every item is durably queued (or was already)"},
            400: {"description": "malformed document"},
            401: {"description": "bad source key"},
            413: {"description": "too large"},
            415: {"description": "unsupported format"},
            422: {"description": "a field is missing or wrong"},
            503: {"description": "queue unavailable; retry"},
        },
        openapi_extra=articles_request_body(),
    )
    async def post_articles(request: Request) -> JSONResponse:
        """Accept one story or a batch, in any supported format (detected from the content)."""
        source = keys.authenticate(request.headers.get("authorization"))
        raw = await read_body(request, settings.max_request_bytes)
        content_type = request.headers.get("content-type")
        parse = functools.partial(
            parse_checked,
            raw,
            content_type,
            provider=source,
            max_bytes=settings.max_request_bytes,
            max_items=settings.max_items_per_request,
            limits=limits,
        )
        # Parsing a large document is CPU work: keep it off the event loop. A small one parses
        # faster than a thread hop and back.
        parsed = parse() if len(raw) <= INLINE_PARSE_BYTES else await asyncio.to_thread(parse)
        try:
            # A stalled Redis must not hold the sender longer than this: it gets a 503 and
            # retries; the (source, uri, version) key makes that retry a `duplicate` if the
            # append did happen.
            async with asyncio.timeout(settings.intake_timeout_s):
                results = await intake.submit(parsed.articles)
        except (RedisError, TimeoutError) as exc:
            log.error("intake.unavailable", error=str(exc) or type(exc).__name__)
            metrics.http_requests.labels("articles", "503").inc()
            return JSONResponse(
                {
                    "error": {
                        "code": "unavailable",
                        "message": "queue unavailable, retry",
                        "field": None,
                    }
                },
                status_code=503,
                headers={"Retry-After": str(settings.retry_after_s)},
            )
        taken = [(r, n) for r, n in zip(results, parsed.notices, strict=True) if r.taken]
        refused = [r for r in results if r.error is not None]
        if refused and not taken:  # nothing was taken: the request fails as the first refusal
            raise refused[0].error  # type: ignore[misc]
        metrics.http_requests.labels("articles", "202").inc()
        metrics.events_out.labels(intake.stream).inc(
            sum(1 for r in results if r.status == "accepted")
        )
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
        return JSONResponse(body, status_code=202)

    return app
