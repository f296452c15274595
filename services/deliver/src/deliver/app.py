"""Composition root of deliver: settings, logging, Redis, subscription store, broker, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from pymongo import AsyncMongoClient
from redis.asyncio import BlockingConnectionPool, Redis

from shared.egress import EgressPolicy
from shared.errors import validation_body
from shared.events import PUBLISHED_STREAM
from shared.logging import configure_logging
from shared.observability import Metrics, health_router
from shared.redis_packing import HiredisPackedConnection
from shared.runtime import keep_freed_memory, settle_heap
from shared.streams import GroupConsumer, ensure_group, exit_when_stopped

from deliver.auth import admin_guard
from deliver.deliveries import deliveries_router
from deliver.delivery import Dispatcher, RetryPolicy
from deliver.errors import DeliverError
from deliver.handlers import FanOut
from deliver.metrics import DeliveryMetrics
from deliver.queue import DeliveryQueue
from deliver.registry import SubscriptionRegistry
from deliver.sender import WebhookSender
from deliver.settings import DeliverSettings
from deliver.store import SubscriptionStore
from deliver.subscriptions import Subscriptions, subscriptions_router

log = structlog.get_logger()

GROUP = "webhooks"  # the group's name predates the service's: kept, so its position carries on
KEPT_MEMORY = 64 * 1024 * 1024  # freed memory kept for the next batch (`keep_freed_memory`)


def create_app(settings: DeliverSettings | None = None,
               store: SubscriptionStore | None = None) -> FastAPI:
    settings = settings or DeliverSettings()
    configure_logging(settings.log_level, settings.log_json)
    # A blocking pool: past its size a caller waits for a connection instead of failing.
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=settings.redis_connections, timeout=30,
        connection_class=HiredisPackedConnection))  # rediss:// and unix:// keep their own
    broker = RedisBroker(settings.redis_url, graceful_timeout=settings.graceful_timeout_s,
                         logger=None)  # type: ignore[arg-type]  # None: FastStream logs nothing
    store = store or SubscriptionStore(
        AsyncMongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True),
        settings.mongodb_db)
    metrics = Metrics("deliver")
    delivery_metrics = DeliveryMetrics(metrics)
    in_stream = settings.stream_prefix + PUBLISHED_STREAM
    queue = DeliveryQueue(redis, settings.stream_prefix)
    registry = SubscriptionRegistry(store, redis, key_prefix=settings.stream_prefix,
                                    refresh_s=settings.subscription_refresh_s)
    egress = EgressPolicy(settings.allow_hosts)
    subscriptions = Subscriptions(store, registry, queue, egress,
                                  settings.webhook_secret_overlap_s)
    dispatcher = Dispatcher(
        registry=registry, queue=queue, metrics=delivery_metrics,
        sender=WebhookSender(egress, connect_timeout_s=settings.webhook_connect_timeout_s,
                             read_timeout_s=settings.webhook_read_timeout_s,
                             connections=settings.connections,
                             connections_per_host=settings.connections_per_host),
        policy=RetryPolicy(settings.retry_schedule, settings.webhook_retry_after_max_s),
        on_gone=subscriptions.disable, max_in_flight=settings.webhook_max_in_flight,
        poll_s=settings.webhook_poll_interval_s, lease_s=settings.webhook_claim_lease_s,
        story_memory_s=settings.webhook_story_memory_s)
    registry.listeners.append(dispatcher.sync)
    fan_out = FanOut(registry, queue, dispatcher.wake,
                     full_batch=-(-settings.batch_size // settings.concurrent_batches))
    consumer = GroupConsumer(redis=redis, stream=in_stream, group=GROUP, handler=fan_out,
                             settings=settings, metrics=metrics)
    consumer.attach(broker)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_group(redis, in_stream, GROUP)
        await store.create_indexes()
        # Filters stored with the former table's topic codes move to IPTC's before any match
        # (a one-off at start-up: the log line is its record).
        done = await store.migrate_topic_codes()
        log.info("topics.migrated", kind="subscription", documents=done.documents,
                 codes=done.codes, skipped=done.skipped)
        await registry.load()
        await dispatcher.start()
        await broker.start()
        tasks = [asyncio.create_task(registry.run()),
                 asyncio.create_task(dispatcher.housekeeping()),
                 asyncio.create_task(exit_when_stopped(broker))]
        log.info("deliver.started", stream=in_stream, consumer=consumer.consumer)
        settle_heap()
        keep_freed_memory(KEPT_MEMORY)
        yield
        for task in tasks:
            task.cancel()
        fan_out.stop()  # a batch held while nobody is subscribed goes at once
        await broker.stop()  # finishes the batch in hand (graceful timeout) before returning
        await dispatcher.stop()  # in-flight sends become due again at once
        await store.close()
        await redis.aclose()

    app = FastAPI(title="Newsflow deliver", version="0.1.0", lifespan=lifespan,
                  description="Webhook subscriptions and their deliveries (admin API).")
    app.include_router(health_router(metrics, {"redis": redis.ping, "mongodb": store.ping}))
    guard = admin_guard(settings.admin_key)
    app.include_router(subscriptions_router(subscriptions, guard))
    app.include_router(deliveries_router(queue, registry, dispatcher.wake, guard))

    @app.exception_handler(DeliverError)
    async def deliver_error(request: Request, exc: DeliverError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc.errors()), status_code=422)

    return app
