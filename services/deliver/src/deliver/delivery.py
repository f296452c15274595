"""Webhook delivery: one worker per subscription sends due deliveries, retries, dead-letters.

Each enabled subscription has its own asyncio task with at most ``webhook_max_in_flight``
requests, so a subscriber that hangs only ever holds its own slots. A delivery is claimed (leased
in Redis) only when a slot is free for it, and the lease of a send still running is renewed, so a
delivery never waits out a lease it no longer needs and is never sent twice by two replicas.
Attempt outcomes: 2xx delivered; 410 dead-letters the delivery and disables the subscription;
anything else (other statuses, redirects, timeouts, network errors, a target that now resolves to
a refused address) is retried after a full-jitter delay below the schedule's next ceiling, or at
least ``Retry-After`` (capped); after the last attempt the delivery is dead-lettered with its
whole attempt history. Settling an attempt in Redis is retried until it succeeds: a delivery
answered 2xx is never sent again because Redis was briefly out of reach.

Settling in batches, and what a crash repeats. Answered attempts are settled together, one
Redis round trip per batch: once the settler is free and an attempt waits, a batch goes
SETTLE_EVERY_S later, or at once when SETTLE_BATCH attempts wait. Until its batch is settled, a
delivery stays leased (its lease renewed like any other), so no replica claims it meanwhile,
and a graceful stop settles every answered attempt before it returns. If the process dies
between a 2xx and its settle, the delivery is due again when its lease runs out and is sent
again (same ``webhook-id``): what a crash during the request itself already does, since the
receiver may have got it. Batching adds no other kind of repeat; it widens that window by at
most SETTLE_EVERY_S and one round trip, and it bounds the count: a worker holds at most
SETTLE_MAX answered, unsettled attempts (its senders wait beyond that, e.g. while Redis is out
of reach), so one crash repeats at most SETTLE_MAX + ``webhook_max_in_flight`` deliveries per
subscription. ``tests/faults/test_deliver_crash.py`` kills deliver mid-burst to check it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from deliver.metrics import DeliveryMetrics
from deliver.queue import Delivery, DeliveryQueue
from deliver.registry import SubscriptionRegistry
from deliver.sender import Attempt, WebhookSender

log = structlog.get_logger()

OnGone = Callable[[str, str], Awaitable[None]]
SETTLE_BACKOFF_MAX_S = 2.0
SETTLE_EVERY_S = 0.015  # an answered attempt waits at most this long for its batch to settle
SETTLE_BATCH = 32  # ... or less, once this many answered attempts wait
SETTLE_MAX = 128  # answered, unsettled attempts of one worker: its senders wait past this
CLAIM_LOW = 16  # the claim buffer is refilled when it holds this many (or N in flight)


@dataclass(frozen=True)
class RetryPolicy:
    schedule: list[float]  # ceilings (seconds) of the delay before each retry
    retry_after_max_s: float = 3600.0

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.schedule)

    def delay(self, attempts: int, retry_after: float | None = None,
              rand: Callable[[], float] = random.random) -> float | None:
        """Seconds before the next attempt after ``attempts`` failed ones; None: give up."""
        if attempts > len(self.schedule):
            return None
        delay = rand() * self.schedule[attempts - 1]  # full jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_max_s))
        return delay


class SubscriptionWorker:
    """Sends the due deliveries of one subscription, at most N requests at a time.

    A claimer keeps a small buffer of claimed deliveries topped up (between N and 4N, at least
    16 and 32; one Redis call per refill, made while the requests of the last refill are still
    running); N sender tasks take from it. A sender hands each attempt to the settler and takes
    the next delivery at once: attempts are settled in batches (one pipeline per batch, see
    the module docstring), so neither the claim nor the settle round trip sits between two
    requests. Every delivery claimed and not yet settled has its lease renewed, so a buffered
    delivery never outlives its lease.
    """

    def __init__(self, subscription_id: str, dispatcher: Dispatcher) -> None:
        self.subscription_id = subscription_id
        self.d = dispatcher
        self.wake = asyncio.Event()
        self.ready: asyncio.Queue[Delivery] = asyncio.Queue()
        self.leased: dict[str, Delivery] = {}  # claimed, not settled: their leases are renewed
        self.to_settle: list[tuple[Delivery, Attempt]] = []
        self.settling: list[tuple[Delivery, Attempt]] = []  # the batch being settled
        self.unsettled = 0  # answered attempts not settled yet (waiting or being settled)
        self._settle_wake = asyncio.Event()
        self._settle_full = asyncio.Event()  # SETTLE_BATCH attempts wait: settle now
        self._settled = asyncio.Event()  # a batch was settled: room below SETTLE_MAX
        self._low = asyncio.Event()  # the buffer is at or below its low mark

    def poke(self) -> None:
        """New deliveries may be due: claim at once."""
        self.wake.set()

    async def run(self) -> None:
        d = self.d
        lease_ms = int(d.lease_s * 1000)
        settler = asyncio.create_task(self._settle_loop())
        helpers = [asyncio.create_task(self._renew_leases(lease_ms)),
                   asyncio.create_task(self._claim_loop(lease_ms))]
        senders = [asyncio.create_task(self._send_loop()) for _ in range(d.max_in_flight)]
        try:
            await asyncio.gather(*senders, *helpers)
        finally:
            for task in [*senders, *helpers]:
                task.cancel()
            await asyncio.gather(*senders, *helpers, return_exceptions=True)
            # Attempts already made are settled before leaving (a 2xx is never sent again);
            # claimed but unsent deliveries are due again at once, for whichever replica runs.
            unsent = []
            while not self.ready.empty():
                unsent.append(self.ready.get_nowait())
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(unsent))
            self._settle_wake.set()
            settler.cancel()
            await asyncio.gather(settler, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._settle_batch())

    async def _claim_loop(self, lease_ms: int) -> None:
        d = self.d
        # A few more than the requests in flight even at a low limit: one claim then serves
        # several requests. What waits in the buffer is leased and renewed like what is sent.
        low, high = max(d.max_in_flight, CLAIM_LOW), max(4 * d.max_in_flight, 2 * CLAIM_LOW)
        while True:
            if self.ready.qsize() > low:
                self._low.clear()
                await self._low.wait()
                continue
            self.wake.clear()
            try:
                claimed, next_due = await d.queue.claim(self.subscription_id,
                                                        high - self.ready.qsize(), lease_ms)
            except Exception:
                log.exception("webhook.claim_failed", subscription=self.subscription_id)
                claimed, next_due = [], None
            for delivery in claimed:
                self.leased[delivery.id] = delivery
                self.ready.put_nowait(delivery)
            if claimed:
                continue  # more may be due
            wait = d.poll_s if next_due is None else min(d.poll_s, next_due)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # not wait_for: see sse.client_frames
                    await self.wake.wait()

    async def _send_loop(self) -> None:
        d = self.d
        low = max(d.max_in_flight, CLAIM_LOW)
        while True:
            while self.unsettled >= SETTLE_MAX:  # bounds what a crash now would repeat
                self._settled.clear()
                await self._settled.wait()
            delivery = await self.ready.get()
            if self.ready.qsize() <= low:
                self._low.set()
            subscription = d.registry.get(self.subscription_id)
            if subscription is None or not subscription.record.enabled:
                await self._release([delivery])
                continue
            try:
                attempt = await d.sender.send(subscription, delivery)
            except asyncio.CancelledError:
                # Shutting down mid-send: due again now, for whichever replica runs next.
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._release([delivery]))
                raise
            except Exception:
                log.exception("webhook.send_failed", delivery_id=delivery.id)
                await asyncio.sleep(d.poll_s)
                await self._release([delivery])
                continue
            if not attempt.ok:  # a delivered one's record is deleted as it settles: unwritten
                delivery.attempts.append(attempt.record())
            self.to_settle.append((delivery, attempt))
            self.unsettled += 1
            self._settle_wake.set()
            if len(self.to_settle) >= SETTLE_BATCH:
                self._settle_full.set()

    async def _release(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await _until_done(delivery.id, self.d.queue.release, delivery)
            self.leased.pop(delivery.id, None)

    async def _settle_loop(self) -> None:
        while True:
            await self._settle_wake.wait()
            if len(self.to_settle) < SETTLE_BATCH:  # gather the attempts of more requests
                self._settle_full.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SETTLE_EVERY_S):
                        await self._settle_full.wait()
            self._settle_wake.clear()
            await self._settle_batch(drain=False)

    async def _settle_batch(self, drain: bool = True) -> None:
        """Settle the attempts made so far (with ``drain``, also those made meanwhile):
        completions in one pipeline, retried until done. What is answered during the round
        trip waits for the next batch, not less than a window (one batch after another would
        each hold only what one round trip lets through).

        A batch stays in ``settling`` until each of its attempts is settled: if the settler is
        cancelled mid-batch (a stop), the last call, made after it, settles what is left."""
        first = True
        while (self.to_settle or self.settling) and (first or drain):
            first = False
            if not self.settling:
                self.settling, self.to_settle = self.to_settle, []
            done = [(dv, at) for dv, at in self.settling if at.ok]
            if done:
                await _until_done(done[0][0].id, self._complete, done)
                for delivery, _ in done:
                    self.leased.pop(delivery.id, None)
                self.settling = [(dv, at) for dv, at in self.settling if not at.ok]
                self.unsettled -= len(done)
            while self.settling:
                delivery, attempt = self.settling[0]
                await _until_done(delivery.id, self._settle_failure, delivery, attempt)
                self.settling.pop(0)
                self.leased.pop(delivery.id, None)
                self.unsettled -= 1
            self._settled.set()

    async def _complete(self, done: list[tuple[Delivery, Attempt]]) -> None:
        d = self.d
        await d.queue.complete_many([delivery for delivery, _ in done])
        now_ms = time.time() * 1000
        d.metrics.delivered([(now_ms - delivery.published_ms) / 1000 for delivery, _ in done])

    async def _renew_leases(self, lease_ms: int) -> None:
        """Push the lease of every delivery claimed and not settled a full lease ahead, every
        third of one."""
        while True:
            await asyncio.sleep(lease_ms / 3000)
            ids = list(self.leased)
            if ids:
                try:
                    await self.d.queue.renew(self.subscription_id, ids, lease_ms)
                except Exception:
                    log.exception("webhook.renew_failed", subscription=self.subscription_id)

    async def _settle_failure(self, delivery: Delivery, attempt: Attempt) -> None:
        d = self.d
        sub = self.subscription_id
        tries = len(delivery.attempts) - delivery_round_start(delivery)
        fields = {"subscription": sub, "delivery_id": delivery.id, "attempt": tries,
                  "status": attempt.status, "ms": attempt.duration_ms}
        if attempt.outcome == "gone":
            reason = "410 Gone: the subscriber asked to stop; subscription disabled"
            await d.queue.dead_letter(delivery, reason, attempt.status)
            d.metrics.attempt(attempt.outcome)
            d.metrics.finished("dead_lettered")
            log.warning("webhook.gone", **fields)
            await d.on_gone(sub, reason)
            return
        delay = d.policy.delay(tries, attempt.retry_after)
        if delay is None:
            dead = await d.queue.dead_letter(delivery, f"failed {tries} attempts",
                                             attempt.status)
            d.metrics.attempt(attempt.outcome)
            if dead:
                d.metrics.finished("dead_lettered")
            log.warning("webhook.dead_lettered", error=attempt.error, **fields)
        elif await d.queue.retry(delivery, delay, attempt.status):
            d.metrics.attempt(attempt.outcome)
            log.info("webhook.retry", error=attempt.error, delay_s=round(delay, 3), **fields)
        else:
            d.metrics.attempt(attempt.outcome)
            d.metrics.finished("dropped_by_kill")


async def _until_done(delivery_id: str, step: Callable[..., Awaitable[object]],
                      *args: Any) -> None:
    """Run a Redis step until it succeeds (the lease is renewed meanwhile); logged once."""
    pause = 0.05
    failed = False
    while True:
        try:
            await step(*args)
            return
        except Exception:
            if not failed:
                log.exception("webhook.settle_failed", delivery_id=delivery_id)
                failed = True
        await asyncio.sleep(pause)
        pause = min(SETTLE_BACKOFF_MAX_S, pause * 2)


def delivery_round_start(delivery: Delivery) -> int:
    """Attempts before the last replay: a replayed delivery gets the whole schedule again."""
    for index in range(len(delivery.attempts) - 1, -1, -1):
        if delivery.attempts[index].get("replayed"):
            return index + 1
    return 0


class Dispatcher:
    """Runs one worker per enabled subscription and keeps the queue gauges current."""

    def __init__(self, *, registry: SubscriptionRegistry, queue: DeliveryQueue,
                 sender: WebhookSender, policy: RetryPolicy, metrics: DeliveryMetrics,
                 on_gone: OnGone, max_in_flight: int, poll_s: float, lease_s: float,
                 story_memory_s: int) -> None:
        self.registry = registry
        self.queue = queue
        self.sender = sender
        self.policy = policy
        self.metrics = metrics
        self.on_gone = on_gone
        self.max_in_flight = max_in_flight
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.story_memory_ms = story_memory_s * 1000
        self.workers: dict[str, tuple[SubscriptionWorker, asyncio.Task[None]]] = {}
        self.running = False

    async def start(self) -> None:
        await self.sender.start()
        self.running = True
        self.sync()

    def sync(self) -> None:
        """Start workers for enabled subscriptions, stop those of disabled or deleted ones."""
        if not self.running:
            return
        wanted = {s.id for s in self.registry.enabled()}
        for sub in wanted - self.workers.keys():
            worker = SubscriptionWorker(sub, self)
            self.workers[sub] = (worker, asyncio.create_task(worker.run(), name=f"webhook-{sub}"))
        for sub in self.workers.keys() - wanted:
            _, task = self.workers.pop(sub)
            task.cancel()

    def wake(self, subscription_id: str) -> None:
        entry = self.workers.get(subscription_id)
        if entry:
            entry[0].poke()

    async def housekeeping(self, interval_s: float = 1.0) -> None:
        """Queue depth every second (one pipeline); forget old memories every minute."""
        last_forget = 0.0
        while True:
            try:
                ids = list(self.registry.by_id)
                self.metrics.set_depth(await self.queue.total_depth(ids))
                self.metrics.subscriptions.set(len(self.registry.enabled()))
                if time.monotonic() - last_forget > 60:
                    last_forget = time.monotonic()
                    for sub in ids:
                        await self.queue.forget_old(sub, self.story_memory_ms)
            except Exception:
                log.exception("webhook.housekeeping_failed")
            await asyncio.sleep(interval_s)

    async def stop(self) -> None:
        self.running = False
        tasks = [task for _, task in self.workers.values()]
        self.workers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sender.close()
