"""Webhook fan-out across replicas: real Redis and a real MongoDB-wire store."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from shared.article import Article, Source
from shared.events import ArticlePublished
from shared.streams import Entry

from deliver.decoding import PUBLISH_SOURCE
from deliver.handlers import FanOut
from deliver.queue import DeliveryQueue
from deliver.registry import SubscriptionRegistry
from deliver.store import SubscriptionRecord, SubscriptionStore

pytestmark = pytest.mark.integration


def story_fields(uri: str, source: str = "test", language: str = "en") -> dict[bytes, bytes]:
    article = Article(uri=uri, version=1, source=Source(provider="t", format="json"),
                      language=language, headlines=[{"value": "Bridge reopens"}])
    return {k.encode(): v if isinstance(v, bytes) else str(v).encode()
            for k, v in ArticlePublished.for_article(article, source).to_fields().items()}


def new_record(subscription_id: str, created_ms: int,
               filters: dict[str, object] | None = None) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=subscription_id, url="https://example.com/hook", filters=filters or {}, enabled=True,
        description="", secret="whsec_x", previous_secret=None, previous_secret_expires_ms=0,
        created_ms=created_ms, updated_ms=created_ms, disabled_reason=None)


async def test_a_subscription_made_on_another_replica_gets_the_next_entry(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str) -> None:
    client, name = mongo_db
    store = SubscriptionStore(client, name)
    here = SubscriptionRegistry(store, aredis, key_prefix=prefix)
    there = SubscriptionRegistry(store, aredis, key_prefix=prefix)
    await here.load()
    await there.load()
    queue = DeliveryQueue(aredis, prefix)
    fan_out_there = FanOut(there, queue, lambda subscription: None, full_batch=100)

    now = int(time.time() * 1000)
    record = new_record("sub_new", now)
    await store.create(record)
    await here.changed(record, record.id)  # what the subscriptions API does on this replica

    fields = story_fields("urn:t:fan")
    [outcome] = await fan_out_there([Entry(f"{now + 50}-0", fields, 1)])
    assert outcome.error is None
    [queued] = await queue.list("sub_new", "queued", 10)
    assert queued.uri == "urn:t:fan"


async def test_with_no_subscription_entries_are_acknowledged_without_being_decoded(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str) -> None:
    client, name = mongo_db
    registry = SubscriptionRegistry(SubscriptionStore(client, name), aredis, key_prefix=prefix)
    await registry.load()
    fan_out = FanOut(registry, DeliveryQueue(aredis, prefix), lambda subscription: None,
                     full_batch=2, quiet_pause_s=3600)
    not_an_event = {b"ce_type": b"news.article.published", b"data": b"{not json"}
    outcomes = await fan_out([Entry("1-0", not_an_event, 1), Entry("2-0", {}, 1)])
    # Decoding would have found both poison; with nobody to deliver to they are not looked at.
    assert [(o.error, o.poison) for o in outcomes] == [(None, False), (None, False)]


async def test_with_no_subscription_a_small_batch_is_held_until_the_subscriptions_change(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str) -> None:
    """The pause that saves a round trip per story must not cost a subscription made meanwhile
    any story announced after it: the batch is matched once the pause ends."""
    client, name = mongo_db
    store = SubscriptionStore(client, name)
    registry = SubscriptionRegistry(store, aredis, key_prefix=prefix)
    await registry.load()
    queue = DeliveryQueue(aredis, prefix)
    fan_out = FanOut(registry, queue, lambda subscription: None, full_batch=100,
                     quiet_pause_s=3600)
    now = int(time.time() * 1000)
    held = asyncio.create_task(fan_out([Entry(f"{now + 50}-0", story_fields("urn:t:held"), 1)]))
    await asyncio.sleep(0.2)
    assert not held.done()

    record = new_record("sub_during_pause", now)
    await store.create(record)
    await registry.changed(record, record.id)
    [outcome] = await asyncio.wait_for(held, 30)
    assert outcome.error is None
    [queued] = await queue.list("sub_during_pause", "queued", 10)
    assert queued.uri == "urn:t:held"


async def test_a_stop_ends_the_pause_and_a_full_batch_is_never_held(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str) -> None:
    client, name = mongo_db
    registry = SubscriptionRegistry(SubscriptionStore(client, name), aredis, key_prefix=prefix)
    await registry.load()
    fan_out = FanOut(registry, DeliveryQueue(aredis, prefix), lambda subscription: None,
                     full_batch=2, quiet_pause_s=3600)
    full = [Entry("1-0", story_fields("urn:t:a"), 1), Entry("2-0", story_fields("urn:t:b"), 1)]
    outcomes = await asyncio.wait_for(fan_out(full), 30)
    assert [o.error for o in outcomes] == [None, None]

    held = asyncio.create_task(fan_out([Entry("3-0", story_fields("urn:t:c"), 1)]))
    await asyncio.sleep(0.2)
    assert not held.done()
    fan_out.stop()
    [outcome] = await asyncio.wait_for(held, 30)
    assert outcome.error is None


async def subscribed(mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str,
                     records: list[SubscriptionRecord]) -> tuple[FanOut, DeliveryQueue]:
    client, name = mongo_db
    store = SubscriptionStore(client, name)
    for record in records:
        await store.create(record)
    registry = SubscriptionRegistry(store, aredis, key_prefix=prefix)
    await registry.load()
    queue = DeliveryQueue(aredis, prefix)
    return FanOut(registry, queue, lambda subscription: None, full_batch=100), queue


async def test_publish_entries_still_match_content_filters(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str) -> None:
    """publish's data is decoded only for content filters, but then it is, and they apply."""
    fan_out, queue = await subscribed(mongo_db, aredis, prefix, [
        new_record("sub_en", 0, {"language": "en"}), new_record("sub_de", 0, {"language": "de"}),
        new_record("sub_all", 0)])
    english = story_fields("urn:t:en", source=PUBLISH_SOURCE)
    german = story_fields("urn:t:de", source=PUBLISH_SOURCE, language="de")
    outcomes = await fan_out([Entry("1-0", english, 1), Entry("2-0", german, 1)])
    assert [o.error for o in outcomes] == [None, None]
    got = {s: {d.uri: d for d in await queue.list(s, "queued", 10)}
           for s in ("sub_en", "sub_de", "sub_all")}
    assert {s: set(d) for s, d in got.items()} == {
        "sub_en": {"urn:t:en"}, "sub_de": {"urn:t:de"}, "sub_all": {"urn:t:en", "urn:t:de"}}
    body = orjson.loads(got["sub_en"]["urn:t:en"].body)
    assert body["data"] == orjson.loads(english[b"data"])
    assert body == orjson.loads(got["sub_all"]["urn:t:en"].body)


@pytest.mark.parametrize("filters", [{}, {"language": "en"}])
async def test_bad_entries_are_poison_whichever_producer_and_filters(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str,
        filters: dict[str, object]) -> None:
    """Another producer's data is checked whole even with no filter to decode it for; publish's
    must be an object (UTF-8) whatever the filters."""
    fan_out, queue = await subscribed(mongo_db, aredis, prefix, [new_record("sub", 0, filters)])
    not_json = {**story_fields("urn:t:1"), b"data": b"{not json"}
    not_an_object = {**story_fields("urn:t:2", source=PUBLISH_SOURCE), b"data": b"[1, 2]"}
    good = story_fields("urn:t:3", source=PUBLISH_SOURCE)
    outcomes = await fan_out([Entry("1-0", not_json, 1), Entry("2-0", not_an_object, 1),
                              Entry("3-0", good, 1)])
    assert [(o.error is not None, o.poison) for o in outcomes] == [
        (True, True), (True, True), (False, False)]
    assert [d.uri for d in await queue.list("sub", "queued", 10)] == ["urn:t:3"]
