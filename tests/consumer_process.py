"""A consumer process for the fault tests: takes a batch, says so in Redis, then hangs.

Usage: python consumer_process.py REDIS_URL STREAM GROUP CONSUMER
"""

import asyncio
import sys

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from shared.observability import Metrics
from shared.settings import Settings
from shared.streams import Entry, GroupConsumer, Outcome


async def main(redis_url: str, stream: str, group: str, consumer: str) -> None:
    redis = Redis.from_url(redis_url)

    async def hang(entries: list[Entry]) -> list[Outcome]:
        await redis.set(f"{stream}:taken", ",".join(e.id for e in entries))
        await asyncio.sleep(3600)
        return [Outcome() for _ in entries]

    settings = Settings(batch_size=10, block_ms=100, reclaim_idle_ms=3_600_000)
    broker = RedisBroker(redis_url, logger=None)
    GroupConsumer(redis=redis, stream=stream, group=group, handler=hang, settings=settings,
                  metrics=Metrics("fault"), consumer=consumer).attach(broker)
    await broker.start()
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
