"""deliver's subscription store against the MongoDB-wire server (nx-27017, or a real MongoDB)."""

from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient

from deliver.errors import BadRequest
from deliver.store import SubscriptionRecord, SubscriptionStore

pytestmark = pytest.mark.integration


async def test_subscriptions_page_oldest_first_with_ties_on_the_creation_time(
        mongo_db: tuple[AsyncMongoClient, str]) -> None:
    client, name = mongo_db
    subscriptions = SubscriptionStore(client, name)
    created = [1000, 1000, 1000, 2000, 3000, 3000, 4000]  # several made in the same millisecond
    for n, ms in enumerate(created):
        await subscriptions.create(SubscriptionRecord(
            id=f"sub_{(n * 5) % 7}", url="https://example.com/hook", filters={}, enabled=True,
            description="", secret="whsec_x", previous_secret=None, previous_secret_expires_ms=0,
            created_ms=ms, updated_ms=ms, disabled_reason=None))
    walked: list[SubscriptionRecord] = []
    cursor = None
    while True:
        records, cursor = await subscriptions.page(limit=2, cursor=cursor)
        assert len(records) <= 2
        walked.extend(records)
        if cursor is None:
            break
    assert sorted(r.id for r in walked) == [f"sub_{n}" for n in range(7)]
    assert len(walked) == 7
    order = [(r.created_ms, r.id) for r in walked]
    assert order == sorted(order)


async def test_a_cursor_this_api_did_not_return_names_the_cursor(
        mongo_db: tuple[AsyncMongoClient, str]) -> None:
    client, name = mongo_db
    with pytest.raises(BadRequest) as caught:
        await SubscriptionStore(client, name).page(limit=2, cursor="not-a-cursor")
    assert caught.value.field == "cursor"
