"""Consumer-group plumbing: group creation, batched reads, keep-alive, reclaim, retry/dead-letter,
trimming.

Facts about Redis Streams that shape this module (see DESIGN.md, "Reliability rules"):
- a group reader only sees new entries, so a reclaimer (``XAUTOCLAIM ... COUNT n``) takes over
  entries left pending by a crash, a failure or a shutdown once they are idle long enough;
- an entry being worked on is kept alive: every third of the reclaim idle time the consumer
  re-claims its in-flight entries to itself (``XCLAIM ... JUSTID``, which resets their idle time
  and does not count a delivery), so only the entries of a dead or stuck consumer are taken over,
  never a slow batch still in hand;
- groups are created explicitly at start (``XGROUP CREATE ... 0 MKSTREAM``), never via last_id;
- reads are bounded (``COUNT batch_size / concurrent_batches``) so one replica never hoards the
  backlog, and blocking (``BLOCK block_ms``): a story arriving at an idle consumer is read at
  once, and batches form only under load, from what has piled up while the previous batch was
  handled;
- per entry: publish the next events, then ack (one non-transactional pipeline, in that order);
  when the reader is only waiting for that batch to be settled before it reads again, the
  same write carries the next ``XREADGROUP`` (after the acks: a round trip less per batch,
  the fixed cost that counts at low load, when every batch is one story);
  a failed entry stays pending and is retried by the reclaimer until ``max_attempts``, then it is
  written to ``<stream>.dlq`` (capped at ``dlq_maxlen``, newest kept) with the error and acked;
  a poison entry (one the handler cannot decode) goes there at once, and the rest of its batch
  flows on; a handler that raises for a whole batch is run again entry by entry, so one bad
  entry cannot hold the others back;
- ``MAXLEN`` ignores groups, so trimming uses ``MINID`` below what every group has acknowledged.

Reading is done here with redis-py (``XREADGROUP``/``XAUTOCLAIM``), not by FastStream
subscribers: FastStream 0.7.8's batch parser re-encodes a batch as JSON and fails the whole
batch on a field that is not UTF-8 (the entry then never reaches the handler, so it is never
dead-lettered), and its claim subscriber takes one entry per ``XAUTOCLAIM`` and walks the
pending list of busy replicas without pausing. A ``GroupConsumer`` runs its own tasks:
``await consumer.start()`` / ``await consumer.stop()`` (which finishes the batches in hand within
``graceful_timeout_s``). ``consumer.attach(broker)`` remains for services that keep a FastStream
broker as their lifecycle: the broker's ``start()``/``stop()`` then start and stop the consumer.
The Redis client must return bytes (``decode_responses=False``): entries are handed over raw.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from faststream._internal.broker.registrator import Registrator
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from shared.events import Event
from shared.observability import Metrics
from shared.settings import Settings

log = structlog.get_logger()

DLQ_SUFFIX = ".dlq"
BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0)  # after Redis errors: quick at first, then every 2 s


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


# KEYS: stream; ARGV: group consumer id... -> the ids no longer pending to this consumer (acked,
# or taken over by another). The others get their idle time reset, without counting a delivery.
_KEEP_ALIVE = """
local lost, mine = {}, {}
local function claim()
  table.insert(mine, 'JUSTID')
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(mine))
  mine = {}
end
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    table.insert(mine, ARGV[i])
    if #mine == 500 then claim() end
  else
    table.insert(lost, ARGV[i])
  end
