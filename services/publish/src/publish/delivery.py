"""Webhook delivery: one worker per subscription sends due deliveries, retries, dead-letters.

Each enabled subscription has its own asyncio task and its own HTTP client with at most
``webhook_max_in_flight`` requests, so a subscriber that hangs only ever holds its own slots.
Attempt outcomes: 2xx delivered; 410 dead-letters the delivery and disables the subscription;
anything else (other statuses, redirects, timeouts, network errors, a target that now resolves to
a refused address) is retried after a full-jitter delay below the schedule's next ceiling, or
at least ``Retry-After`` (capped); after the last attempt the delivery is dead-lettered with its
whole attempt history.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import structlog

from shared.http import parse_retry_after

from publish.egress import EgressPolicy, EgressRefused
from publish.metrics import ChannelMetrics
from publish.queue import Delivery, DeliveryQueue
from publish.registry import Subscription, SubscriptionRegistry
from publish.signing import signature_headers

log = structlog.get_logger()

USER_AGENT = "Newsflow-Webhooks/0.1"
RESPONSE_KEEP = 512  # bytes of a failed response kept in the attempt history
RESPONSE_READ_MAX = 64 * 1024

OnGone = Callable[[str, str], Awaitable[None]]


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


@dataclass(frozen=True)
class Attempt:
    at: str
    status: int | None
    error: str | None
    duration_ms: int
    outcome: str  # delivered | http_error | gone | timeout | network_error | refused
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"

    def record(self) -> dict[str, object]:
        return {"at": self.at, "status": self.status, "error": self.error,
                "duration_ms": self.duration_ms}


class WebhookSender:
    """One signed POST to the subscription's URL, after the SSRF check."""

    def __init__(self, egress: EgressPolicy, *, connect_timeout_s: float,
                 read_timeout_s: float) -> None:
        self.egress = egress
        self.timeout = httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s,
                                     write=read_timeout_s, pool=connect_timeout_s)
        # read_timeout bounds each read; this bounds a receiver that trickles bytes.
        self.deadline_s = connect_timeout_s + read_timeout_s + 1.0

    def client(self, max_connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections))

    async def send(self, client: httpx.AsyncClient, subscription: Subscription,
                   delivery: Delivery) -> Attempt:
        at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        started = time.perf_counter()

        def finish(outcome: str, status: int | None = None, error: str | None = None,
                   retry_after: float | None = None) -> Attempt:
            ms = int((time.perf_counter() - started) * 1000)
            return Attempt(at, status, error, ms, outcome, retry_after)

        try:
            target = await self.egress.check(subscription.record.url)
        except EgressRefused as exc:
            return finish("refused", error=f"refused: {exc}")
        url, host_header, extensions = target.pinned()  # the check parsed it with httpx too
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **host_header,
            **signature_headers(delivery.id, int(time.time()), delivery.body,
                                subscription.signing_secrets()),
        }
        request = client.build_request("POST", url, content=delivery.body.encode(),
                                       headers=headers, extensions=extensions)
        try:
            async with asyncio.timeout(self.deadline_s) as deadline:
                response = await client.send(request, stream=True)
        except (TimeoutError, httpx.TimeoutException) as exc:
            return finish("timeout", error=f"timeout: {type(exc).__name__}")
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return finish("network_error", error=f"{type(exc).__name__}: {exc}"[:300])
        # The status line decides the outcome: a receiver that answered 2xx (or 410, or 503
        # with Retry-After) and then trickles or breaks off its body must not count as a
        # timeout, which would send an accepted delivery again.
        status = response.status_code
        head = bytearray()
        try:
            if not (200 <= status < 300 or status == 410):  # only a failure's body is kept
                async with asyncio.timeout_at(deadline.when()):
                    await _read_some(response, head)
        except (TimeoutError, httpx.HTTPError, OSError, ValueError):
            pass  # what arrived in time is enough for the attempt history
        finally:
            await response.aclose()
        if 200 <= status < 300:
            return finish("delivered", status)
        if status == 410:
            return finish("gone", status, "410 Gone")
        error = head.decode("utf-8", "replace")[:RESPONSE_KEEP] or None
        if 300 <= status < 400:
            error = f"redirect to {response.headers.get('location', '?')} (not followed)"
        return finish("http_error", status, error,
                      parse_retry_after(response.headers.get("retry-after")))


