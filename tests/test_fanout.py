"""Webhook fan-out across replicas: real Redis and a real MongoDB-wire store."""

from __future__ import annotations

import time

import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from shared.article import Article, Source
from shared.events import ArticlePublished
from shared.streams import Entry

from deliver.handlers import FanOut
from deliver.queue import DeliveryQueue
from deliver.registry import SubscriptionRegistry
from deliver.store import SubscriptionRecord, SubscriptionStore

pytestmark = pytest.mark.integration


async def test_a_subscription_made_on_another_replica_gets_the_next_entry(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str) -> None:
    client, name = mongo_db
    store = SubscriptionStore(client, name)
    here = SubscriptionRegistry(store, aredis, key_prefix=prefix)
    there = SubscriptionRegistry(store, aredis, key_prefix=prefix)
    await here.load()
    await there.load()
    queue = DeliveryQueue(aredis, prefix)
    fan_out_there = FanOut(there, queue, lambda subscription: None)

    now = int(time.time() * 1000)
    record = SubscriptionRecord(
        id="sub_new", url="https://example.com/hook", filters={}, enabled=True, description="",
        secret="whsec_x", previous_secret=None, previous_secret_expires_ms=0, created_ms=now,
        updated_ms=now, disabled_reason=None)
    await store.create(record)
    await here.changed(record, record.id)  # what the subscriptions API does on this replica

    article = Article(uri="urn:t:fan", version=1, source=Source(provider="t", format="json"),
                      headlines=[{"value": "Bridge reopens"}])
    fields = {k.encode(): v if isinstance(v, bytes) else str(v).encode()
              for k, v in ArticlePublished.for_article(article, "test").to_fields().items()}
    [outcome] = await fan_out_there([Entry(f"{now + 50}-0", fields, 1)])
    assert outcome.error is None
    [queued] = await queue.list("sub_new", "queued", 10)
    assert queued.uri == "urn:t:fan"


async def test_with_no_subscription_entries_are_acknowledged_without_being_decoded(
        mongo_db: tuple[AsyncMongoClient, str], aredis: Redis, prefix: str) -> None:
    client, name = mongo_db
    registry = SubscriptionRegistry(SubscriptionStore(client, name), aredis, key_prefix=prefix)
    await registry.load()
    fan_out = FanOut(registry, DeliveryQueue(aredis, prefix), lambda subscription: None)
    not_an_event = {b"ce_type": b"news.article.published", b"data": b"{not json"}
    outcomes = await fan_out([Entry("1-0", not_an_event, 1), Entry("2-0", {}, 1)])
    # Decoding would have found both poison; with nobody to deliver to they are not looked at.
    assert [(o.error, o.poison) for o in outcomes] == [(None, False), (None, False)]