end
if #mine > 0 then claim() end
return lost
"""


class GroupConsumer:
    """Reads one stream in a consumer group in batches and applies the reliability rules.

    One consumer name per process (``consumer_name``): the reader, the reclaimer and the
    keep-alive all act under it. Up to ``concurrent_batches`` read batches are in hand at once
    (the next one is read while the last is handled, e.g. to keep a worker pool fed), plus one
    reclaimed batch; order across batches is then not kept, which every handler tolerates
    (idempotent, version-guarded downstream).
    """

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
        read_size: Callable[[], int | None] | None = None,
    ) -> None:
        if redis.get_connection_kwargs().get("decode_responses"):
            raise ValueError("GroupConsumer needs a Redis client that returns bytes")
        self.redis = redis
        self.stream = stream
        self.group = group
        self.handler = handler
        self.settings = settings
        self.metrics = metrics
        self.consumer = consumer or consumer_name(group)
        # The handler's own say in how many entries one read takes (None: no opinion), within
        # the limits below; enrich sizes reads by how long its stories take (`EnrichPool`).
        self.read_size = read_size
        self.dlq = stream + DLQ_SUFFIX
        self.failure: str | None = None  # why it stopped for good (the group vanished)
        self._in_flight: dict[str, int] = {}  # entry id -> batches holding it
        self._lost: set[str] = set()  # in hand here, but no longer pending to this consumer
        self._keep_alive = redis.register_script(_KEEP_ALIVE)
        self._tasks: list[asyncio.Task[None]] = []
        self._batches: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._room = asyncio.Event()  # a batch in hand was settled: the reader may read again
        self._parked = False  # the reader waits for room (not in a read, not stopping)
        self._handed: list[_Settlement] = []  # settlements the reader sends with its next read
        self._started = False

    @property
    def running(self) -> bool:
        return self._started and self.failure is None and not self._stopping.is_set()

    @property
    def in_flight(self) -> frozenset[str]:
        """Ids of the entries in hand (read or claimed, not yet acked or given up)."""
        return frozenset(self._in_flight)

    async def start(self) -> None:
        """Create the group if needed and start reading, reclaiming and keeping alive."""
        if self._started:
            return
        await ensure_group(self.redis, self.stream, self.group)
        self._stopping.clear()
        self._started = True
        self._tasks = [
            asyncio.create_task(self._read_loop(), name=f"read {self.stream}"),
            asyncio.create_task(self._reclaim_loop(), name=f"reclaim {self.stream}"),
            asyncio.create_task(self._keep_alive_loop(), name=f"keep-alive {self.stream}"),
        ]

    async def stop(self, timeout_s: float | None = None) -> None:
        """Stop reading, finish the batches in hand (up to ``graceful_timeout_s``), then stop.

        Entries still in hand after the timeout stay pending and are reclaimed elsewhere."""
        if not self._started:
            return
        self._stopping.set()
        self._room.set()
        deadline = time.monotonic() + (self.settings.graceful_timeout_s if timeout_s is None
                                       else timeout_s)
        loops, keep_alive = self._tasks[:2], self._tasks[2]
        await asyncio.wait(loops, timeout=max(0.0, deadline - time.monotonic()))
        if self._batches:  # the last read may have added one: snapshot after the loops ended
            await asyncio.wait(set(self._batches), timeout=max(0.0, deadline - time.monotonic()))
        if self._batches:
            log.warning("consumer.stopped_with_batches_in_hand", stream=self.stream,
                        entries=len(self._in_flight))
        pending = [*loops, *self._batches, keep_alive]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._started = False

    def attach(self, broker: RedisBroker) -> None:
        """Have ``broker.start()`` and ``broker.stop()`` start and stop this consumer.

        For services that keep a FastStream broker as their lifecycle; the broker does not read
        the stream (see the module docstring). ``exit_when_stopped(broker)`` watches it too."""
        hook = cast(Any, _BrokerHook(self))
        Registrator.subscriber(broker, hook)

    async def _read_loop(self) -> None:
        """Read while there is room: at most ``concurrent_batches`` read batches and
        ``batch_size`` read entries in hand. The next batch is read while the last is being
        worked on, but a replica never holds more than one batch's worth, so in a burst the
        other replicas get their share instead of waiting while one hoards. One read takes
        at most an equal share of that worth: a burst read whole would leave nothing to read
        ahead, and the workers would idle between one batch's end and the next read. A handler
        that knows what its entries cost may ask for less (``read_size``)."""
        in_hand: list[int] = []  # sizes of the read batches in hand
        share = -(-self.settings.batch_size // self.settings.concurrent_batches)  # ceil
        failures = 0
        try:
            while not self._stopping.is_set():
                wanted = self.read_size() if self.read_size is not None else None
                space = min(share if wanted is None else max(1, min(share, wanted)),
                            self.settings.batch_size - sum(in_hand))
                if len(in_hand) >= self.settings.concurrent_batches or space <= 0:
                    await self._send_handed()  # no read to go with: they must not wait for one
                    self._room.clear()
                    self._parked = True
                    try:
                        await self._room.wait()
                    finally:
                        self._parked = False
                    continue
                try:
                    reply = await self._read(space)
                    failures = 0
                except Exception as exc:
                    if not await self._survive(exc, "read", failures):
                        return
                    failures += 1
                    continue
                entries = self._track(_entries(reply, attempts=1))
                if not entries:
                    continue
                in_hand.append(len(entries))
                task = asyncio.create_task(self.process(entries, hand_over=True))
                self._batches.add(task)

                def done(task: asyncio.Task[None], size: int = len(entries)) -> None:
                    self._batches.discard(task)
                    in_hand.remove(size)
                    self._room.set()

                task.add_done_callback(done)
        finally:  # stopping (or stopped for good): what was handed over is sent on its own
            await self._send_handed()

    async def _send_handed(self) -> None:
        """The settlements handed over for the next read, each in a round trip of its own."""
        while self._handed:
            await self._send(self._handed.pop(0))

    async def _read(self, space: int) -> Any:
        """``XREADGROUP`` for up to ``space`` entries, sent after the settlements handed over
        (see `process`) in one write: Redis runs their emits and acks before the read blocks.

        Their replies are read first, and they are done with before the read's reply comes:
        a connection lost while the read blocks fails the read alone. (redis-py may send a
        whole pipeline again on a new connection after a connection error, which would emit
        again what was settled.) Each settlement's own outcome is logged; only the read's
        failure is raised."""
        settlements, self._handed = self._handed, []
        if not settlements:
            return await self.redis.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                               count=space, block=self.settings.block_ms)
        read = ("XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", space,
                "BLOCK", self.settings.block_ms, "STREAMS", self.stream, ">")
        pool = self.redis.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(conn.pack_commands(
                [*(command for settlement in settlements for command in settlement.commands),
                 read]))
            while settlements:
                settlements[0].settled([await _reply(conn) for _ in settlements[0].commands])
                settlements.pop(0)
            return await self.redis.parse_response(conn, "XREADGROUP")
        except ResponseError:  # the read's own error (NOGROUP ...): the connection is sound
            raise
        except BaseException as exc:
            await conn.disconnect(nowait=True)  # a reply may be half read: start afresh
            for settlement in settlements:  # their emits and acks may or may not have run
                settlement.not_settled(exc)
            raise
        finally:
            await pool.release(conn)

    async def _reclaim_loop(self) -> None:
        failures = 0
        interval_s = self.settings.reclaim_interval_ms / 1000
        while not self._stopping.is_set():
            # Jitter, so replicas started together do not scan the pending list in step.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(),
                                       interval_s * random.uniform(0.8, 1.2))
                return
            try:
                await self.reclaim()
                failures = 0
            except Exception as exc:
                if not await self._survive(exc, "reclaim", failures):
                    return
                failures += 1

    async def reclaim(self) -> int:
        """Claim and handle, in batches, entries idle longer than ``reclaim_idle_ms``.

        One ``XAUTOCLAIM`` per call when nothing is idle (it scans up to ten times ``COUNT``
        pending entries); returns how many entries were claimed."""
        cursor: bytes | str = "0-0"
        claimed_total = 0
        while True:
            reply = await self.redis.xautoclaim(
                self.stream, self.group, self.consumer, self.settings.reclaim_idle_ms,
                start_id=cursor, count=self.settings.batch_size)
            cursor, claimed = reply[0], reply[1]
            gone = [_text(i) for i, fields in claimed if fields is None]
            if gone:  # deleted from the stream meanwhile (Redis < 7 still lists them)
                await self.redis.xack(self.stream, self.group, *gone)
            raw = [(i, fields) for i, fields in claimed if fields is not None]
            if raw:
                claimed_total += len(raw)
                entries = self._track(_entries([(self.stream, raw)], attempts=None))
                counts = await self._delivery_counts([e.id for e in entries])
                entries = [Entry(e.id, e.fields, counts.get(e.id, 2)) for e in entries]
                self.metrics.reclaimed.labels(self.stream).inc(len(entries))
                log.info("entries.reclaimed", stream=self.stream, entries=len(entries))
                await self.process(entries)
            if _text(cursor) == "0-0" or self._stopping.is_set():
                return claimed_total

    async def _keep_alive_loop(self) -> None:
        interval_s = self.settings.reclaim_idle_ms / 3000
        while True:
            await asyncio.sleep(interval_s)
            ids = list(self._in_flight)
            try:
                for start in range(0, len(ids), 1000):
                    lost = await self._keep_alive(
                        keys=[self.stream], args=[self.group, self.consumer,
                                                  *ids[start:start + 1000]])
                    self._lose([_text(i) for i in lost])
            except Exception as exc:
                log.warning("consumer.keep_alive_failed", stream=self.stream,
                            error=_describe(exc))

    async def _survive(self, exc: Exception, action: str, failures: int) -> bool:
        """After a failed read or claim: False when the group is gone for good (the service
        should be restarted), else True after a pause that grows with repeated failures."""
        if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
            self.failure = str(exc)
            log.critical("consumer.group_missing", stream=self.stream, group=self.group,
                         error=str(exc))
            return False
        level = log.warning if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError) \
            else log.error
        level(f"consumer.{action}_failed", stream=self.stream, error=_describe(exc),
              failures=failures + 1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(),
                                   BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
        return True

    def _track(self, entries: list[Entry]) -> list[Entry]:
        for entry in entries:
            self._in_flight[entry.id] = self._in_flight.get(entry.id, 0) + 1
        return entries

    def _untrack(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            left = self._in_flight.get(entry.id, 0) - 1
            if left > 0:
                self._in_flight[entry.id] = left
            else:
                self._in_flight.pop(entry.id, None)
                self._lost.discard(entry.id)

    def _lose(self, ids: list[str]) -> None:
        taken = [i for i in ids if i in self._in_flight]
        if taken:
            self._lost.update(taken)
            log.warning("entries.taken_over", stream=self.stream, entries=taken[:20],
                        count=len(taken))

    async def process(self, entries: Sequence[Entry], *, hand_over: bool = False) -> None:
        """Run the handler on a batch, then emit, ack or dead-letter each entry.

        With ``hand_over`` (a batch the reader read), when the reader is waiting for this
        batch's end to read again, the emits and acks go with that read (see `_read`) instead
        of in a round trip of their own. Never raises: what could not be settled stays
        pending, for the reclaimer."""
        if not entries:
            return
        try:
            settlement = self._settlement(entries, await self._outcomes(entries))
            if hand_over and self._parked and not self._stopping.is_set():
                self._handed.append(settlement)
            else:
                await self._send(settlement)
        except Exception as exc:
            _not_settled(self.stream, len(entries), exc)
        finally:
            self._untrack(entries)

    async def _outcomes(self, entries: Sequence[Entry]) -> list[Outcome]:
        started = time.perf_counter()
        self.metrics.events_in.labels(self.stream).inc(len(entries))
        try:
            outcomes = await self.handler(list(entries))
            if len(outcomes) != len(entries):
                raise RuntimeError(f"handler returned {len(outcomes)} outcomes"
                                   f" for {len(entries)} entries")
        except Exception as exc:
            log.exception("batch.failed", stream=self.stream, entries=len(entries))
            if len(entries) == 1:
                outcomes = [Outcome.failed(exc)]
            else:  # find the entry at fault: the others must not wait for it
                outcomes = list(await asyncio.gather(*(self._alone(e) for e in entries)))
        self.metrics.batch_latency.labels(self.stream).observe(time.perf_counter() - started)
        return outcomes

    async def _alone(self, entry: Entry) -> Outcome:
        try:
            [outcome] = await self.handler([entry])
        except Exception as exc:
            log.warning("entry.failed", stream=self.stream, entry_id=entry.id,
                        error=_describe(exc))
            return Outcome.failed(exc)
        return outcome

    def _settlement(self, entries: Sequence[Entry], outcomes: list[Outcome]) -> _Settlement:
        """The commands that settle a batch: per entry its emits and marks, or its dead
        letter; then one XACK of all of them (a command each cost more)."""
        settlement = _Settlement(self.stream, len(entries))
        acks: list[str] = []
        for entry, outcome in zip(entries, outcomes, strict=True):
            if entry.id in self._lost:  # another consumer has it now: leave it to that one
                settlement.taken += 1
                continue
            if outcome.error is None:
                for stream, event in outcome.emit:
                    settlement.commands.append(_xadd(stream, event.to_fields()))
                    self.metrics.events_out.labels(stream).inc()
                for key, ttl in outcome.marks:
                    settlement.commands.append(("SET", key, b"1", "EX", ttl))
                acks.append(entry.id)
                continue
            reason = "poison" if outcome.poison else "error"
            self.metrics.events_failed.labels(self.stream, reason).inc()
            if outcome.poison or entry.attempts >= self.settings.max_attempts:
                settlement.commands.append(_xadd(
                    self.dlq, _dead_letter(entry, outcome.error, self.stream),
                    maxlen=self.settings.dlq_maxlen))
                acks.append(entry.id)
                self.metrics.dead_letters.labels(self.stream).inc()
                log.warning(
                    "entry.dead_lettered", stream=self.stream, entry_id=entry.id,
                    attempts=entry.attempts, poison=outcome.poison,
                    error=_describe(outcome.error),
                )
            else:
                settlement.retried += 1
                log.warning(
                    "entry.retry_later", stream=self.stream, entry_id=entry.id,
                    attempts=entry.attempts, error=_describe(outcome.error),
                )
        if acks:
            settlement.commands.append(("XACK", self.stream, self.group, *acks))
        return settlement

    async def _send(self, settlement: _Settlement) -> None:
        """A settlement in a round trip of its own."""
        if not settlement.commands:
            settlement.settled([])
            return
        pipe = self.redis.pipeline(transaction=False)
        for command in settlement.commands:
            pipe.execute_command(*command)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            settlement.not_settled(exc)
            return
        settlement.settled(replies)

    async def _delivery_counts(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        pending = await self.redis.xpending_range(
            self.stream, self.group, min=min(ids, key=_id_key), max=max(ids, key=_id_key),
            count=len(ids) + len(self._in_flight) + 16, consumername=self.consumer)
        wanted = set(ids)
        counts = {}
        for item in pending:
            entry_id = _text(item["message_id"])
            if entry_id in wanted:
                counts[entry_id] = int(item["times_delivered"])
        return counts


@dataclass
class _Settlement:
    """What settles one batch, in order: emits, marks and dead letters, then the ack."""

    stream: str
    entries: int
    commands: list[tuple[EncodableT, ...]] = field(default_factory=list)
    retried: int = 0
    taken: int = 0

    def settled(self, replies: Sequence[Any]) -> None:
        """Log what the replies say, as a batch sent alone would have been logged."""
        failed = next((r for r in replies if isinstance(r, Exception)), None)
        if failed is not None:
            _not_settled(self.stream, self.entries, failed)
        elif self.retried or self.taken:
            log.info("batch.partial", stream=self.stream, entries=self.entries,
                     retried=self.retried, taken_over=self.taken)

    def not_settled(self, error: BaseException) -> None:
        _not_settled(self.stream, self.entries, error)


def _xadd(stream: str, fields: dict[FieldT, EncodableT], maxlen: int = 0
          ) -> tuple[EncodableT, ...]:
    """An XADD command (``MAXLEN`` exact, when given), as redis-py's ``xadd`` sends it."""
    trim: tuple[EncodableT, ...] = ("MAXLEN", maxlen) if maxlen else ()
    return ("XADD", stream, *trim, "*", *(x for pair in fields.items() for x in pair))