class SubscriptionWorker:
    """Claims and sends the due deliveries of one subscription, at most N at a time."""

    def __init__(self, subscription_id: str, dispatcher: Dispatcher) -> None:
        self.subscription_id = subscription_id
        self.d = dispatcher
        self.wake = asyncio.Event()
        self.inflight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        d = self.d
        limit = d.max_in_flight
        lease_ms = int(d.lease_s * 1000)
        client = d.sender.client(limit)
        try:
            while True:
                free = limit - len(self.inflight)
                if free <= 0:
                    await asyncio.wait(self.inflight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                self.wake.clear()
                try:
                    claimed, next_due = await d.queue.claim(self.subscription_id, free, lease_ms)
                except Exception:
                    log.exception("webhook.claim_failed", subscription=self.subscription_id)
                    claimed, next_due = [], None
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(client, delivery))
                    self.inflight.add(task)
                    task.add_done_callback(self._done)
                if claimed and len(claimed) == free:
                    continue
                wait = d.poll_s if next_due is None else min(d.poll_s, next_due)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):  # not wait_for: see sse.client_frames
                        await self.wake.wait()
        finally:
            for task in self.inflight:
                task.cancel()
            await asyncio.gather(*self.inflight, return_exceptions=True)
            await client.aclose()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.inflight.discard(task)
        self.wake.set()

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        d = self.d
        subscription = d.registry.get(self.subscription_id)
        if subscription is None or not subscription.record.enabled:
            await d.queue.release(delivery)
            return
        try:
            attempt = await d.sender.send(client, subscription, delivery)
        except asyncio.CancelledError:
            # Shutting down mid-send: due again now, for whichever replica runs next.
            await asyncio.shield(d.queue.release(delivery))
            raise
        try:
            await self._settle(subscription, delivery, attempt)
        except Exception:
            log.exception("webhook.settle_failed", delivery_id=delivery.id)

    async def _settle(self, subscription: Subscription, delivery: Delivery,
                      attempt: Attempt) -> None:
        d = self.d
        sub = subscription.id
        delivery.attempts.append(attempt.record())
        d.metrics.webhook_attempts.labels(attempt.outcome).inc()
        tries = len(delivery.attempts) - delivery_round_start(delivery)
        fields = {"subscription": sub, "delivery_id": delivery.id, "attempt": tries,
                  "status": attempt.status, "ms": attempt.duration_ms}
        if attempt.ok:
            await d.queue.complete(delivery)
            d.metrics.webhook_final.labels("delivered").inc()
            latency = time.time() - delivery.published_ms / 1000
            d.metrics.webhook_latency.observe(max(0.0, latency))
            log.info("webhook.delivered", **fields)
            return
        if attempt.outcome == "gone":
            reason = "410 Gone: the subscriber asked to stop; subscription disabled"
            await d.queue.dead_letter(delivery, reason)
            d.metrics.webhook_final.labels("dead_lettered").inc()
            log.warning("webhook.gone", **fields)
            await d.on_gone(sub, reason)
            return
        delay = d.policy.delay(tries, attempt.retry_after)
        if delay is None:
            if await d.queue.dead_letter(delivery, f"failed {tries} attempts"):
                d.metrics.webhook_final.labels("dead_lettered").inc()
            log.warning("webhook.dead_lettered", error=attempt.error, **fields)
        elif await d.queue.retry(delivery, delay):
            log.info("webhook.retry", error=attempt.error, delay_s=round(delay, 3), **fields)
        else:
            d.metrics.webhook_final.labels("dropped_by_kill").inc()


def delivery_round_start(delivery: Delivery) -> int:
    """Attempts before the last replay: a replayed delivery gets the whole schedule again."""
    for index in range(len(delivery.attempts) - 1, -1, -1):
        if delivery.attempts[index].get("replayed"):
            return index + 1
    return 0


class Dispatcher:
    """Runs one worker per enabled subscription and keeps the queue-depth gauges current."""

    def __init__(self, *, registry: SubscriptionRegistry, queue: DeliveryQueue,
                 sender: WebhookSender, policy: RetryPolicy, metrics: ChannelMetrics,
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

    def start(self) -> None:
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
            entry[0].wake.set()

    async def housekeeping(self, interval_s: float = 1.0) -> None:
        """Queue depth per subscription every second; forget old memories every minute."""
        last_forget = 0.0
        while True:
            try:
                ids = list(self.registry.by_id)
                depth = 0
                for sub in ids:
                    depth += await self.queue.depth(sub)
                self.metrics.webhook_queue_depth.set(depth)
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


async def _read_some(response: httpx.Response, into: bytearray) -> None:
    """Up to RESPONSE_READ_MAX bytes of a failed response's body, kept if cut off midway."""
    async for chunk in response.aiter_raw():
        into += chunk
        if len(into) >= RESPONSE_READ_MAX:
            return
