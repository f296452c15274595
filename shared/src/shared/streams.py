"""Consumer-group plumbing: group creation, batched reads, reclaim, retry/dead-letter, trimming.

Facts about Redis Streams and FastStream 0.7 that shape this module (see DESIGN.md):
- a group reader only sees new entries, so a second, claim-only subscriber (XAUTOCLAIM) takes
  over entries left pending by a crash, a failure or a shutdown once they are idle long enough;
- groups are created explicitly at start (``XGROUP CREATE ... 0 MKSTREAM``), never via last_id;
- reads are bounded (``max_records``) so one replica never hoards the backlog;
- per entry: publish the next events, then ack (one non-transactional pipeline, in that order);
  a failed entry stays pending and is retried by the reclaimer until ``max_attempts``, then it is
  written to ``<stream>.dlq`` (capped at ``dlq_maxlen``, newest kept) with the error and acked;
  a poison entry goes there at once;
- ``MAXLEN`` ignores groups, so trimming uses ``MINID`` below what every group has acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from faststream.middlewares import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from shared.events import Event
from shared.observability import Metrics
from shared.settings import Settings

log = structlog.get_logger()

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Entry:
    """One stream entry handed to a batch handler."""

    id: str
    fields: dict[bytes, bytes]
    attempts: int  # deliveries so far, this one included


@dataclass
class Outcome:
    """What became of one entry: events to emit before the ack, or why it failed."""

    emit: list[tuple[str, Event]] = field(default_factory=list)
    error: BaseException | None = None
    poison: bool = False  # no retry can help: dead-letter at once
    # Keys set (with a TTL in seconds) right after the emits, in the same pipeline: a handler
    # that finds its key on a redelivery knows the emits already happened.
    marks: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def failed(cls, error: BaseException, *, poison: bool = False) -> Outcome:
        return cls(error=error, poison=poison)


BatchHandler = Callable[[list[Entry]], Awaitable[list[Outcome]]]


def consumer_name(service: str) -> str:
    """Unique per process: host and pid."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create the group at the start of the stream if it does not exist yet."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class GroupConsumer:
    """Reads one stream in a consumer group in batches and applies the reliability rules."""

    def __init__(
        self,
        *,
        redis: Redis,
        stream: str,
        group: str,
        handler: BatchHandler,
        settings: Settings,
        metrics: Metrics,
        consumer: str | None = None,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.handler = handler
        self.settings = settings
        self.metrics = metrics
        self.consumer = consumer or consumer_name(group)
        self.dlq = stream + DLQ_SUFFIX

    def attach(self, broker: RedisBroker) -> None:
        """Register the readers and the reclaimer on the broker.

        With ``concurrent_batches`` > 1 several readers (consumers of their own in the group)
        keep that many batches in flight, so a worker pool is fed the next batch while this
        process decodes and emits the last one. Order across batches is then not kept, which
        the version-guarded store downstream tolerates.
        """
        for index in range(self.settings.concurrent_batches):
            self._attach_reader(broker, self.consumer if index == 0 else f"{self.consumer}-{index}")
        reclaimer = StreamSub(
            self.stream,
            group=self.group,
            consumer=self.consumer + "-reclaim",
            batch=True,
            min_idle_time=self.settings.reclaim_idle_ms,
            polling_interval=self.settings.reclaim_interval_ms,
        )

        @broker.subscriber(stream=reclaimer, ack_policy=AckPolicy.MANUAL, no_reply=True)
        async def reclaim_batch(body: Any, msg: RedisStreamMessage) -> None:
            entries = _entries(msg.raw_message, attempts=None)
            counts = await self._delivery_counts([e.id for e in entries])
            reclaimed = [Entry(e.id, e.fields, counts.get(e.id, 2)) for e in entries]
            self.metrics.reclaimed.labels(self.stream).inc(len(reclaimed))
            await self.process(reclaimed)

    def _attach_reader(self, broker: RedisBroker, consumer: str) -> None:
        reader = StreamSub(
            self.stream,
            group=self.group,
            consumer=consumer,
            batch=True,
            max_records=self.settings.batch_size,
            polling_interval=self.settings.block_ms,
        )

        @broker.subscriber(stream=reader, ack_policy=AckPolicy.MANUAL, no_reply=True)
        async def read_batch(body: Any, msg: RedisStreamMessage) -> None:
            await self.process(_entries(msg.raw_message, attempts=None))

    async def process(self, entries: Sequence[Entry]) -> None:
        """Run the handler on a batch, then emit, ack or dead-letter each entry."""
        if not entries:
            return
        started = time.perf_counter()
        self.metrics.events_in.labels(self.stream).inc(len(entries))
        try:
            outcomes = await self.handler(list(entries))
        except Exception as exc:  # the batch as a whole failed: every entry is retried
            log.exception("batch.failed", stream=self.stream, entries=len(entries))
            outcomes = [Outcome.failed(exc) for _ in entries]
        if len(outcomes) != len(entries):
            raise RuntimeError("handler must return one outcome per entry")
        pipe = self.redis.pipeline(transaction=False)
        retried = 0
        for entry, outcome in zip(entries, outcomes, strict=True):
            if outcome.error is None:
                for stream, event in outcome.emit:
                    pipe.xadd(stream, event.to_fields())
                    self.metrics.events_out.labels(stream).inc()
                for key, ttl in outcome.marks:
                    pipe.set(key, b"1", ex=ttl)
                pipe.xack(self.stream, self.group, entry.id)
                continue
            reason = "poison" if outcome.poison else "error"
            self.metrics.events_failed.labels(self.stream, reason).inc()
            if outcome.poison or entry.attempts >= self.settings.max_attempts:
                pipe.xadd(self.dlq, _dead_letter(entry, outcome.error, self.stream),
                          maxlen=self.settings.dlq_maxlen or None, approximate=False)
                pipe.xack(self.stream, self.group, entry.id)
                self.metrics.dead_letters.labels(self.stream).inc()
                log.warning(
                    "entry.dead_lettered", stream=self.stream, entry_id=entry.id,
                    attempts=entry.attempts, error=_describe(outcome.error),
                )
            else:
                retried += 1
                log.warning(
                    "entry.retry_later", stream=self.stream, entry_id=entry.id,
                    attempts=entry.attempts, error=_describe(outcome.error),
                )
        await pipe.execute()
        self.metrics.batch_latency.labels(self.stream).observe(time.perf_counter() - started)
        if retried:
            log.info("batch.partial", stream=self.stream, entries=len(entries), retried=retried)

    async def _delivery_counts(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        pending = await self.redis.xpending_range(
            self.stream, self.group, min=min(ids, key=_id_key), max=max(ids, key=_id_key),
            count=len(ids) + 1000,
        )
        wanted = set(ids)
        counts = {}
        for item in pending:
            entry_id = _text(item["message_id"])
            if entry_id in wanted:
                counts[entry_id] = int(item["times_delivered"])
        return counts


async def exit_when_stopped(broker: RedisBroker, interval_s: float = 1.0) -> None:
    """End the process when one of its stream subscribers has stopped for good.

    FastStream stops a subscriber whose consumer group has disappeared (NOGROUP: the stream was
    deleted, or Redis restarted without its data) and, run without a FastStream app as the
    services are, nothing else would notice: the service would stay up, ready and idle. It
    sends itself SIGTERM instead, shuts down cleanly, and its supervisor (compose restarts on
    any exit; so does ``newsflow run``) starts it again, which creates the groups afresh."""
    while True:
        await asyncio.sleep(interval_s)
        stopped = [s for s in broker.subscribers if not s.running]
        if stopped:
            log.critical("consumer.stopped", action="exiting to be restarted",
                         subscribers=[str(getattr(getattr(s, "stream_sub", None), "name", s))
                                      for s in stopped])
            os.kill(os.getpid(), signal.SIGTERM)
            return


# KEYS: stream; ARGV: group idle_ms -> names removed. Atomic, so a consumer that reads between
# the look and the delete cannot lose its pending entries (DELCONSUMER drops them).
_FORGET_IDLE_CONSUMERS = """
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['pending'] == 0 and f['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    table.insert(removed, f['name'])
  end
end
return removed
"""


class StreamTrimmer:
    """Trims acknowledged entries (``XTRIM MINID``) and reports lag and pending per group.

    It also forgets consumers idle for ``forget_consumers_ms`` with nothing pending: every
    process start adds consumers named after its host and pid, and groups would otherwise keep
    them forever. Forgetting a live consumer that happened to be that idle costs nothing: it has
    nothing pending, and the next entry it reads adds it back."""

    def __init__(
        self, redis: Redis, streams: Sequence[str], metrics: Metrics, *,
        retention_ms: int = 0, interval_s: float = 60.0, forget_consumers_ms: int = 0,
    ) -> None:
        self.redis = redis
        self.streams = list(streams)
        self.metrics = metrics
        self.retention_ms = retention_ms
        self.interval_s = interval_s
        self.forget_consumers_ms = forget_consumers_ms
        self._forget = redis.register_script(_FORGET_IDLE_CONSUMERS)

    async def run(self) -> None:
        while True:
            for stream in self.streams:
                try:
                    await self.trim(stream)
                except Exception:
                    log.exception("trim.failed", stream=stream)
            await asyncio.sleep(self.interval_s)

    async def trim(self, stream: str) -> int:
        """Trim below the oldest entry some group still needs; returns entries removed."""
        try:
            groups = await self.redis.xinfo_groups(stream)
        except ResponseError:
            return 0
        floor: tuple[int, int] | None = None
        for group in groups:
            name = _text(group["name"])
            pending = int(group.get("pending", 0))
            lag = group.get("lag")
            self.metrics.group_pending.labels(stream, name).set(pending)
            if self.forget_consumers_ms:
                await self.forget_idle_consumers(stream, name)
            if lag is not None:
                self.metrics.group_lag.labels(stream, name).set(int(lag))
            summary = await self.redis.xpending(stream, name) if pending else None
            if summary and summary.get("min") is not None:  # acked meanwhile: none pending
                needed = _id_key(summary["min"])
            else:
                last = _id_key(group["last-delivered-id"])
                needed = (last[0], last[1] + 1)
            floor = needed if floor is None else min(floor, needed)
        if floor is None:
            return 0  # no group yet: nobody has said what it needs
        if self.retention_ms:
            keep_from = (int(time.time() * 1000) - self.retention_ms, 0)
            floor = min(floor, keep_from)
        removed = await self.redis.xtrim(stream, minid=f"{floor[0]}-{floor[1]}", approximate=False)
        if removed:
            log.info("stream.trimmed", stream=stream, removed=removed)
        return int(removed)

    async def forget_idle_consumers(self, stream: str, group: str) -> list[str]:
        removed = [_text(name) for name in await self._forget(
            keys=[stream], args=[group, self.forget_consumers_ms])]
        if removed:
            log.info("group.consumers_forgotten", stream=stream, group=group, consumers=removed)
        return removed


def _entries(raw: Any, attempts: int | None) -> list[Entry]:
    ids = raw.get("message_ids", [])
    data = raw.get("data", [])
    if isinstance(data, dict):  # a non-batch message
        data = [data]
    return [Entry(_text(i), d, attempts or 1) for i, d in zip(ids, data, strict=True)]


def _dead_letter(entry: Entry, error: BaseException, stream: str) -> dict[FieldT, EncodableT]:
    record: dict[FieldT, EncodableT] = dict(entry.fields.items())
    record["dlq_stream"] = stream
    record["dlq_entry_id"] = entry.id
    record["dlq_attempts"] = str(entry.attempts)
    record["dlq_error"] = _describe(error)
    record["dlq_time_ms"] = str(int(time.time() * 1000))
    return record


def _describe(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {error}"[:2000] if error else ""


def _id_key(entry_id: Any) -> tuple[int, int]:
    ms, _, seq = _text(entry_id).partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
