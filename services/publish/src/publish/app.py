"""Composition root of publish: settings, logging, Redis, MongoDB store, broker, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM
from shared.logging import configure_logging
from shared.observability import Metrics, health_router
from shared.streams import GroupConsumer, StreamTrimmer, ensure_group

from publish.api import read_router
from publish.embargo import EmbargoSchedule
from publish.errors import PublishError
from publish.handlers import PublishArticles
from publish.settings import PublishSettings
from publish.store import ArticleStore

log = structlog.get_logger()

GROUP = "publish"


def create_app(settings: PublishSettings | None = None,
               store: ArticleStore | None = None) -> FastAPI:
    settings = settings or PublishSettings()
    configure_logging(settings.log_level, settings.log_json)
    redis = Redis.from_url(settings.redis_url)
    broker = RedisBroker(settings.redis_url, graceful_timeout=settings.graceful_timeout_s,
                         logger=None)
    store = store or ArticleStore(
        AsyncMongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True),
        settings.mongodb_db)
    metrics = Metrics("publish")
    in_stream = settings.stream_prefix + ENRICHED_STREAM
    out_stream = settings.stream_prefix + PUBLISHED_STREAM
    embargo = EmbargoSchedule(redis, namespace=settings.stream_prefix, release_to=in_stream,
                              interval_s=settings.embargo_poll_s)
    consumer = GroupConsumer(redis=redis, stream=in_stream, group=GROUP,
                             handler=PublishArticles(store, embargo, out_stream),
                             settings=settings, metrics=metrics)
    consumer.attach(broker)
    trimmers = [
        StreamTrimmer(redis, [in_stream], metrics, interval_s=settings.trim_interval_s),
        StreamTrimmer(redis, [out_stream], metrics, interval_s=settings.trim_interval_s,
                      retention_ms=settings.published_retention_s * 1000),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_group(redis, in_stream, GROUP)
        await store.create_indexes()
        await broker.start()
        tasks = [asyncio.create_task(t.run()) for t in trimmers]
        tasks.append(asyncio.create_task(embargo.run()))
        log.info("publish.started", stream=in_stream, consumer=consumer.consumer)
        yield
        for task in tasks:
            task.cancel()
        await broker.stop()  # finishes the batch in hand (graceful timeout) before returning
        await store.close()
        await redis.aclose()

    app = FastAPI(title="Newsflow publish", version="0.1.0", lifespan=lifespan,
                  description="Read API, live stream and feeds of published stories.")
    app.include_router(health_router(metrics, {"redis": redis.ping, "mongodb": store.ping}))
    app.include_router(read_router(store, settings.page_limit_max))

    @app.exception_handler(PublishError)
    async def publish_error(request: Request, exc: PublishError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    return app
