"""Composition root of publish: settings, logging, Redis, MongoDB store, broker, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from shared.errors import validation_body
from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM
from shared.logging import configure_logging
from shared.observability import Metrics, health_router
from shared.ops import OpsReader, SubscriptionInfo, record_forever
from shared.runtime import settle_heap
from shared.streams import GroupConsumer, StreamTrimmer, ensure_group, exit_when_stopped

from publish.api import read_router
from publish.auth import admin_guard
from publish.dashboard import dashboard_router
from publish.embargo import EmbargoSchedule
from publish.errors import PublishError
from publish.feeds import feed_router
from publish.handlers import PublishArticles
from publish.metrics import ChannelMetrics
from publish.pages import pages_router
from publish.settings import PublishSettings
from publish.sse import StreamHub, sse_router
from publish.store import ArticleStore

log = structlog.get_logger()

MIGRATION_PROGRESS_S = 5.0  # how often a long topic-code migration logs how far it got

GROUP = "publish"


def create_app(settings: PublishSettings | None = None,
               store: ArticleStore | None = None) -> FastAPI:
    settings = settings or PublishSettings()
    configure_logging(settings.log_level, settings.log_json)
    redis = Redis.from_url(settings.redis_url)
    broker = RedisBroker(settings.redis_url, graceful_timeout=settings.graceful_timeout_s,
                         logger=None)  # type: ignore[arg-type]  # None: FastStream logs nothing
    store = store or ArticleStore(
        AsyncMongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True),
        settings.mongodb_db)
    metrics = Metrics("publish")
    in_stream = settings.stream_prefix + ENRICHED_STREAM
    out_stream = settings.stream_prefix + PUBLISHED_STREAM
    embargo = EmbargoSchedule(redis, namespace=settings.stream_prefix, release_to=in_stream,
                              interval_s=settings.embargo_poll_s)
    consumer = GroupConsumer(redis=redis, stream=in_stream, group=GROUP,
                             handler=PublishArticles(store, embargo, out_stream, redis=redis,
                                                     namespace=settings.stream_prefix),
                             settings=settings, metrics=metrics)
    consumer.attach(broker)
    channel_metrics = ChannelMetrics(metrics)
    hub = StreamHub(redis, out_stream, channel_metrics, queue_size=settings.sse_client_queue,
                    block_ms=settings.block_ms)
    subscriptions: dict[str, SubscriptionInfo] = {}  # deliver's, read for the dashboard
    ops = OpsReader(redis, settings.stream_prefix, stuck_after_s=settings.ops_stuck_after_s,
                    subscriptions=lambda: subscriptions)

    async def follow_subscriptions() -> None:
        while True:
            try:
                views = await store.subscription_views()
                subscriptions.clear()
                subscriptions.update({sub: SubscriptionInfo(*view) for sub, view in views.items()})
            except Exception:
                log.exception("dashboard.subscriptions_failed")
            await asyncio.sleep(settings.ops_subscriptions_refresh_s)
    forget_ms = int(settings.forget_consumers_after_s * 1000)
    trimmers = [
        StreamTrimmer(redis, [in_stream], metrics, interval_s=settings.trim_interval_s,
                      forget_consumers_ms=forget_ms),
        StreamTrimmer(redis, [out_stream], metrics, interval_s=settings.trim_interval_s,
                      retention_ms=settings.published_retention_s * 1000,
                      forget_consumers_ms=forget_ms),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_group(redis, in_stream, GROUP)
        await store.create_indexes()
        await migrate_topic_codes(store, channel_metrics)
        await broker.start()
        tasks = [asyncio.create_task(t.run()) for t in trimmers]
        tasks.append(asyncio.create_task(embargo.run()))
        tasks.append(asyncio.create_task(hub.run()))
        tasks.append(asyncio.create_task(exit_when_stopped(broker)))
        tasks.append(asyncio.create_task(follow_subscriptions()))
        tasks.append(asyncio.create_task(
            record_forever(ops, lambda: len(hub.clients), consumer.consumer)))
        log.info("publish.started", stream=in_stream, consumer=consumer.consumer)
        settle_heap()
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
    guard = admin_guard(settings.admin_key)
    app.include_router(sse_router(hub, settings.sse_heartbeat_s))
    app.include_router(feed_router(store, channel_metrics, settings.feed_size, settings.base_url))
    app.include_router(pages_router(store, settings.base_url))
    app.include_router(dashboard_router(ops, guard))

    @app.exception_handler(PublishError)
    async def publish_error(request: Request, exc: PublishError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc.errors()), status_code=422)

    return app


async def migrate_topic_codes(stories: ArticleStore, metrics: ChannelMetrics) -> None:
    """Stories stored with the former table's topic codes move to IPTC's codes before anything
    is served (README: "Topic codes changed"); deliver migrates the subscription filters."""
    total = await stories.unchecked_topic_codes()
    if total:
        log.info("topics.migrating", kind="story", total=total)
    checked = 0
    last = time.monotonic()

    def step() -> None:  # a progress line every few seconds on a large store
        nonlocal checked, last
        checked += 1
        if time.monotonic() - last >= MIGRATION_PROGRESS_S:
            last = time.monotonic()
            log.info("topics.migrating", kind="story", checked=checked, total=total)

    done = await stories.migrate_topic_codes(step)
    metrics.topic_codes_migrated.labels("story").inc(done.codes)
    log.info("topics.migrated", kind="story", documents=done.documents, codes=done.codes,
             skipped=done.skipped)
