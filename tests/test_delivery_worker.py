"""Delivery workers against the real Redis and a real receiver on loopback: a 2xx is final.

The queue is the real one; only its settle step is made to fail for a while, as it does when
Redis is briefly out of reach or out of connections.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from shared.egress import EgressPolicy
from shared.observability import Metrics

from deliver.delivery import Dispatcher, RetryPolicy
from deliver.metrics import DeliveryMetrics
from deliver.queue import Delivery, DeliveryQueue, delivery_id
from deliver.registry import Subscription, SubscriptionRegistry
from deliver.sender import WebhookSender
from deliver.settings import DeliverSettings
from deliver.signing import new_secret
from deliver.store import SubscriptionRecord

pytestmark = pytest.mark.integration


class FlakyQueue(DeliveryQueue):
    """The real queue whose calls that settle deliveries fail the first ``failures`` times."""

    def __init__(self, redis: Redis, prefix: str, failures: int) -> None:
        super().__init__(redis, prefix)
        self.failures = failures

    async def complete_and_claim(self, subscription_id: str, delivered: Sequence[Delivery],
                                 limit: int,
                                 lease_ms: int) -> tuple[list[Delivery], float | None]:
        if delivered and self.failures > 0:
            self.failures -= 1
            raise ConnectionError("Redis went away for a moment")
        return await super().complete_and_claim(subscription_id, delivered, limit, lease_ms)


class Registry(SubscriptionRegistry):
    """The registry with its subscriptions given, not loaded from MongoDB."""

    def __init__(self, redis: Redis, subscriptions: list[Subscription]) -> None:
        super().__init__(store=None, redis=redis)  # type: ignore[arg-type]  # never loads
        self.by_id = {s.id: s for s in subscriptions}


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, collections.Counter[str]]]:
    """Answers 204 at once; counts each webhook-id it was sent."""
    seen: collections.Counter[str] = collections.Counter()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                pairs = [line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if line]
                lines = {name.lower(): value for name, value in pairs}
                await reader.readexactly(int(lines[b"content-length"]))
                seen[lines[b"webhook-id"].decode()] += 1
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook", seen
    server.close()


def deliveries(sub: str, count: int) -> list[Delivery]:
    return [Delivery(id=delivery_id(sub, f"evt{n}"), subscription=sub, type="article.published",
                     event_id=f"evt{n}", entry_id=f"{n}-0", uri=f"urn:w:{n}",
                     published_ms=int(time.time() * 1000), body=b'{"n": %d}' % n)
            for n in range(count)]


def subscription(sub: str, url: str) -> Subscription:
    return Subscription.of(SubscriptionRecord(
        id=sub, url=url, filters={}, enabled=True, description="", secret=new_secret(),
        previous_secret=None, previous_secret_expires_ms=0, created_ms=0, updated_ms=0,
        disabled_reason=None))


async def nothing_is_gone(subscription: str, reason: str) -> None:
    raise AssertionError("nothing is gone here")


def dispatcher_for(redis: Redis, subscriptions: list[Subscription], queue: DeliveryQueue, *,
                   max_in_flight: int = 4, poll_s: float = 0.05, lease_s: float,
                   read_timeout_s: float = 1, connections: int = 8,
                   connections_per_host: int = 4) -> Dispatcher:
    return Dispatcher(
        registry=Registry(redis, subscriptions), queue=queue,
        sender=WebhookSender(EgressPolicy(["127.0.0.1"]), connect_timeout_s=1,
                             read_timeout_s=read_timeout_s, connections=connections,
                             connections_per_host=connections_per_host),
        policy=RetryPolicy([0.05]), metrics=DeliveryMetrics(Metrics("test")),
        on_gone=nothing_is_gone, max_in_flight=max_in_flight, poll_s=poll_s, lease_s=lease_s,
        story_memory_s=3600)


async def test_a_delivery_answered_2xx_is_not_sent_again_when_settling_fails_for_a_while(
        aredis: Redis, prefix: str, receiver: tuple[str, collections.Counter[str]]) -> None:
    url, seen = receiver
    queue = FlakyQueue(aredis, prefix, failures=3)
    await queue.enqueue(deliveries("sub_w", 40))

    dispatcher = dispatcher_for(aredis, [subscription("sub_w", url)], queue, lease_s=0.6)
    await dispatcher.start()
    try:
        deadline = time.monotonic() + 20
        while await queue.depth("sub_w") or len(seen) < 40:
            assert time.monotonic() < deadline, (await queue.depth("sub_w"), len(seen))
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.stop()
    # Each settle failure outlasted the 0.6 s lease only if renewing it failed too: no repeats.
    assert queue.failures == 0
    assert sorted(seen.values()) == [1] * 40
    assert (await queue.stats("sub_w"))["delivered"] == 40


async def test_more_workers_than_redis_connections_wait_instead_of_failing(
        redis_url: str, prefix: str, receiver: tuple[str, collections.Counter[str]]) -> None:
    url, seen = receiver
    settings = DeliverSettings(redis_url=redis_url, webhook_max_in_flight=16)
    assert settings.redis_connections == 48  # sized from the in-flight limit, not 100
    client = Redis(connection_pool=BlockingConnectionPool.from_url(
        redis_url, max_connections=2, timeout=30))  # far fewer than the 12 x 16 sends below
    queue = DeliveryQueue(client, prefix)
    subs = []
    for n in range(12):
        subs.append(subscription(f"sub_{n}", url))
        await queue.enqueue(deliveries(f"sub_{n}", 32))

    dispatcher = dispatcher_for(client, subs, queue, max_in_flight=16, lease_s=30,
                                read_timeout_s=2, connections=256, connections_per_host=256)
    await dispatcher.start()
    try:
        deadline = time.monotonic() + 30
        while sum(seen.values()) < 12 * 32 or await queue.total_depth([s.id for s in subs]):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.stop()
        keys: Any = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    assert sorted(seen.values()) == [1] * (12 * 32)


async def test_a_stop_mid_burst_settles_each_answered_delivery_once_and_frees_the_rest(
        aredis: Redis, prefix: str, receiver: tuple[str, collections.Counter[str]]) -> None:
    url, seen = receiver
    queue = DeliveryQueue(aredis, prefix)
    await queue.enqueue(deliveries("sub_s", 400))

    dispatcher = dispatcher_for(aredis, [subscription("sub_s", url)], queue, lease_s=60)
    await dispatcher.start()
    deadline = time.monotonic() + 20
    while len(seen) < 100:
        assert time.monotonic() < deadline, len(seen)
        await asyncio.sleep(0.005)
    await dispatcher.stop()
    # Every answered delivery is settled, and counted, once; whatever was claimed and not
    # answered (the buffer, the requests the stop cut off) is due again at once, not a 60 s
    # lease later.
    assert sorted(seen.values()) == [1] * len(seen)
    delivered = (await queue.stats("sub_s"))["delivered"]
    assert len(seen) - 4 <= delivered <= len(seen)
    rest, _ = await DeliveryQueue(aredis, prefix).claim("sub_s", 1000, lease_ms=60_000)
    assert len(rest) == 400 - delivered
    assert len({d.id for d in rest} & seen.keys()) == len(seen) - delivered


async def test_a_worker_claims_what_is_due_without_waiting_for_its_poll(
        aredis: Redis, prefix: str, receiver: tuple[str, collections.Counter[str]]) -> None:
    url, seen = receiver
    queue = DeliveryQueue(aredis, prefix)
    batches = [deliveries("sub_p", 310)[:10], deliveries("sub_p", 310)[10:]]

    dispatcher = dispatcher_for(aredis, [subscription("sub_p", url)], queue, poll_s=60,
                                lease_s=60)
    await dispatcher.start()
    try:
        # A few first (the claim finds nothing more due), then many more, announced once: a
        # claim that came back full means more may be due, so the rest go without the 60 s poll.
        for batch in batches:
            await queue.enqueue(batch)
            dispatcher.wake("sub_p")
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 20
        while len(seen) < 310:
            assert time.monotonic() < deadline, len(seen)
            await asyncio.sleep(0.02)
    finally:
        await dispatcher.stop()
    assert sorted(seen.values()) == [1] * 310
