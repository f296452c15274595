"""Consumer-group plumbing on the real Redis: emit-then-ack, retry, dead-letter, reclaim."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import structlog
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from typer.testing import CliRunner

from shared.article import Article, Source
from shared.events import INGESTED_STREAM, ArticleEnriched, ArticleIngested, Event
from shared.observability import Metrics
from shared.settings import Settings
from shared.streams import (
    BatchHandler,
    Entry,
    GroupConsumer,
    Outcome,
    StreamTrimmer,
    ensure_group,
)

from newsflow_cli.main import app as cli

pytestmark = pytest.mark.integration

FAST = Settings(batch_size=10, block_ms=50, reclaim_idle_ms=1500, reclaim_interval_ms=50,
                max_attempts=3)


def _event(n: int) -> ArticleIngested:
    article = Article(uri=f"urn:test:{n}", version=1, source=Source(provider="t", format="json"),
                      headlines=[{"value": f"Story {n}"}])
    return ArticleIngested.for_article(article, "test")  # type: ignore[return-value]


async def _wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


class Consumer:
    def __init__(self, aredis: Redis, redis_url: str, stream: str, out: str) -> None:
        self.aredis, self.redis_url, self.stream, self.out = aredis, redis_url, stream, out
        self.seen: list[tuple[str, int]] = []
        self.fail: dict[str, int] = {}  # subject -> times to fail before succeeding
        self.refuse: set[str] = set()  # subjects treated as poison

    async def handle(self, entries: list[Entry]) -> list[Outcome]:
        outcomes = []
        for entry in entries:
            try:
                event = Event.from_fields(entry.fields)
            except ValueError as exc:
                outcomes.append(Outcome.failed(exc, poison=True))
                continue
            self.seen.append((event.subject, entry.attempts))
            if event.subject in self.refuse:
                outcomes.append(Outcome.failed(ValueError("refused"), poison=True))
                continue
            if self.fail.get(event.subject, 0) > 0:
                self.fail[event.subject] -= 1
                outcomes.append(Outcome.failed(RuntimeError("transient")))
                continue
            enriched = ArticleEnriched.follow(event, event.article(), "test")
            outcomes.append(Outcome(emit=[(self.out, enriched)]))
        return outcomes

    async def start(self, settings: Settings = FAST) -> RedisBroker:
        """Attached to a FastStream broker, as the services run it."""
        await ensure_group(self.aredis, self.stream, "g")
        broker = RedisBroker(self.redis_url, logger=None)
        self.group_consumer(settings).attach(broker)
        await broker.start()
        return broker

    def group_consumer(self, settings: Settings = FAST, name: str | None = None,
                       handler: BatchHandler | None = None,
                       read_size: Callable[[], int | None] | None = None) -> GroupConsumer:
        self.metrics = Metrics("test")
        return GroupConsumer(redis=self.aredis, stream=self.stream, group="g",
                             handler=handler or self.handle, settings=settings,
                             metrics=self.metrics, consumer=name, read_size=read_size)


@pytest.fixture
async def consumer(aredis: Redis, redis_url: str, prefix: str) -> AsyncIterator[Consumer]:
    yield Consumer(aredis, redis_url, prefix + INGESTED_STREAM, prefix + "out")


async def test_each_entry_is_emitted_then_acknowledged(consumer: Consumer, aredis: Redis) -> None:
    broker = await consumer.start()
    try:
        for n in range(25):
            await aredis.xadd(consumer.stream, _event(n).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.out, 25))
        pending = await aredis.xpending(consumer.stream, "g")
        assert pending["pending"] == 0
        out = [Event.from_fields(f) for _, f in await aredis.xrange(consumer.out)]
        assert sorted(e.subject for e in out) == sorted(f"urn:test:{n}" for n in range(25))
        assert all(e.type == "news.article.enriched" for e in out)
    finally:
        await broker.stop()


async def test_poison_goes_to_dead_letter_at_once_and_the_next_entry_flows(
        consumer: Consumer, aredis: Redis) -> None:
    broker = await consumer.start()
    try:
        await aredis.xadd(consumer.stream, {"ce_type": "nonsense", "data": "{"})
        await aredis.xadd(consumer.stream, _event(1).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.out, 1))
        await _wait_for(lambda: _length(aredis, consumer.stream + ".dlq", 1))
        [(_, dead)] = await aredis.xrange(consumer.stream + ".dlq")
        assert dead[b"dlq_attempts"] == b"1"
        assert b"ce_type" in dead[b"dlq_error"] or b"unknown" in dead[b"dlq_error"]
        assert dead[b"data"] == b"{"  # the original entry is kept for replay
        assert (await aredis.xpending(consumer.stream, "g"))["pending"] == 0
    finally:
        await broker.stop()


async def test_the_dead_letter_stream_keeps_the_newest_up_to_its_cap(
        consumer: Consumer, aredis: Redis) -> None:
    broker = await consumer.start(FAST.model_copy(update={"dlq_maxlen": 2}))
    try:
        for n in range(4):
            await aredis.xadd(consumer.stream, {"ce_type": "nonsense", "data": f"{n}"})
        await aredis.xadd(consumer.stream, _event(1).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.out, 1))
        kept = [fields[b"data"] for _, fields in await aredis.xrange(consumer.stream + ".dlq")]
        assert kept == [b"2", b"3"]
    finally:
        await broker.stop()


async def test_a_transient_failure_is_retried_by_the_reclaimer(
        consumer: Consumer, aredis: Redis) -> None:
    consumer.fail["urn:test:7"] = 2
    broker = await consumer.start()
    try:
        await aredis.xadd(consumer.stream, _event(7).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.out, 1))
        assert [a for s, a in consumer.seen if s == "urn:test:7"] == [1, 2, 3]
        assert await aredis.xlen(consumer.stream + ".dlq") == 0
    finally:
        await broker.stop()


async def test_after_max_attempts_the_entry_is_dead_lettered_with_its_attempts(
        consumer: Consumer, aredis: Redis) -> None:
    consumer.fail["urn:test:9"] = 99
    broker = await consumer.start()
    try:
        await aredis.xadd(consumer.stream, _event(9).to_fields())
        await aredis.xadd(consumer.stream, _event(10).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.stream + ".dlq", 1))
        [(_, dead)] = await aredis.xrange(consumer.stream + ".dlq")
        assert dead[b"dlq_attempts"] == str(FAST.max_attempts).encode()
        assert dead[b"ce_subject"] == b"urn:test:9"
        assert await aredis.xlen(consumer.out) == 1  # story 10 went through meanwhile
    finally:
        await broker.stop()


async def test_a_consumer_killed_mid_batch_loses_nothing(
        consumer: Consumer, aredis: Redis, redis_url: str) -> None:
    await ensure_group(aredis, consumer.stream, "g")
    for n in range(5):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    script = Path(__file__).with_name("consumer_process.py")
    victim = subprocess.Popen([sys.executable, str(script), redis_url, consumer.stream, "g",
                               "victim"])
    try:
        await _wait_for(lambda: _exists(aredis, consumer.stream + ":taken"), timeout=30)
        victim.kill()  # SIGKILL while the batch is in its handler
        victim.wait(5)
        pending = await aredis.xpending(consumer.stream, "g")
        assert pending["pending"] == 5  # left pending by the crash, not lost
    finally:
        if victim.poll() is None:
            victim.kill()
    broker = await consumer.start()
    try:
        await _wait_for(lambda: _length(aredis, consumer.out, 5), timeout=15)
        assert sorted(s for s, _ in consumer.seen) == sorted(f"urn:test:{n}" for n in range(5))
        assert all(attempts == 2 for _, attempts in consumer.seen)
        assert (await aredis.xpending(consumer.stream, "g"))["pending"] == 0
    finally:
        await broker.stop()


async def test_trimming_keeps_what_a_group_has_not_acknowledged(aredis: Redis,
                                                               prefix: str) -> None:
    stream = prefix + "trim"
    await ensure_group(aredis, stream, "slow")
    await ensure_group(aredis, stream, "fast")
    ids = [await aredis.xadd(stream, {"n": str(n)}) for n in range(10)]
    await aredis.xreadgroup("fast", "c", {stream: ">"}, count=10)
    await aredis.xack(stream, "fast", *ids)
    await aredis.xreadgroup("slow", "c", {stream: ">"}, count=4)
    await aredis.xack(stream, "slow", *ids[:2])  # slow: 2 acked, 2 pending, 6 unread

    removed = await StreamTrimmer(aredis, [stream], Metrics("test")).trim(stream)

    assert removed == 2
    left = [entry_id for entry_id, _ in await aredis.xrange(stream)]
    assert left == ids[2:]


async def _length(client: Redis, stream: str, n: int) -> bool:
    return int(await client.xlen(stream)) >= n


async def _pending(client: Redis, stream: str, n: int) -> bool:
    return int((await client.xpending(stream, "g"))["pending"]) == n


async def _any(found: Awaitable[list[int]]) -> bool:
    return bool(await found)


async def _exists(client: Redis, key: str) -> bool:
    return bool(await client.exists(key))


async def test_idle_consumers_with_nothing_pending_are_forgotten(
        aredis: Redis, prefix: str) -> None:
    stream = prefix + "consumers"
    await ensure_group(aredis, stream, "g")
    await aredis.xadd(stream, {"n": "1"})
    await aredis.xadd(stream, {"n": "2"})
    await aredis.xadd(stream, {"n": "3"})
    await aredis.xreadgroup("g", "gone-with-work", {stream: ">"}, count=1)
    [(_, [(done, _)])] = await aredis.xreadgroup("g", "gone-idle", {stream: ">"}, count=1)
    await aredis.xack(stream, "g", done)
    await asyncio.sleep(1.0)
    [(_, [(recent, _)])] = await aredis.xreadgroup("g", "alive", {stream: ">"}, count=1)
    await aredis.xack(stream, "g", recent)
    pending_before = await aredis.xpending(stream, "g")

    trimmer = StreamTrimmer(aredis, [stream], Metrics("test"), forget_consumers_ms=700)
    await trimmer.trim(stream)
    left = {c["name"].decode() for c in await aredis.xinfo_consumers(stream, "g")}
    assert left == {"gone-with-work", "alive"}  # its pending entry must stay claimable
    assert await aredis.xpending(stream, "g") == pending_before


async def test_dead_letters_are_listed_and_replayed_from_the_cli(
        consumer: Consumer, aredis: Redis, redis_url: str, prefix: str) -> None:
    consumer.refuse.add("urn:test:5")
    broker = await consumer.start()
    try:
        await aredis.xadd(consumer.stream, _event(5).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.stream + ".dlq", 1))
        env = {"NEWSFLOW_REDIS_URL": redis_url, "NEWSFLOW_STREAM_PREFIX": prefix}
        listed = await asyncio.to_thread(
            CliRunner().invoke, cli, ["dead-letters", "list", INGESTED_STREAM, "--json"], env=env)
        assert listed.exit_code == 0, listed.output
        [letter] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert (letter["subject"], letter["attempts"]) == ("urn:test:5", 1)
        assert letter["error"] == "ValueError: refused"

        consumer.refuse.clear()  # the defect is fixed
        replayed = await asyncio.to_thread(
            CliRunner().invoke, cli, ["dead-letters", "replay", INGESTED_STREAM, "--all"], env=env)
        assert replayed.exit_code == 0, replayed.output
        await _wait_for(lambda: _length(aredis, consumer.out, 1))
        assert await aredis.xlen(consumer.stream + ".dlq") == 0
        [(_, fields)] = await aredis.xrange(consumer.out)
        assert Event.from_fields(fields).subject == "urn:test:5"

        again = await asyncio.to_thread(
            CliRunner().invoke, cli, ["dead-letters", "replay", INGESTED_STREAM, letter["id"]],
            env=env)
        assert again.exit_code == 1 and f"no dead letter {letter['id']}" in again.stderr
    finally:
        await broker.stop()



async def test_an_entry_that_is_not_utf8_is_dead_lettered_at_once_and_its_batch_flows(
        consumer: Consumer, aredis: Redis) -> None:
    await ensure_group(aredis, consumer.stream, "g")
    await aredis.xadd(consumer.stream, _event(1).to_fields())
    bad = await aredis.xadd(consumer.stream, {"ce_type": b"\xff\xfe\xfa", "data": b"\xc3\x28"})
    for n in range(2, 6):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    # One batch holds them all; no reclaim within the test: only a direct path can pass.
    group_consumer = consumer.group_consumer(FAST.model_copy(update={"reclaim_idle_ms": 600_000}))
    with structlog.testing.capture_logs() as logs:
        async with _running(consumer.redis_url, group_consumer):
            await _wait_for(lambda: _length(aredis, consumer.out, 5), timeout=3)
            await _wait_for(lambda: _length(aredis, consumer.stream + ".dlq", 1), timeout=3)
    [(_, dead)] = await aredis.xrange(consumer.stream + ".dlq")
    assert dead[b"ce_type"] == b"\xff\xfe\xfa" and dead[b"data"] == b"\xc3\x28"  # kept as sent
    assert dead[b"dlq_entry_id"] == bad
    assert rb"ce_type: not UTF-8 at byte 0: b'\xff\xfe\xfa'" in dead[b"dlq_error"]
    assert (await aredis.xpending(consumer.stream, "g"))["pending"] == 0
    assert _sample(group_consumer.metrics, "newsflow_dead_letters_total") == 1
    assert _sample(group_consumer.metrics, "newsflow_events_failed_total",
                   reason="poison") == 1
    assert [entry["entry_id"] for entry in logs
            if entry["event"] == "entry.dead_lettered"] == [bad.decode()]


async def test_a_handler_that_raises_for_its_batch_is_retried_entry_by_entry(
        consumer: Consumer, aredis: Redis) -> None:
    async def fragile(entries: list[Entry]) -> list[Outcome]:
        if any(b"ce_type" not in e.fields for e in entries):
            raise KeyError("ce_type")  # a defect: one odd entry sinks the whole call
        return await consumer.handle(entries)

    await ensure_group(aredis, consumer.stream, "g")
    await aredis.xadd(consumer.stream, {"junk": "1"})
    for n in range(3):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    group_consumer = consumer.group_consumer(
        FAST.model_copy(update={"reclaim_idle_ms": 600_000, "max_attempts": 1}), handler=fragile)
    async with _running(consumer.redis_url, group_consumer):
        await _wait_for(lambda: _length(aredis, consumer.out, 3), timeout=3)
        await _wait_for(lambda: _length(aredis, consumer.stream + ".dlq", 1), timeout=3)
    [(_, dead)] = await aredis.xrange(consumer.stream + ".dlq")
    assert dead[b"junk"] == b"1" and dead[b"dlq_error"] == b"KeyError: 'ce_type'"


async def test_entries_in_hand_longer_than_the_reclaim_idle_time_are_not_taken_over(
        consumer: Consumer, aredis: Redis) -> None:
    settings = FAST.model_copy(update={"reclaim_idle_ms": 300, "reclaim_interval_ms": 50})
    handled: list[tuple[str, str]] = []
    taken = asyncio.Event()

    def slow(name: str) -> BatchHandler:
        async def handle(entries: list[Entry]) -> list[Outcome]:
            handled.extend((name, e.id) for e in entries)
            taken.set()
            await asyncio.sleep(1.5)  # five times the reclaim idle time
            return await consumer.handle(entries)
        return handle

    await ensure_group(aredis, consumer.stream, "g")
    for n in range(10):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    first = consumer.group_consumer(settings, "first", slow("first"))
    second = consumer.group_consumer(settings, "second", slow("second"))
    async with _running(consumer.redis_url, first):
        await asyncio.wait_for(taken.wait(), 3)
        async with _running(consumer.redis_url, second):  # reclaims what is idle for 300 ms
            await _wait_for(lambda: _length(aredis, consumer.out, 10), timeout=5)
            await _wait_for(lambda: _none_pending(aredis, consumer.stream), timeout=3)
    ids = [entry_id for _, entry_id in handled]
    assert len(ids) == 10 and len(set(ids)) == 10, handled
    assert await aredis.xlen(consumer.out) == 10
    assert _sample(second.metrics, "newsflow_reclaimed_total") == 0


async def test_a_replica_holds_one_batch_at_most_so_a_burst_is_shared(
        consumer: Consumer, aredis: Redis) -> None:
    settings = FAST.model_copy(update={"batch_size": 10, "concurrent_batches": 2,
                                       "reclaim_idle_ms": 600_000})
    release = asyncio.Event()
    handled: dict[str, int] = {"busy": 0, "idle": 0}

    def handler(name: str, wait: bool) -> BatchHandler:
        async def handle(entries: list[Entry]) -> list[Outcome]:
            handled[name] += len(entries)
            if wait:
                await release.wait()
            return await consumer.handle(entries)
        return handle

    await ensure_group(aredis, consumer.stream, "g")
    for n in range(30):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    busy = consumer.group_consumer(settings, "busy", handler("busy", wait=True))
    idle = consumer.group_consumer(settings, "idle", handler("idle", wait=False))
    async with _running(consumer.redis_url, busy):
        await _wait_for(lambda: _true(handled["busy"] == 10), timeout=3)
        async with _running(consumer.redis_url, idle):
            # The busy one read ahead no further than its one batch: the rest is the other's.
            await _wait_for(lambda: _true(handled["idle"] == 20), timeout=5)
            release.set()
            await _wait_for(lambda: _length(aredis, consumer.out, 30), timeout=5)


async def test_in_a_burst_the_next_batch_is_read_while_the_first_is_in_hand(
        consumer: Consumer, aredis: Redis) -> None:
    settings = FAST.model_copy(update={"batch_size": 10, "concurrent_batches": 2,
                                       "reclaim_idle_ms": 600_000})
    release = asyncio.Event()
    batches: list[int] = []

    async def handle(entries: list[Entry]) -> list[Outcome]:
        batches.append(len(entries))
        if len(batches) == 1:
            await release.wait()  # the first batch stays in hand
        return await consumer.handle(entries)

    await ensure_group(aredis, consumer.stream, "g")
    for n in range(30):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    reader = consumer.group_consumer(settings, "one", handle)
    async with _running(consumer.redis_url, reader):
        # Read whole, the burst's first batch would leave no room for a second one.
        await _wait_for(lambda: _true(len(batches) >= 2), timeout=3)
        assert len(reader.in_flight) <= settings.batch_size
        release.set()
        await _wait_for(lambda: _length(aredis, consumer.out, 30), timeout=5)


async def test_a_handler_that_asks_for_smaller_reads_gets_them_within_the_limits(
        consumer: Consumer, aredis: Redis) -> None:
    settings = FAST.model_copy(update={"batch_size": 10, "concurrent_batches": 2,
                                       "reclaim_idle_ms": 600_000})
    wanted: list[int | None] = [3]
    batches: list[int] = []

    async def handle(entries: list[Entry]) -> list[Outcome]:
        batches.append(len(entries))
        if len(batches) == 2:
            wanted[0] = 50  # more than one read's share of the batch size
        elif len(batches) == 4:
            wanted[0] = None  # no opinion: the share again
        await asyncio.sleep(0.05)  # the next read happens while this batch is in hand
        return await consumer.handle(entries)

    await ensure_group(aredis, consumer.stream, "g")
    for n in range(40):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    reader = consumer.group_consumer(settings, "one", handle, read_size=lambda: wanted[0])
    async with _running(consumer.redis_url, reader):
        await _wait_for(lambda: _length(aredis, consumer.out, 40), timeout=5)
    assert batches[:2] == [3, 3], batches
    assert max(batches) == 5, batches  # never more than a share of batch_size (10 / 2)
    assert sum(batches) == 40


async def test_a_story_arriving_at_an_idle_consumer_is_handled_at_once(
        consumer: Consumer, aredis: Redis) -> None:
    # Long blocking reads and big batches: neither may hold a lone story back.
    settings = FAST.model_copy(update={"block_ms": 4000, "batch_size": 100})
    async with _running(consumer.redis_url, consumer.group_consumer(settings)):
        await asyncio.sleep(0.2)  # the reader is blocked in XREADGROUP, nothing to read
        latencies = []
        for n in range(5):
            added = time.perf_counter()
            await aredis.xadd(consumer.stream, _event(n).to_fields())
            await _wait_for(lambda n=n: _length(aredis, consumer.out, n + 1), timeout=3)
            latencies.append(time.perf_counter() - added)
    assert max(latencies) < 0.5, latencies


async def test_a_lone_story_is_settled_at_once_in_the_round_trip_of_the_next_read(
        consumer: Consumer, aredis: Redis) -> None:
    # The acks travel with the next (blocking) read, yet Redis runs them before it blocks:
    # nothing waits for the read to end, and each story costs a read and a write, not three.
    settings = FAST.model_copy(update={"block_ms": 4000, "batch_size": 100})
    group_consumer = consumer.group_consumer(settings)
    trips = 0
    read, pipeline = aredis.xreadgroup, aredis.pipeline

    def counted(call: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            nonlocal trips
            trips += 1
            return call(*args, **kwargs)
        return wrapper

    group_consumer.redis.xreadgroup = counted(read)  # type: ignore[method-assign]
    group_consumer.redis.pipeline = counted(pipeline)  # type: ignore[method-assign]
    async with _running(consumer.redis_url, group_consumer):
        await asyncio.sleep(0.2)  # the reader is blocked in XREADGROUP, nothing to read
        for n in range(5):
            await aredis.xadd(consumer.stream, _event(n).to_fields())
            await _wait_for(lambda n=n: _length(aredis, consumer.out, n + 1), timeout=1)
            await _wait_for(lambda: _pending(aredis, consumer.stream, 0), timeout=1)
        assert trips <= 5 + 2, trips  # the first read, then one per story (and a spare)
    assert [a for _, a in consumer.seen] == [1] * 5


async def test_a_connection_lost_while_the_read_after_the_acks_blocks_emits_nothing_twice(
        consumer: Consumer, aredis: Redis, redis_url: str) -> None:
    settings = FAST.model_copy(update={"block_ms": 4000, "batch_size": 100})
    async with _running(consumer.redis_url, consumer.group_consumer(settings)), \
            Redis.from_url(redis_url) as admin:
        await asyncio.sleep(0.2)
        await aredis.xadd(consumer.stream, _event(0).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.out, 1), timeout=1)
        await _wait_for(lambda: _pending(aredis, consumer.stream, 0), timeout=1)

        async def reading() -> list[int]:  # the read sent with story 0's acks, blocked
            return [int(c["id"]) for c in await admin.client_list()
                    if c["cmd"] == "xreadgroup" and "b" in c["flags"]]

        await _wait_for(lambda: _any(reading()), timeout=1)
        for client_id in await reading():
            await admin.client_kill_filter(_id=client_id)
        await aredis.xadd(consumer.stream, _event(1).to_fields())
        await _wait_for(lambda: _length(aredis, consumer.out, 2), timeout=3)
        await asyncio.sleep(0.3)  # time enough for an emit sent again to show
        out = [Event.from_fields(f).subject for _, f in await aredis.xrange(consumer.out)]
    assert out == ["urn:test:0", "urn:test:1"]
    assert (await aredis.xpending(consumer.stream, "g"))["pending"] == 0


async def test_the_reclaimer_claims_in_batches_and_costs_one_call_when_nothing_is_idle(
        consumer: Consumer, aredis: Redis) -> None:
    settings = FAST.model_copy(update={"batch_size": 10, "reclaim_idle_ms": 200,
                                       "reclaim_interval_ms": 600_000})
    await ensure_group(aredis, consumer.stream, "g")
    for n in range(25):
        await aredis.xadd(consumer.stream, _event(n).to_fields())
    await aredis.xreadgroup("g", "dead", {consumer.stream: ">"}, count=25)  # then it died
    batches: list[int] = []

    async def handle(entries: list[Entry]) -> list[Outcome]:
        batches.append(len(entries))
        return await consumer.handle(entries)

    group_consumer = consumer.group_consumer(settings, handler=handle)
    calls = 0
    claim = aredis.xautoclaim

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return await claim(*args, **kwargs)  # type: ignore[arg-type]

    group_consumer.redis.xautoclaim = counted  # type: ignore[method-assign]
    assert await group_consumer.reclaim() == 0  # pending, but not idle long enough
    assert calls == 1 and batches == []
    await asyncio.sleep(0.3)
    assert await group_consumer.reclaim() == 25
    assert batches == [10, 10, 5]
    assert [a for _, a in consumer.seen] == [2] * 25  # the dead one's delivery counted
    assert (await aredis.xpending(consumer.stream, "g"))["pending"] == 0


async def test_stopping_finishes_the_batch_in_hand(consumer: Consumer, aredis: Redis) -> None:
    started = asyncio.Event()

    async def slow(entries: list[Entry]) -> list[Outcome]:
        started.set()
        await asyncio.sleep(0.5)
        return await consumer.handle(entries)

    group_consumer = consumer.group_consumer(handler=slow)
    await group_consumer.start()
    await aredis.xadd(consumer.stream, _event(1).to_fields())
    await asyncio.wait_for(started.wait(), 3)
    await group_consumer.stop()
    assert await aredis.xlen(consumer.out) == 1
    assert (await aredis.xpending(consumer.stream, "g"))["pending"] == 0


@contextlib.asynccontextmanager
async def _running(redis_url: str, *consumers: GroupConsumer) -> AsyncIterator[None]:
    """The consumers attached to a FastStream broker and run by it, as in the services."""
    broker = RedisBroker(redis_url, logger=None)
    for group_consumer in consumers:
        group_consumer.attach(broker)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def _true(value: bool) -> bool:
    return value


async def _none_pending(client: Redis, stream: str) -> bool:
    return int((await client.xpending(stream, "g"))["pending"]) == 0


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
