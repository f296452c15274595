"""Composition root of publish: settings, logging, Redis, MongoDB store, broker, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM
from shared.logging import configure_logging
from shared.observability import Metrics, health_router
from shared.ops import OpsReader, SubscriptionInfo, record_forever
from shared.streams import GroupConsumer, StreamTrimmer, ensure_group, exit_when_stopped

from publish.api import read_router
from publish.auth import admin_guard
from publish.dashboard import dashboard_router
from publish.deliveries import deliveries_router
from publish.delivery import Dispatcher, RetryPolicy, WebhookSender
from publish.egress import EgressPolicy
from publish.embargo import EmbargoSchedule
from publish.errors import PublishError
from publish.fanout import FanOut
from publish.feeds import feed_router
from publish.handlers import PublishArticles
from publish.metrics import ChannelMetrics
from publish.pages import pages_router
from publish.queue import DeliveryQueue
from publish.registry import SubscriptionRegistry
from publish.settings import PublishSettings
from publish.sse import StreamHub, sse_router
from publish.store import ArticleStore, SubscriptionStore
from publish.subscriptions import Subscriptions, subscriptions_router

log = structlog.get_logger()

GROUP = "publish"
WEBHOOKS_GROUP = "webhooks"


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
    channels = _Channels(settings, redis, store, metrics, out_stream)
    GroupConsumer(redis=redis, stream=out_stream, group=WEBHOOKS_GROUP, handler=channels.fanout,
                  settings=settings, metrics=metrics).attach(broker)
    ops = OpsReader(redis, settings.stream_prefix, stuck_after_s=settings.ops_stuck_after_s,
                    subscriptions=lambda: {
                        s.id: SubscriptionInfo(s.record.url, s.record.enabled,
                                               s.record.disabled_reason)
                        for s in channels.registry.by_id.values()})
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
        await ensure_group(redis, out_stream, WEBHOOKS_GROUP)
        await store.create_indexes()
        await migrate_topic_codes(store, channels.registry.store, channels.metrics)
        await channels.registry.load()
        channels.dispatcher.start()
        await broker.start()
        tasks = [asyncio.create_task(t.run()) for t in trimmers]
        tasks.append(asyncio.create_task(embargo.run()))
        tasks += [asyncio.create_task(c) for c in channels.loops()]
        tasks.append(asyncio.create_task(exit_when_stopped(broker)))
        tasks.append(asyncio.create_task(
            record_forever(ops, lambda: len(channels.hub.clients), consumer.consumer)))
        log.info("publish.started", stream=in_stream, consumer=consumer.consumer)
        yield
        for task in tasks:
            task.cancel()
        await broker.stop()  # finishes the batch in hand (graceful timeout) before returning
        await channels.dispatcher.stop()  # in-flight webhook sends become due again at once
        await store.close()
        await redis.aclose()

    app = FastAPI(title="Newsflow publish", version="0.1.0", lifespan=lifespan,
                  description="Read API, live stream and feeds of published stories.")
    app.include_router(health_router(metrics, {"redis": redis.ping, "mongodb": store.ping}))
    app.include_router(read_router(store, settings.page_limit_max))
    guard = admin_guard(settings.admin_key)
    app.include_router(subscriptions_router(channels.subscriptions, guard))
    app.include_router(deliveries_router(channels.queue, channels.registry,
                                         channels.dispatcher.wake, guard))
    app.include_router(sse_router(channels.hub, settings.sse_heartbeat_s))
    app.include_router(feed_router(store, channels.metrics, settings.feed_size,
                                   settings.base_url))
    app.include_router(pages_router(store, settings.base_url))
    app.include_router(dashboard_router(ops, guard))

    @app.exception_handler(PublishError)
    async def publish_error(request: Request, exc: PublishError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(exc), status_code=422)

    return app


async def migrate_topic_codes(stories: ArticleStore, subscriptions: SubscriptionStore,
                              metrics: ChannelMetrics) -> None:
    """Stories and subscription filters stored with the former table's topic codes move to
    IPTC's codes before anything is served (README: "Topic codes changed")."""
    for kind, store in (("story", stories), ("subscription", subscriptions)):
        done = await store.migrate_topic_codes()
        metrics.topic_codes_migrated.labels(kind).inc(done.codes)
        log.info("topics.migrated", kind=kind, documents=done.documents, codes=done.codes,
                 skipped=done.skipped)


class _Channels:
    """The outbound channels' collaborators: subscriptions, delivery queue and workers, SSE hub."""

    def __init__(self, settings: PublishSettings, redis: Redis, store: ArticleStore,
                 metrics: Metrics, out_stream: str) -> None:
        prefix = settings.stream_prefix
        self.metrics = ChannelMetrics(metrics)
        self.queue = DeliveryQueue(redis, prefix)
        self.registry = SubscriptionRegistry(SubscriptionStore(store.client, settings.mongodb_db),
                                             redis, key_prefix=prefix,
                                             refresh_s=settings.subscription_refresh_s)
        egress = EgressPolicy(settings.allow_hosts)
        self.subscriptions = Subscriptions(self.registry.store, self.registry, self.queue,
                                           egress, settings.webhook_secret_overlap_s)
        self.dispatcher = Dispatcher(
            registry=self.registry, queue=self.queue, metrics=self.metrics,
            sender=WebhookSender(egress, connect_timeout_s=settings.webhook_connect_timeout_s,
                                 read_timeout_s=settings.webhook_read_timeout_s),
            policy=RetryPolicy(settings.retry_schedule, settings.webhook_retry_after_max_s),
            on_gone=self.subscriptions.disable, max_in_flight=settings.webhook_max_in_flight,
            poll_s=settings.webhook_poll_interval_s, lease_s=settings.webhook_claim_lease_s,
            story_memory_s=settings.webhook_story_memory_s)
        self.registry.listeners.append(self.dispatcher.sync)
        self.fanout = FanOut(self.registry, self.queue, self.dispatcher.wake)
        self.hub = StreamHub(redis, out_stream, self.metrics,
                             queue_size=settings.sse_client_queue, block_ms=settings.block_ms)

    def loops(self) -> list[Coroutine[Any, Any, None]]:
        return [self.registry.run(), self.dispatcher.housekeeping(), self.hub.run()]


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """FastAPI's validation errors in the service's shape, naming the first bad field."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(p for p in loc if not p.isdigit()) or "body"
    return {"error": {"code": "invalid", "message": f"{field}: {first.get('msg', 'invalid')}",
                      "field": field}}
