"""Consumer-group plumbing on the real Redis: emit-then-ack, retry, dead-letter, reclaim."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from typer.testing import CliRunner

from shared.article import Article, Source
from shared.events import INGESTED_STREAM, ArticleEnriched, ArticleIngested, Event
from shared.observability import Metrics
from shared.settings import Settings
from shared.streams import Entry, GroupConsumer, Outcome, StreamTrimmer, ensure_group

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
        await ensure_group(self.aredis, self.stream, "g")
        broker = RedisBroker(self.redis_url, logger=None)
        GroupConsumer(redis=self.aredis, stream=self.stream, group="g", handler=self.handle,
                      settings=settings, metrics=Metrics("test")).attach(broker)
        await broker.start()
        return broker


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

