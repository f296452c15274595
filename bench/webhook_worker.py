"""deliver's delivery worker on its own: CPU per delivery between the queue and the sender.

A real ``DeliveryQueue`` on the local Redis (keys under a prefix of this run), deliveries queued
with its real ``enqueue`` (so a claim sends the copies kept at queueing, as in the service), a
real ``Dispatcher`` with one subscription, and a sender that answers every delivery 204 after one
turn of the loop: what is measured is the worker's own machinery (claim, buffer, hand-off to the
senders, settle, lease renewal, metrics), none of HTTP. Each run is a process of its own, on
uvloop and with its heap settled after queueing, as the service runs. It counts CPU
(``time.process_time``) from the dispatcher's start to its graceful stop (every attempt
settled), queueing excluded, and deliveries/s from the start to the last send; it checks that
each delivery was sent once and that the queue ends empty.

``--baseline REV`` runs deliver's sources as they were at a git revision too (its
``services/deliver/src``, first on the path), in the same rounds: a before/after table.

    nice -n 10 uv run --frozen python bench/webhook_worker.py [--events 10000]
        [--in-flight 1,4,16] [--rounds 5] [--baseline REV]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop
from redis.asyncio import BlockingConnectionPool, Redis
from webhooks import _checkout

from shared.observability import Metrics
from shared.redis_packing import HiredisPackedConnection
from shared.runtime import settle_heap

from deliver.delivery import Dispatcher, RetryPolicy
from deliver.metrics import DeliveryMetrics
from deliver.queue import Delivery, DeliveryQueue, delivery_id
from deliver.registry import Subscription, SubscriptionRegistry
from deliver.sender import Attempt
from deliver.signing import new_secret
from deliver.store import SubscriptionRecord

REDIS_URL = os.environ.get("NEWSFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")
BODY = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20)[:1000].encode()
ENQUEUE_BATCH = 100  # deliveries per enqueue call, about what one fan-out batch queues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="deliveries per run")
    parser.add_argument("--in-flight", default="1,4,16", help="in-flight limits, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each case")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run deliver as it was at this git revision, side by side")
    parser.add_argument("--run", type=int, metavar="IN_FLIGHT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(uvloop.run(run(args.run, args.events))))
        return
    sources: dict[str, Path | None] = {"current": None}
    if args.baseline:
        workdir = Path(tempfile.mkdtemp(prefix="bench-webhook-worker-"))
        sources = {args.baseline[:10]: _checkout(args.baseline, workdir), **sources}
    limits = [int(n) for n in args.in_flight.split(",")]
    results: dict[tuple[int, str], list[dict[str, float]]] = collections.defaultdict(list)
    for _ in range(args.rounds):  # rounds interleave the sources: the machine's noise is shared
        for in_flight in limits:
            for label, source in sources.items():
                results[in_flight, label].append(_child(in_flight, args.events, source))
    print(f"one subscription, {args.events} deliveries per run, sender answers at once; "
          f"{args.rounds} runs each: CPU median and best (the machine's noise only adds), "
          f"deliveries/s median\n")
    print(f"{'in flight':>9} {'deliver':>10} {'CPU µs/delivery':>16} {'best':>6} "
          f"{'deliveries/s':>13} {'CPU ratio':>10} {'best ratio':>11} {'rate ratio':>11}")
    for in_flight in limits:
        first = None
        for label in sources:
            runs = results[in_flight, label]
            cpu = statistics.median(r["cpu_us"] for r in runs)
            best = min(r["cpu_us"] for r in runs)
            rate = statistics.median(r["rate"] for r in runs)
            first = first or (cpu, best, rate)
            print(f"{in_flight:>9} {label:>10} {cpu:>16,.1f} {best:>6,.1f} {rate:>13,.0f} "
                  f"{cpu / first[0]:>10.2f} {best / first[1]:>11.2f} {rate / first[2]:>11.2f}",
                  flush=True)


def _child(in_flight: int, events: int, source: Path | None) -> dict[str, float]:
    """One run in a process of its own, with ``source`` first on the path if given."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    out = subprocess.run([sys.executable, __file__, "--run", str(in_flight), "--events",
                          str(events)], env=env, check=True, capture_output=True, text=True,
                         timeout=max(120, events / 50))
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class Registry(SubscriptionRegistry):
    """The registry with its one subscription given, not loaded from MongoDB."""

    def __init__(self, redis: Redis, subscription: Subscription) -> None:
        super().__init__(store=None, redis=redis)  # type: ignore[arg-type]  # never loads
        self.by_id = {subscription.id: subscription}


class AnsweringSender:
    """The sender's interface; every delivery is answered 204 after one turn of the loop."""

    def __init__(self, expected: int) -> None:
        self.sent: collections.Counter[str] = collections.Counter()
        self.expected = expected
        self.all_sent = asyncio.Event()
        self.last_sent = 0.0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, subscription: Subscription, delivery: Delivery) -> Attempt:
        at_s = time.time()
        await asyncio.sleep(0)
        self.sent[delivery.id] += 1
        if len(self.sent) == self.expected:
            self.last_sent = time.perf_counter()
            self.all_sent.set()
        return Attempt(at_s, 204, None, 0, "delivered")


async def run(in_flight: int, events: int) -> dict[str, float]:
    async def on_gone(subscription: str, reason: str) -> None:
        raise AssertionError("nothing is gone here")

    prefix = f"bench-{secrets.token_hex(4)}:"
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(
        REDIS_URL, max_connections=in_flight + 32, timeout=30,
        connection_class=HiredisPackedConnection))
    sub = f"sub_{secrets.token_hex(4)}"
    record = SubscriptionRecord(
        id=sub, url="http://127.0.0.1:9/hook", filters={}, enabled=True, description="",
        secret=new_secret(), previous_secret=None, previous_secret_expires_ms=0, created_ms=0,
        updated_ms=0, disabled_reason=None)
    queue = DeliveryQueue(redis, prefix)
    now_ms = int(time.time() * 1000)
    try:
        for start in range(0, events, ENQUEUE_BATCH):
            await queue.enqueue([
                Delivery(id=delivery_id(sub, f"evt{n}"), subscription=sub,
                         type="article.published", event_id=f"evt{n}", entry_id=f"{n}-0",
                         uri=f"urn:bench:{n}", published_ms=now_ms, body=BODY)
                for n in range(start, min(events, start + ENQUEUE_BATCH))])
        settle_heap()  # as the service does once started
        sender = AnsweringSender(events)
        dispatcher = Dispatcher(
            registry=Registry(redis, Subscription.of(record)), queue=queue,
            sender=sender,  # type: ignore[arg-type]  # the sender's interface, no HTTP
            policy=RetryPolicy([1.0]), metrics=DeliveryMetrics(Metrics("bench")),
            on_gone=on_gone, max_in_flight=in_flight, poll_s=0.5, lease_s=30,
            story_memory_s=3600)
        cpu, started = time.process_time(), time.perf_counter()
        await dispatcher.start()
        await asyncio.wait_for(sender.all_sent.wait(), timeout=max(60, events / 100))
        await asyncio.wait_for(dispatcher.stop(), timeout=60)
        cpu = time.process_time() - cpu
        repeated = sum(1 for count in sender.sent.values() if count > 1)
        left = await queue.depth(sub)
        if repeated or left:
            raise SystemExit(f"{repeated} sent twice, {left} left queued")
        return {"cpu_us": cpu * 1e6 / events, "rate": events / (sender.last_sent - started)}
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


if __name__ == "__main__":
    main()
