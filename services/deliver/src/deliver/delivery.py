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
Redis round trip per batch, made with the next claim (the same script call) or on its own:
once the worker's keeper is free and an attempt waits, a batch goes at the latest
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
import collections
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
SETTLE_BATCH = 64  # ... or less, once this many answered attempts wait
SETTLE_MAX = 128  # answered, unsettled attempts of one worker: its senders wait past this
CLAIM_LOW = 16  # the claim buffer is refilled when it holds this many (or 2N) ...
CLAIM_MIN = 48  # ... with this many more (or 2N)
CLAIM_ALONG = 24  # a settle call claims too when the buffer has room for this many


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

    N sender tasks take deliveries from a buffer of claimed ones and hand each answered attempt
    to one keeper task, which makes the worker's Redis calls: it settles the answered attempts
    and tops the buffer up in one script call (``DeliveryQueue.complete_and_claim``). The buffer
    is refilled when it holds ``low`` (2N, at least 16) deliveries, with 2N (at least 48)
    more: one call per refill serves several requests and is made while the requests of the
    last refill are still running, and the attempts answered since the last call ride along
    (as a claim rides along with a settle call when the buffer has room for CLAIM_ALONG).
    Attempts also go on their own, once SETTLE_BATCH of them wait or the first of them has
    waited SETTLE_EVERY_S (see the module docstring), so neither the claim nor the settle round
    trip sits between two requests. A sender wakes the keeper only on a transition (the buffer
    down to ``low``, the first answered attempt of a batch, a full batch, a failed attempt), not
    per delivery. Every delivery claimed and not yet settled has its lease renewed, so a
    buffered delivery never outlives its lease.
    """

    def __init__(self, subscription_id: str, dispatcher: Dispatcher) -> None:
        self.subscription_id = subscription_id
        self.d = dispatcher
        self.low = max(2 * dispatcher.max_in_flight, CLAIM_LOW)
        self.high = self.low + max(2 * dispatcher.max_in_flight, CLAIM_MIN)
        self.ready: collections.deque[Delivery] = collections.deque()  # claimed, not taken
        self.leased: dict[str, Delivery] = {}  # claimed, not settled: their leases are renewed
        self.delivered: list[Delivery] = []  # answered 2xx, waiting for their batch
        self.failed: list[tuple[Delivery, Attempt]] = []  # answered otherwise, not settled
        self.settle_by = 0.0  # loop time by which the waiting batch goes (0: none waits)
        self.unsettled = 0  # answered attempts not settled yet (waiting or being settled)
        self.poked = True  # deliveries may be due that the last claim did not see
        self.stopping = False  # settle what is answered, claim nothing more, return
        self._wake = asyncio.Event()  # the keeper may have something to do
        self._refilled = asyncio.Event()  # deliveries were claimed: a sender that waits takes one
        self._settled = asyncio.Event()  # a batch was settled: room below SETTLE_MAX

    def poke(self) -> None:
        """New deliveries may be due: claim at once."""
        self.poked = True
        self._wake.set()

    async def run(self) -> None:
        lease_ms = int(self.d.lease_s * 1000)
        keeper = asyncio.create_task(self._keep(lease_ms))
        helpers = [asyncio.create_task(self._renew_leases(lease_ms))]
        senders = [asyncio.create_task(self._send_loop()) for _ in range(self.d.max_in_flight)]
        try:
            # shielded: a stop lets the keeper finish its call and settle, below
            await asyncio.gather(*senders, *helpers, asyncio.shield(keeper))
        finally:
            for task in [*senders, *helpers]:
                task.cancel()
            await asyncio.gather(*senders, *helpers, return_exceptions=True)
            # Attempts already made are settled before leaving (a 2xx is never sent again);
            # claimed but unsent deliveries are due again at once, for whichever replica runs.
            self.stopping = True
            self._wake.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(keeper)
            unsent = list(self.ready)
            self.ready.clear()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(unsent))

    async def _keep(self, lease_ms: int) -> None:
        """Settle answered attempts and refill the buffer, in as few round trips as can be."""
        d = self.d
        loop = asyncio.get_running_loop()
        claim_at = 0.0  # loop time of the next claim when nothing was due at the last one
        while True:
            self._wake.clear()
            while self.failed:  # rare: one script call each (retry, dead letter, 410)
                delivery, attempt = self.failed[0]
                await _until_done(delivery.id, self._settle_failure, delivery, attempt)
                self.failed.pop(0)
                self._settled_one(delivery)
            now = loop.time()
            if self.stopping:
                if self.delivered:
                    await self._complete_and_claim(0, lease_ms)
                return
            buffered = len(self.ready)
            settle = bool(self.delivered) and (len(self.delivered) >= SETTLE_BATCH
                                               or now >= self.settle_by)
            # A call made to settle also tops the buffer up, if that claims enough to matter.
            room = self.high - buffered
            want = (room if (buffered <= self.low or (settle and room >= CLAIM_ALONG))
                    and (self.poked or now >= claim_at) else 0)
            if want or settle:
                if want:
                    self.poked = False
                claimed, next_due = await self._complete_and_claim(want, lease_ms)
                if want and len(claimed) < want:  # all that is due now: wait for the next
                    claim_at = loop.time() + (d.poll_s if next_due is None
                                              else min(d.poll_s, next_due))
                elif want:  # more may be due: claim again as soon as there is room
                    claim_at = 0.0
                continue
            waits = [t - now for t, needed in ((claim_at, buffered <= self.low),
                                               (self.settle_by, bool(self.delivered))) if needed]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(waits) if waits else None):
                    await self._wake.wait()  # not wait_for: see sse.client_frames

    async def _complete_and_claim(self, want: int,
                                  lease_ms: int) -> tuple[list[Delivery], float | None]:
        """Settle the waiting batch and claim ``want`` more in one call, retried until it
        succeeds if there is a batch (it stays leased, its leases renewed, meanwhile); a failed
        claim alone claims nothing. What is answered during the call goes in the next batch, a
        window after this call ends (sooner if the batch fills up or a claim takes it along):
        settled at once, each batch would hold only what one round trip lets through."""
        d = self.d
        batch, self.delivered = self.delivered, []
        self.settle_by = 0.0
        result: list[tuple[list[Delivery], float | None]] = []

        async def call() -> None:
            result.append(await d.queue.complete_and_claim(
                self.subscription_id, batch, want, lease_ms))

        if batch:
            await _until_done(batch[0].id, call)
        else:  # a claim alone is not retried: the next one comes a poll interval later
            try:
                await call()
            except Exception:
                log.exception("webhook.claim_failed", subscription=self.subscription_id)
                return [], None
        claimed, next_due = result[0]
        if batch:
            now_ms = time.time() * 1000
            d.metrics.delivered([(now_ms - delivery.published_ms) / 1000 for delivery in batch])
            leased = self.leased
            for delivery in batch:
                leased.pop(delivery.id, None)
            self.unsettled -= len(batch)
            self._settled.set()
            if self.delivered:
                self.settle_by = asyncio.get_running_loop().time() + SETTLE_EVERY_S
        if claimed:
            for delivery in claimed:
                self.leased[delivery.id] = delivery
            self.ready.extend(claimed)
            self._refilled.set()
        return claimed, next_due

    async def _send_loop(self) -> None:
        d = self.d
        ready, low = self.ready, self.low
        loop = asyncio.get_running_loop()
        while True:
            while self.unsettled >= SETTLE_MAX:  # bounds what a crash now would repeat
                self._settled.clear()
                await self._settled.wait()
            while not ready:
                self._refilled.clear()
                await self._refilled.wait()
            delivery = ready.popleft()
            if len(ready) == low:  # down to the low mark: the keeper refills
                self._wake.set()
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
            self.unsettled += 1
            if attempt.ok:  # a delivered one's record is deleted as it settles: unwritten
                waiting = self.delivered
                waiting.append(delivery)
                if len(waiting) == 1:
                    self.settle_by = loop.time() + SETTLE_EVERY_S
                    self._wake.set()
                elif len(waiting) == SETTLE_BATCH:
                    self._wake.set()
            else:
                delivery.attempts.append(attempt.record())
                self.failed.append((delivery, attempt))
                self._wake.set()

    def _settled_one(self, delivery: Delivery) -> None:
        self.leased.pop(delivery.id, None)
        self.unsettled -= 1
        self._settled.set()

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
