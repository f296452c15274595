"""The ``webhooks`` group on news.published: match each event to subscriptions, queue deliveries.

With no enabled subscription, entries are acknowledged without being decoded, and a batch
smaller than a full read is first held for up to QUIET_PAUSE_S: the next read then takes what was
announced meanwhile, so a trickle of stories nobody subscribed to costs one read, one version
check and one ack per pause, not per story (each is a Redis round trip). A full batch is not
held: more is waiting, and holding it would let a backlog grow. A change of the subscriptions
(made here, or heard of from another replica) or a stop ends the pause at once; the version check
comes after it, so the batch is matched against the subscriptions as they are then, as without
the pause.

The whole batch is queued durably in Redis (one pipeline) before its entries are acknowledged;
a failure leaves them pending for the reclaimer, and queueing is idempotent (a delivery already
queued or sent is not queued again). A kill goes to every subscription that was queued any version
of its story, whatever its content filters say now, and drops that story's undelivered versions.
A subscription never receives events announced before it was created, and receives every
matching event announced after its creation was answered, whichever replica handles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC

import structlog

from shared.events import EventDecodeError
from shared.filters import KILLED, ArticleFacets
from shared.streams import Entry, Outcome

from deliver.decoding import Announced, read_entry
from deliver.queue import Delivery, DeliveryQueue, delivery_id
from deliver.registry import Subscription, SubscriptionRegistry

log = structlog.get_logger()

QUIET_PAUSE_S = 1.0  # with no subscription, a batch waits this long for the next to pile up
# A batch of a hundred stories takes milliseconds to match and encode: it gives way to the
# senders every few entries, so that an answer does not wait that long for its next request.
YIELD_EVERY = 16


class FanOut:
    """The batch handler of the ``webhooks`` group."""

    def __init__(self, registry: SubscriptionRegistry, queue: DeliveryQueue,
                 wake: Callable[[str], None], *, full_batch: int,
                 quiet_pause_s: float = QUIET_PAUSE_S) -> None:
        self.registry = registry
        self.queue = queue
        self.wake = wake
        self.full_batch = full_batch  # entries of one read at most: such a batch is not held
        self.quiet_pause_s = quiet_pause_s
        self._changed = asyncio.Event()  # the subscriptions changed, or the service stops
        self._stopping = False
        registry.listeners.append(self._changed.set)

    def stop(self) -> None:
        """No more pauses: the batches in hand are handled at once (call before stopping the
        consumer, which waits for them)."""
        self._stopping = True
        self._changed.set()

    async def _pause_if_nobody_listens(self, entries: int) -> None:
        if (self.registry.enabled() or self._stopping or entries >= self.full_batch
                or self.quiet_pause_s <= 0):
            return
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.quiet_pause_s):
                await self._changed.wait()

    async def __call__(self, entries: list[Entry]) -> list[Outcome]:
        outcomes: list[Outcome] = [Outcome() for _ in entries]
        await self._pause_if_nobody_listens(len(entries))
        try:
            # A subscription made on another replica a moment ago must see these entries:
            # its version bump happened before they were announced.
            await self.registry.refresh()
        except Exception as exc:
            log.exception("webhooks.registry_refresh_failed")
            return [Outcome.failed(exc) for _ in entries]
        enabled = self.registry.enabled()
        if not enabled:
            return outcomes  # nobody to deliver to: nothing to decode
        # (id, created, filters, whether they read the article): content filters are asked only
        # of the subscriptions that have them
        subs = [(sub.id, sub.record.created_ms, sub.filters, sub.filters.reads_article)
                for sub in enabled]
        decode = any(reads for _, _, _, reads in subs)
        # Routing reads a few fields, and the body carries the entry's own ``data`` (see
        # decoding.py for what is checked, and when ``data`` is decoded).
        decoded: list[tuple[Entry, Announced]] = []
        for index, entry in enumerate(entries):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let the senders take their answers meanwhile
            try:
                event = read_entry(entry.fields, decode=decode)
            except EventDecodeError as exc:
                outcomes[index] = Outcome.failed(exc, poison=True)
                continue
            if event is not None:
                decoded.append((entry, event))
        if not decoded:
            return outcomes
        got = await self._who_got_kills(decoded, enabled)
        deliveries: list[Delivery] = []
        remembered: list[tuple[str, str]] = []  # matched, but the subscription wants kills only
        queued_here: set[tuple[str, str]] = set()  # (subscription, uri) earlier in this batch
        now_ms = int(time.time() * 1000)
        for index, (entry, event) in enumerate(decoded):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            entry_ms = int(entry.id.split("-", 1)[0])
            uri, kind = event.subject, event.type
            body: bytes | None = None  # one object for every subscription: made once
            facets = ArticleFacets(event.article)  # topics worked out once, if some filter asks
            for sub_id, created_ms, filters, reads in subs:
                if created_ms > entry_ms:
                    continue
                if kind == KILLED:
                    if not filters.wants_type(kind) or (
                            sub_id not in got[entry.id] and (sub_id, uri) not in queued_here):
                        continue
                elif reads and not filters.matches(facets):  # decoded if some filter reads it
                    continue
                elif not filters.wants_type(kind):
                    if filters.wants_type(KILLED):  # so that the story's kill reaches it
                        remembered.append((sub_id, uri))
                        queued_here.add((sub_id, uri))
                    continue
                queued_here.add((sub_id, uri))
                if body is None:
                    body = _body(event)
                deliveries.append(Delivery(
                    id=delivery_id(sub_id, event.id), subscription=sub_id, type=kind,
                    event_id=event.id, entry_id=entry.id, uri=uri, published_ms=entry_ms,
                    body=body, created_ms=now_ms))
        if not deliveries and not remembered:
            return outcomes
        try:
            await self.queue.remember_stories(remembered)
            queued, dropped = await self.queue.enqueue(deliveries)
        except Exception as exc:
            log.exception("webhooks.enqueue_failed", deliveries=len(deliveries))
            return [o if o.error else Outcome.failed(exc) for o in outcomes]
        log.debug("webhooks.queued", entries=len(entries), deliveries=queued,
                 dropped_by_kill=dropped)
        for sub_id in {d.subscription for d in deliveries}:
            self.wake(sub_id)
        return outcomes

    async def _who_got_kills(self, decoded: list[tuple[Entry, Announced]],
                             enabled: list[Subscription]) -> dict[str, set[str]]:
        kills = [(entry, event) for entry, event in decoded if event.type == KILLED]
        ids = [s.id for s in enabled]
        found = await asyncio.gather(*(self.queue.got_story(ids, event.subject)
                                       for _, event in kills))
        return {entry.id: set(subs) for (entry, _), subs in zip(kills, found, strict=True)}


def _body(event: Announced) -> bytes:
    """The JSON a subscriber receives for an event: ``data`` is the entry's own JSON, put in as
    it is, not encoded again (decoding.py says why it is JSON), nor decoded into text and
    encoded back (a few µs each for 9 KB that are not all ASCII)."""
    timestamp = event.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return b'{"type":"%s","timestamp":"%s","data":%s}' % (
        event.type.encode(), timestamp.encode(), event.data)