async def _reply(conn: AbstractConnection) -> Any:
    """The next reply on a connection; an error reply is returned, not raised."""
    try:
        return await conn.read_response()
    except ResponseError as exc:
        return exc


def _not_settled(stream: str, entries: int, error: BaseException) -> None:
    log.error("batch.not_settled", stream=stream, entries=entries, error=_describe(error),
              action="left pending for the reclaimer")


class _BrokerHook:
    """Stands among a FastStream broker's subscribers so that the broker starts and stops a
    GroupConsumer (see ``GroupConsumer.attach``). Reads nothing itself."""

    def __init__(self, consumer: GroupConsumer) -> None:
        self.consumer = consumer

    @property
    def running(self) -> bool:
        return self.consumer.running

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    def get_log_context(self, message: Any) -> dict[str, str]:
        return {"channel": self.consumer.stream, "message_id": ""}

    def __str__(self) -> str:
        return f"{self.consumer.stream} ({self.consumer.group})"


async def exit_when_stopped(watched: RedisBroker | Iterable[GroupConsumer],
                            interval_s: float = 1.0) -> None:
    """End the process when one of its group consumers has stopped for good.

    A consumer stops for good when its consumer group has disappeared (NOGROUP: the stream was
    deleted, or Redis restarted without its data); nothing else would notice: the service would
    stay up, ready and idle. It sends itself SIGTERM instead, shuts down cleanly, and its
    supervisor (compose restarts on any exit; so does ``newsflow run``) starts it again, which
    creates the groups afresh. ``watched``: the consumers, or the broker they are attached to."""
    while True:
        await asyncio.sleep(interval_s)
        subjects: list[Any] = (list(watched.subscribers) if isinstance(watched, RedisBroker)
                               else list(watched))
        stopped = [s for s in subjects if not s.running]
        if stopped:
            log.critical("consumer.stopped", action="exiting to be restarted",
                         subscribers=[str(s) for s in stopped])
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


def _entries(reply: Any, attempts: int | None) -> list[Entry]:
    """Entries of an XREADGROUP/XAUTOCLAIM reply: ``[(stream, [(id, fields), ...]), ...]``."""
    return [Entry(_text(entry_id), fields, attempts or 1)
            for _, batch in reply or () for entry_id, fields in batch]


def _dead_letter(entry: Entry, error: BaseException, stream: str) -> dict[FieldT, EncodableT]:
    record: dict[FieldT, EncodableT] = dict(entry.fields.items())
    record["dlq_stream"] = stream
    record["dlq_entry_id"] = entry.id
    record["dlq_attempts"] = str(entry.attempts)
    record["dlq_error"] = _describe(error)
    record["dlq_time_ms"] = str(int(time.time() * 1000))
    return record


def _describe(error: BaseException | None) -> str:
    """One readable line; bytes that are not UTF-8 are shown escaped (``b'\\xff'``)."""
    if error is None:
        return ""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, UnicodeDecodeError):
        text += f" in {error.object[max(0, error.start - 16):error.end + 16]!r}"
    return text[:2000]


def _id_key(entry_id: Any) -> tuple[int, int]:
    ms, _, seq = _text(entry_id).partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
