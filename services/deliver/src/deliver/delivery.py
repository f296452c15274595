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
SETTLE_EVERY_S = 0.005  # attempts are settled in batches at most this often
CLAIM_LOW = 8  # the claim buffer is refilled when it holds this many (or N in flight)


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

    N sender tasks take claimed deliveries from a small buffer and hand each attempt to the
    pump at once, so no Redis round trip sits between two requests. The pump makes one Redis
    call per round: it marks the attempts answered 2xx since the last round as delivered and,
    when the buffer is at or below its low mark (N, at least 8), tops it up (to 2N, at least 16)
    in the same script call; rounds with attempts to settle are at most every 5 ms. Failed
    attempts (rare) are settled one by one. Every delivery claimed and not yet settled has its
    lease renewed, so a buffered delivery never outlives its lease.
    """

    def __init__(self, subscription_id: str, dispatcher: Dispatcher) -> None:
        self.subscription_id = subscription_id
        self.d = dispatcher
        self.ready: asyncio.Queue[Delivery] = asyncio.Queue()
        self.leased: dict[str, Delivery] = {}  # claimed, not settled: their leases are renewed
        self.to_settle: list[tuple[Delivery, Attempt]] = []
        # A few more than the requests in flight even at a low limit: one claim then serves
        # several requests. What waits in the buffer is leased and renewed like what is sent.
        self.low = max(dispatcher.max_in_flight, CLAIM_LOW)
        self.high = max(2 * dispatcher.max_in_flight, 2 * CLAIM_LOW)
        self._nudge = asyncio.Event()  # something to settle, the buffer low, or a poke
        self._poked = True  # new deliveries may be due: claim without waiting for the poll

    def poke(self) -> None:
        """New deliveries may be due: claim at once."""
        self._poked = True
        self._nudge.set()

    async def run(self) -> None:
        d = self.d
        lease_ms = int(d.lease_s * 1000)
        helpers = [asyncio.create_task(self._renew_leases(lease_ms)),
                   asyncio.create_task(self._pump(lease_ms))]
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
            with contextlib.suppress(Exception):
                await asyncio.shield(self._settle(0, lease_ms))

    async def _pump(self, lease_ms: int) -> None:
        d = self.d
        loop = asyncio.get_running_loop()
        poll_at = 0.0  # loop time of the next claim when nothing is due and nobody pokes
        while True:
            self._nudge.clear()
            low = self.ready.qsize() <= self.low
            claim = low and (self._poked or loop.time() >= poll_at)
            if not self.to_settle and not claim:
                wait = max(0.0, poll_at - loop.time()) if low else None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):  # not wait_for: see sse.client_frames
                        await self._nudge.wait()
                continue
            if self.to_settle and not (claim and self.ready.empty()):
                await asyncio.sleep(SETTLE_EVERY_S)  # gather the attempts of a few more requests
            self._poked = False
            limit = self.high - self.ready.qsize() if claim else 0
            claimed, next_due = await self._settle(limit, lease_ms)
            for delivery in claimed:
                self.leased[delivery.id] = delivery
                self.ready.put_nowait(delivery)
            if claim and not claimed:  # nothing due: claim again when the next one is
                poll_at = loop.time() + (d.poll_s if next_due is None
                                         else min(d.poll_s, next_due))
            elif claimed:
                self._poked = True  # more may be due

    async def _settle(self, limit: int, lease_ms: int) -> tuple[list[Delivery], float | None]:
        """Settle every attempt made so far and claim up to ``limit`` deliveries: completions
        and the claim in one script call, retried until it succeeds; failed attempts after,
        one by one. What is settled leaves ``to_settle`` only then, so a cancel loses none."""
        d = self.d
        batch = [item for item in self.to_settle if item[1].ok]
        done = [delivery for delivery, _ in batch]
        out: list[tuple[list[Delivery], float | None]] = []
        if done:
            await _until_done(done[0].id, self._complete_and_claim, done, limit, lease_ms, out)
            settled = {id(item) for item in batch}
            self.to_settle = [item for item in self.to_settle if id(item) not in settled]
            now = time.time()
            for delivery in done:
                d.metrics.attempt("delivered")
                d.metrics.finished("delivered", now - delivery.published_ms / 1000)
                self.leased.pop(delivery.id, None)
        elif limit:
            try:
                out.append(await d.queue.claim(self.subscription_id, limit, lease_ms))
            except Exception:
                log.exception("webhook.claim_failed", subscription=self.subscription_id)
        for item in [item for item in self.to_settle if not item[1].ok]:
            await _until_done(item[0].id, self._settle_failure, *item)
            self.to_settle = [other for other in self.to_settle if other is not item]
            self.leased.pop(item[0].id, None)
        return out[0] if out else ([], None)

    async def _complete_and_claim(self, done: list[Delivery], limit: int, lease_ms: int,
                                  out: list[tuple[list[Delivery], float | None]]) -> None:
        out.append(await self.d.queue.complete_and_claim(self.subscription_id, done, limit,
                                                         lease_ms))

    async def _send_loop(self) -> None:
        d = self.d
        while True:
            delivery = await self.ready.get()
            if self.ready.qsize() <= self.low:
                self._nudge.set()
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
            delivery.attempts.append(attempt.record())
            self.to_settle.append((delivery, attempt))
            self._nudge.set()

    async def _release(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await _until_done(delivery.id, self.d.queue.release, delivery)
            self.leased.pop(delivery.id, None)

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
