"""Composition root of ingest: settings, logging, Redis, HTTP API, feed pollers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from redis.asyncio import Redis

from shared.egress import EgressPolicy
from shared.events import INGESTED_STREAM
from shared.logging import configure_logging
from shared.observability import Metrics, health_router
from shared.redis_packing import HiredisPackedConnection
from shared.runtime import settle_heap

from ingest.auth import SourceKeys
from ingest.handlers import PATH, Articles, IngestAPI
from ingest.intake import Intake
from ingest.openapi import articles_request_body
from ingest.polling import FeedPoller
from ingest.settings import IngestSettings

log = structlog.get_logger()


def create_app(settings: IngestSettings | None = None, redis: Redis | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    configure_logging(settings.log_level, settings.log_json)
    given_redis = redis
    redis = redis or Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
    )
    # The intake's appends are bounded as a whole (NEWSFLOW_INTAKE_TIMEOUT_S, in Intake) on a
    # client of their own without a socket timeout: redis-py times each write of a client that
    # has one with asyncio.wait_for, a task per command, a tenth of a small story's CPU.
    appends = (
        Redis.from_url(
            settings.redis_url,
            socket_timeout=None,  # redis-py's default is 5 s
            socket_connect_timeout=settings.redis_timeout_s,
            connection_class=HiredisPackedConnection,  # rediss:// and unix:// keep their own
        )
        if given_redis is None
        else redis
    )
    metrics = Metrics("ingest")
    keys = SourceKeys(settings.ingest_keys)
    limits = settings.limits()
    intake = Intake(
        appends,
        timeout_s=settings.intake_timeout_s,
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
        if appends is not redis:
            await appends.aclose()

    app = IngestAPI(
        title="Newsflow ingest",
        version="0.1.0",
        description="Push stories in any supported wire format; 202 once durably queued.",
        lifespan=lifespan,
    )
    app.include_router(health_router(metrics, {"redis": redis.ping}))

    articles = Articles(settings, keys=keys, intake=intake, metrics=metrics, limits=limits)
    app.articles = articles

    @app.post(
        PATH,
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
    async def post_articles(request: Request) -> Response:
        """Accept one story or a batch, in any supported format (detected from the content)."""
        answer = await articles.answer(request.headers, request.receive)
        return Response(
            answer.body,
            status_code=answer.status,
            media_type="application/json",
            headers={k.decode(): v.decode() for k, v in answer.headers},
        )

    return app
