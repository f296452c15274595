"""Composition root of enrich: settings, logging, Redis, the worker pool, broker, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from shared.events import ENRICHED_STREAM, INGESTED_STREAM
from shared.logging import configure_logging
from shared.observability import Metrics, health_router
from shared.runtime import settle_heap
from shared.streams import GroupConsumer, StreamTrimmer, ensure_group, exit_when_stopped

from enrich.handlers import EnrichArticles
from enrich.settings import EnrichSettings
from enrich.workers import EnrichPool

log = structlog.get_logger()

GROUP = "enrich"


def create_app(settings: EnrichSettings | None = None, pool: EnrichPool | None = None) -> FastAPI:
    settings = settings or EnrichSettings()
    configure_logging(settings.log_level, settings.log_json)
    redis = Redis.from_url(settings.redis_url)
    broker = RedisBroker(settings.redis_url, graceful_timeout=settings.graceful_timeout_s,
                         logger=None)  # type: ignore[arg-type]  # None: FastStream logs nothing
    metrics = Metrics("enrich")
    pool = pool or EnrichPool(settings.workers, budget_s=settings.story_budget_s)
    in_stream = settings.stream_prefix + INGESTED_STREAM
    out_stream = settings.stream_prefix + ENRICHED_STREAM
    consumer = GroupConsumer(redis=redis, stream=in_stream, group=GROUP,
                             handler=EnrichArticles(pool, out_stream, metrics.registry),
                             settings=settings, metrics=metrics, read_size=pool.read_size)
    consumer.attach(broker)
    trimmer = StreamTrimmer(redis, [in_stream], metrics, interval_s=settings.trim_interval_s,
                            forget_consumers_ms=int(settings.forget_consumers_after_s * 1000))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_group(redis, in_stream, GROUP)
        await pool.warm_up()  # ready only once the models are loaded in every worker
        await broker.start()
        tasks = [asyncio.create_task(trimmer.run()), asyncio.create_task(exit_when_stopped(broker))]
        log.info("enrich.started", stream=in_stream, consumer=consumer.consumer)
        settle_heap()
        yield
        for task in tasks:
            task.cancel()
        await broker.stop()  # finishes the batch in hand (graceful timeout) before returning
        pool.close()
        await redis.aclose()

    app = FastAPI(title="Newsflow enrich", version="0.1.0", lifespan=lifespan)
    app.include_router(health_router(metrics, {"redis": redis.ping}))
    return app
