"""The delivery queue on the real Redis: one claim per delivery across replicas, leases, kills."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis

from shared.redis_packing import HiredisPackedConnection

from deliver.queue import Delivery, DeliveryQueue, delivery_id

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("NEWSFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    client = Redis.from_url(REDIS_URL)
    prefix = f"test-{secrets.token_hex(4)}:"
    yield client, prefix
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def delivery(n: int, uri: str | None = None, kind: str = "article.published",
             sub: str = "sub_a") -> Delivery:
    event = f"evt{n:04d}"
    return Delivery(id=delivery_id(sub, event), subscription=sub, type=kind, event_id=event,
                    entry_id=f"{n}-0", uri=uri or f"urn:q:{n}", published_ms=0, body=b"{}")


async def test_replicas_racing_claim_each_delivery_once(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    replicas = [DeliveryQueue(client, prefix) for _ in range(4)]
    await replicas[0].enqueue([delivery(n) for n in range(200)])

    async def drain(queue: DeliveryQueue) -> list[str]:
        got: list[str] = []
        while True:
            claimed, _ = await queue.claim("sub_a", 7, lease_ms=60_000)
            if not claimed:
                return got
            got.extend(d.id for d in claimed)

    results = await asyncio.gather(*(drain(q) for q in replicas))
    everything = [i for r in results for i in r]
    assert len(everything) == 200 and len(set(everything)) == 200


async def test_an_unfinished_claim_comes_back_after_its_lease(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(1)])
    claimed, _ = await queue.claim("sub_a", 10, lease_ms=200)
    assert len(claimed) == 1
    assert (await queue.claim("sub_a", 10, lease_ms=200))[0] == []  # leased: invisible
    await asyncio.sleep(0.3)  # the replica that claimed it died
    again, _ = await queue.claim("sub_a", 10, lease_ms=200)
    assert [d.id for d in again] == [claimed[0].id]


async def test_a_sent_delivery_is_not_queued_again(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    assert await queue.enqueue([delivery(1)]) == (1, 0)
    assert await queue.enqueue([delivery(1)]) == (0, 0)  # a re-read entry: no duplicate
    (claimed,), _ = await queue.claim("sub_a", 10, lease_ms=1000)
    await queue.complete_and_claim("sub_a", [claimed], 0, lease_ms=0)
    assert await queue.enqueue([delivery(1)]) == (0, 0)
    assert await queue.depth("sub_a") == 0


async def test_a_repeat_leaves_no_record_behind_and_keeps_the_history(
        redis: tuple[Redis, str]) -> None:
    """Records are written before the script decides: one it does not queue is removed."""
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    first = queue.key("sub_a", "first")
    await queue.enqueue([delivery(1), delivery(2)])
    claimed, _ = await queue.claim("sub_a", 10, lease_ms=60_000)
    done, retried = sorted(claimed, key=lambda d: d.id)
    await queue.complete_and_claim("sub_a", [done], 0, lease_ms=0)
    retried.attempts.append({"at": "t", "status": 503, "error": None, "duration_ms": 1})
    assert await queue.retry(retried, 0, status=503)
    assert await queue.enqueue([delivery(1), delivery(2)]) == (0, 0)  # a re-read entry
    assert await client.hlen(first) == 0  # neither the sent one nor a stale first version
    assert await queue.record(done.id) is None
    (again,), _ = await queue.claim("sub_a", 10, lease_ms=60_000)
    assert again.id == retried.id and [a["status"] for a in again.attempts] == [503]

    await queue.drop_subscription("sub_a")
    assert await queue.enqueue([delivery(3)]) == (0, 0)
    assert await client.exists(first) == 0


async def test_a_queue_written_by_an_older_version_is_claimed_and_settled(
        redis: tuple[Redis, str]) -> None:
    """Until first existed, a queued record was in rec: such queues are picked up as they are."""
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    old = delivery(1)
    await client.hset(queue.key("sub_a", "rec"), old.id, old.to_json())
    await client.zadd(queue.key("sub_a", "due"), {old.id: 0})
    await client.sadd(queue.story_key("sub_a", old.uri), old.id)
    (claimed,), _ = await queue.claim("sub_a", 10, lease_ms=60_000)
    assert claimed == old
    await queue.complete_and_claim("sub_a", [claimed], 0, lease_ms=0)
    assert await queue.record(old.id) is None and await queue.depth("sub_a") == 0
    assert await queue.enqueue([delivery(1)]) == (0, 0)  # sent: not queued again


async def test_a_kill_drops_queued_versions_of_its_story_only(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(1, "urn:killed"), delivery(2, "urn:killed"),
                         delivery(3, "urn:kept")])
    (first, *_), _ = await queue.claim("sub_a", 1, lease_ms=10_000)  # one is in flight
    assert await queue.got_story(["sub_a", "sub_b"], "urn:killed") == ["sub_a"]
    assert await queue.enqueue([delivery(4, "urn:killed", "article.killed")]) == (1, 2)
    assert not await queue.retry(first, 0)  # the in-flight version fails: not retried
    claimed, _ = await queue.claim("sub_a", 10, lease_ms=10_000)
    assert sorted(d.type + " " + d.uri for d in claimed) == [
        "article.killed urn:killed", "article.published urn:kept"]


async def test_a_kill_drops_versions_queued_earlier_in_its_own_batch(
        redis: tuple[Redis, str]) -> None:
    """The records of a batch are written before its script runs: a kill in the batch still
    drops the versions before it (records too), and a repeat in the batch is still a no-op."""
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    batch = [delivery(1, "urn:killed"), delivery(2, "urn:kept"), delivery(2, "urn:kept"),
             delivery(3, "urn:killed", "article.killed"), delivery(4, "urn:killed")]
    assert await queue.enqueue(batch) == (4, 1)
    assert await queue.record(delivery(1).id) is None
    claimed, _ = await queue.claim("sub_a", 10, lease_ms=10_000)
    assert sorted(d.id for d in claimed) == sorted(delivery(n).id for n in (2, 3, 4))
    assert await queue.got_story(["sub_a"], "urn:kept") == ["sub_a"]


async def test_a_copy_is_kept_only_of_what_this_queue_queued(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    here, there = DeliveryQueue(client, prefix), DeliveryQueue(client, prefix)
    theirs, again = delivery(1), delivery(1)
    await there.enqueue([theirs])
    assert await here.enqueue([again]) == (0, 0)
    assert here._fresh == {} and here._fresh_bytes == 0
    await here.enqueue([delivery(2)])  # a copy kept here, and none of the first
    claimed, _ = await here.claim("sub_a", 10, lease_ms=10_000)
    (read,) = [d for d in claimed if d.id == theirs.id]
    assert read is not again and read == theirs  # read back from Redis


async def test_a_queue_without_copies_claims_the_records_as_stored(
        redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    writer = DeliveryQueue(client, prefix)
    queued = [delivery(n) for n in range(30)]
    await writer.enqueue(queued)
    (retried,), _ = await writer.claim("sub_a", 1, lease_ms=60_000)
    retried.attempts.append({"at": "t", "status": 500, "error": None, "duration_ms": 2})
    assert await writer.retry(retried, 0, status=500)
    reader = DeliveryQueue(client, prefix)  # a replica that queued none of them
    claimed: list[Delivery] = []
    while batch := (await reader.claim("sub_a", 7, lease_ms=60_000))[0]:
        claimed += batch
    assert sorted(d.to_json() for d in claimed) == sorted(
        (retried if d.id == retried.id else d).to_json() for d in queued)
    assert [d.attempts for d in claimed if d.id == retried.id] == [retried.attempts]


async def test_dead_letters_replay_once_with_their_history(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(1)])
    (d,), _ = await queue.claim("sub_a", 10, lease_ms=10_000)
    d.attempts.append({"at": "t", "status": 500, "error": None, "duration_ms": 3})
    assert await queue.dead_letter(d, "failed 1 attempts")
    assert not await queue.replay(delivery(2).id)
    (dead,) = await queue.list("sub_a", "dead", 10)
    assert dead.status == "dead" and dead.attempts[0]["status"] == 500
    assert await queue.replay(d.id)
    assert not await queue.replay(d.id)  # no longer dead
    (again,), _ = await queue.claim("sub_a", 10, lease_ms=10_000)
    assert again.attempts[0]["status"] == 500 and again.attempts[-1]["replayed"]


async def test_a_kill_also_drops_dead_letters_of_its_story(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(1, "urn:killed"), delivery(2, "urn:kept")])
    claimed, _ = await queue.claim("sub_a", 10, lease_ms=10_000)
    for d in claimed:
        assert await queue.dead_letter(d, "failed")
    await queue.enqueue([delivery(3, "urn:killed", "article.killed")])
    assert [d.uri for d in await queue.list("sub_a", "dead", 10)] == ["urn:kept"]
    assert await queue.dead_ids("sub_a") == [delivery(2).id]


async def test_nothing_is_queued_for_a_deleted_subscription(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(1)])
    await queue.drop_subscription("sub_a")
    # a replica that has not heard of the deletion yet
    assert await queue.enqueue([delivery(2), delivery(3, sub="sub_b")]) == (1, 0)
    assert await queue.depth("sub_a") == 0 and await queue.depth("sub_b") == 1


async def test_a_renewed_lease_keeps_a_delivery_from_other_replicas(
        redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    here, there = DeliveryQueue(client, prefix), DeliveryQueue(client, prefix)
    await here.enqueue([delivery(1), delivery(2)])
    claimed, _ = await here.claim("sub_a", 10, lease_ms=300)
    assert len(claimed) == 2
    await here.complete_and_claim("sub_a", [claimed[1]], 0, lease_ms=0)
    for _ in range(4):  # 0.8 s in all: well past the first lease
        await asyncio.sleep(0.2)
        await here.renew("sub_a", [d.id for d in claimed], lease_ms=300)
        assert (await there.claim("sub_a", 10, lease_ms=300))[0] == []
    assert await here.depth("sub_a") == 1  # renewing did not bring back the completed one


async def test_per_subscription_stats_are_kept_in_redis(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(n) for n in range(4)])
    a, b, c, d = (await queue.claim("sub_a", 10, lease_ms=60_000))[0]
    await queue.complete_and_claim("sub_a", [a, b], 0, lease_ms=0)
    await queue.retry(c, 10, status=503)
    await queue.dead_letter(d, "failed 5 attempts", status=500)
    stats = await queue.stats("sub_a")
    assert (stats["delivered"], stats["failed_attempts"], stats["dead_lettered"]) == (2, 2, 1)
    assert stats["last_status"] == 500
    assert stats["last_delivered_ms"] > 0 and stats["last_failed_ms"] >= stats["last_delivered_ms"]
    assert await client.exists(f"{prefix}webhooks:{{sub_a}}:stats")  # the documented key


async def test_a_claim_sends_the_copy_queued_here_only_while_the_record_is_unchanged(
        redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    here, there = DeliveryQueue(client, prefix), DeliveryQueue(client, prefix)
    mine, theirs = delivery(1), delivery(2)
    await here.enqueue([mine])
    await there.enqueue([theirs])
    claimed, _ = await here.claim("sub_a", 10, lease_ms=60_000)
    by_id = {d.id: d for d in claimed}
    assert by_id.keys() == {mine.id, theirs.id}
    assert by_id[mine.id] is mine  # never attempted: the copy made when queueing it
    assert by_id[theirs.id] is not theirs and by_id[theirs.id] == theirs  # read from Redis

    # A copy goes stale once an attempt is settled elsewhere: the record is read instead.
    stale = delivery(3)
    await here.enqueue([stale])
    (taken,), _ = await there.claim("sub_a", 10, lease_ms=60_000)
    assert taken.id == stale.id and taken is not stale
    taken.attempts.append({"at": "t", "status": 503, "error": None, "duration_ms": 1})
    assert await there.retry(taken, 0, status=503)
    (again,), _ = await here.claim("sub_a", 10, lease_ms=60_000)
    assert again is not stale and [a["status"] for a in again.attempts] == [503]


async def test_copies_kept_for_claims_are_bounded_in_bytes(
        redis: tuple[Redis, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client, prefix = redis
    monkeypatch.setattr("deliver.queue.FRESH_BYTES_MAX", 1000)
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(n) for n in range(40)])
    assert 0 < queue._fresh_bytes <= 1000 and len(queue._fresh) < 40
    claimed, _ = await queue.claim("sub_a", 100, lease_ms=60_000)
    assert sorted(d.id for d in claimed) == sorted(delivery(n).id for n in range(40))
    assert queue._fresh == {} and queue._fresh_bytes == 0


async def test_a_body_shared_by_subscriptions_counts_once_towards_the_copies_cap(
        redis: tuple[Redis, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client, prefix = redis
    body = orjson.dumps({"data": "x" * 5000})  # one object, as the fan-out shares it
    story = [Delivery(id=delivery_id(f"sub_{s}", "evt1"), subscription=f"sub_{s}",
                      type="article.published", event_id="evt1", entry_id="1-0", uri="urn:q:1",
                      published_ms=0, body=body) for s in range(10)]
    monkeypatch.setattr("deliver.queue.FRESH_BYTES_MAX", 3 * len(story[0].to_json()))
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue(story)
    assert len(queue._fresh) == 10  # 10 records of 5 KB: one body of 5 KB and ten small heads
    assert queue._fresh_bytes < 2 * len(story[0].to_json())
    for d in story[:9]:  # a copy is dropped as it is claimed; the body counts until the last
        claimed, _ = await queue.claim(d.subscription, 10, lease_ms=60_000)
        assert [c.id for c in claimed] == [d.id]
    assert queue._fresh_bytes > len(body)
    await queue.claim(story[9].subscription, 10, lease_ms=60_000)
    assert queue._fresh == {} and queue._fresh_bytes == 0 and queue._fresh_bodies == {}


@pytest.mark.parametrize("packed", [False, True])
async def test_a_record_is_queued_with_its_body_as_it_is(
        redis: tuple[Redis, str], packed: bool) -> None:
    """A story's body is encoded once for all its subscriptions and its parts joined as they
    are sent (by deliver's packing connection, or before): each record as queued is its other
    fields' JSON, a newline and the body's own bytes, which another replica reads back whole."""
    client, prefix = redis
    writer = (Redis.from_url(REDIS_URL, connection_class=HiredisPackedConnection) if packed
              else client)
    queue = DeliveryQueue(writer, prefix)
    body = ('{"type":"article.published","data":{"headline":"\\"Quoted\\" ☃\\u0000\\n",'
            '"text":"' + "long enough to go out as it is " * 50 + '"},\n "pretty": true}'
            ).encode()
    deliveries = [Delivery(id=delivery_id(sub, "evt1"), subscription=sub,
                           type="article.published", event_id="evt1", entry_id="7-0",
                           uri='urn:ü:"1"\x00\n', published_ms=7, body=body)
                  for sub in ("sub_a", "sub_b")]
    await queue.enqueue(deliveries)
    for d in deliveries:
        raw = await client.hget(queue.key(d.subscription, "first"), d.id)
        assert raw.endswith(b"\n" + body)  # not escaped
        assert await queue.record(d.id) == d
    claimed, _ = await DeliveryQueue(client, prefix).claim("sub_b", 10, lease_ms=60_000)
    assert claimed == [deliveries[1]]
    if packed:
        await writer.aclose()


async def test_one_call_marks_deliveries_delivered_and_claims_the_next(
        redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    queue = DeliveryQueue(client, prefix)
    await queue.enqueue([delivery(n) for n in range(5)])
    first, _ = await queue.claim("sub_a", 2, lease_ms=60_000)
    claimed, _ = await queue.complete_and_claim("sub_a", first, 2, lease_ms=60_000)
    assert {d.id for d in claimed} == {delivery(2).id, delivery(3).id}
    assert (await queue.stats("sub_a"))["delivered"] == 2
    assert await queue.depth("sub_a") == 3  # the two just claimed and the one left
    assert await queue.enqueue(first) == (0, 0)  # delivered: never queued again
    rest, wait = await queue.complete_and_claim("sub_a", claimed, 0, lease_ms=60_000)
    assert rest == [] and wait is None  # nothing asked for: nothing claimed
    assert (await queue.stats("sub_a"))["delivered"] == 4 and await queue.depth("sub_a") == 1
