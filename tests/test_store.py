"""The article store over a real MongoDB-wire connection (nx-27017, or MongoDB when set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pymongo import AsyncMongoClient

from shared.article import Article, PubStatus, Source, Subject

from publish.errors import BadRequest
from publish.store import ArticleStore, Query, Write

pytestmark = pytest.mark.integration


def _article(uri: str = "urn:t:1", version: int | None = 1, **extra: object) -> Article:
    fields: dict[str, object] = {
        "uri": uri, "version": version, "source": Source(provider="dpa", format="json"),
        "headlines": [{"value": f"{uri} v{version}"}], "bodies": [{"value": "Body."}],
        "language": "en", "versionCreated": datetime(2026, 5, 1, 12, tzinfo=UTC)}
    fields.update(extra)
    return Article.model_validate(fields)


@pytest.fixture
async def store(mongo_db: tuple[AsyncMongoClient, str]) -> ArticleStore:
    client, name = mongo_db
    store = ArticleStore(client, name)
    await store.create_indexes()
    return store


async def test_a_newer_version_replaces_and_an_older_one_never_does(store: ArticleStore) -> None:
    assert await store.save(_article(version=5), "e5") is Write.stored
    assert await store.save(_article(version=1000), "e1000") is Write.stored  # agencies jump
    assert await store.save(_article(version=7), "e7") is Write.stale  # late and older
    story = await store.get("urn:t:1")
    assert story is not None
    assert story.article["version"] == 1000
    assert story.article["headlines"][0]["value"] == "urn:t:1 v1000"


async def test_another_source_can_neither_replace_nor_kill_a_story(
        store: ArticleStore) -> None:
    rival = Source(provider="rival", format="json")
    assert await store.save(_article(version=3), "e3") is Write.stored
    assert await store.save(_article(version=4, source=rival), "r4") is Write.stale
    kill = Article(uri="urn:t:1", pub_status=PubStatus.canceled, source=rival)
    assert await store.save(kill, "rkill") is Write.stale
    assert await store.save(_article(version=5), "e5") is Write.stored  # the owner goes on
    story = await store.get("urn:t:1")
    assert story is not None and not story.killed
    assert (story.article["version"], story.article["source"]["provider"]) == (5, "dpa")
    sibling = Source(provider="dpa-sport", format="json", namespace="dpa")
    assert await store.save(_article(version=6, source=sibling), "s6") is Write.stored


async def test_a_story_stored_without_an_owner_takes_its_next_version(
        store: ArticleStore) -> None:
    await store.articles.insert_one({"_id": "urn:t:old", "rank": 1, "eventId": "old",
                                     "killed": False, "article": {"uri": "urn:t:old"}})
    assert await store.save(_article("urn:t:old", version=2), "e2") is Write.stored
    story = await store.get("urn:t:old")
    assert story is not None and story.article["version"] == 2


async def test_a_repeat_of_the_stored_event_is_a_redelivery(store: ArticleStore) -> None:
    assert await store.save(_article(version=0), "e0") is Write.stored  # AP starts at 0
    assert await store.save(_article(version=0), "e0") is Write.redelivered
    assert await store.save(_article(version=0), "other") is Write.stale


async def test_a_batch_is_written_with_the_same_guard_as_one_by_one(store: ArticleStore) -> None:
    assert await store.save(_article("urn:t:old", version=5), "old5") is Write.stored
    assert await store.save(_article("urn:t:same", version=2), "same2") is Write.stored
    kill = Article(uri="urn:t:dead", pub_status=PubStatus.canceled,
                   source=Source(provider="dpa", format="ninjs"))
    items = [
        (_article("urn:t:new", version=1), "new1"),
        (_article("urn:t:old", version=6), "old6"),  # newer
        (_article("urn:t:old", version=4), "old4"),  # late and older
        (_article("urn:t:same", version=2), "same2"),  # this very event again
        (_article("urn:t:two", version=2), "two2"),  # two versions of a new story, newer first
        (_article("urn:t:two", version=1), "two1"),
        (_article("urn:t:pair", version=1), "pair1"),  # and older first
        (_article("urn:t:pair", version=3), "pair3"),
        (kill, "dead"),
    ]
    wires = [article.wire() for article, _ in items]
    writes = await store.save_many(items, wires, [orjson.dumps(w) for w in wires])
    assert writes[:4] == [Write.stored, Write.stored, Write.stale, Write.redelivered]
    assert writes[8] is Write.stored
    # An unordered bulk write may apply two versions of one story in either order; whichever
    # way, the newer one is what stays.
    assert Write.stored in writes[4:6] and Write.stored in writes[6:8]
    versions = {uri: (await store.get(uri)).article.get("version")  # type: ignore[union-attr]
                for uri in ("urn:t:new", "urn:t:old", "urn:t:same", "urn:t:two", "urn:t:pair")}
    assert versions == {"urn:t:new": 1, "urn:t:old": 6, "urn:t:same": 2, "urn:t:two": 2,
                        "urn:t:pair": 3}
    dead = await store.get("urn:t:dead")
    assert dead is not None and dead.killed


async def test_a_kill_applies_even_without_a_version_and_drops_the_text(
        store: ArticleStore) -> None:
    await store.save(_article(version=3), "e3")
    kill = Article(uri="urn:t:1", pub_status=PubStatus.canceled,
                   source=Source(provider="dpa", format="ninjs"))
    assert await store.save(kill, "kill") is Write.stored
    story = await store.get("urn:t:1")
    assert story is not None and story.killed
    assert "bodies" not in story.article or not story.article["bodies"]
    assert await store.save(_article(version=2), "e2") is Write.stale  # older: still dead
    assert await store.save(kill, "kill") is Write.redelivered


async def test_pages_walk_every_story_once_newest_first(store: ArticleStore) -> None:
    for n in range(7):
        await store.save(_article(uri=f"urn:t:{n}"), f"e{n}")
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.page(Query(), limit=3, cursor=cursor)
        seen.extend(s.uri for s in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"urn:t:{n}" for n in range(7))
    assert len(seen) == len(set(seen))
    published = [(await store.get(u)).published_ms for u in seen]  # type: ignore[union-attr]
    assert published == sorted(published, reverse=True)


async def test_filters_select_by_topic_entity_language_source_and_time(
        store: ArticleStore) -> None:
    politics = Subject(code="medtop:11000000", name="politics", scheme="medtop")
    await store.save(_article(uri="urn:a", subjects=[politics],
                              people=[{"name": "Vladimir Putin", "type": "person"}]), "a")
    await store.save(_article(uri="urn:b", language="de",
                              versionCreated=datetime(2026, 6, 1, tzinfo=UTC)), "b")

    async def uris(query: Query) -> list[str]:
        return [s.uri for s in (await store.page(query, limit=10)).items]

    assert await uris(Query(topic="medtop:11000000")) == ["urn:a"]
    assert await uris(Query(entity="vladimir putin")) == ["urn:a"]
    assert await uris(Query(language="de")) == ["urn:b"]
    assert sorted(await uris(Query(source="dpa"))) == ["urn:a", "urn:b"]
    since = int((datetime(2026, 6, 1, tzinfo=UTC) - timedelta(hours=1)).timestamp() * 1000)
    assert await uris(Query(since_ms=since)) == ["urn:b"]


async def test_killed_stories_leave_the_listing(store: ArticleStore) -> None:
    await store.save(_article(uri="urn:k"), "k1")
    await store.save(Article(uri="urn:k", pub_status=PubStatus.withheld,
                             source=Source(provider="dpa", format="json")), "k2")
    assert [s.uri for s in (await store.page(Query(), limit=10)).items] == []


@pytest.mark.parametrize("cursor", ["not-a-cursor!!", "OTk5OTk5OTk5OTk5OTk5OTk5OTl8eA"])
async def test_a_forged_cursor_is_a_clear_error(store: ArticleStore, cursor: str) -> None:
    with pytest.raises(BadRequest) as raised:  # the second one's number overflows an Int64
        await store.page(Query(), limit=3, cursor=cursor)
    assert raised.value.field == "cursor"


async def test_two_versions_of_a_new_story_saved_at_once_keep_the_newer(
        store: ArticleStore) -> None:
    for n in range(10):
        uri = f"urn:race:{n}"
        await asyncio.gather(store.save(_article(uri=uri, version=1), f"old{n}"),
                             store.save(_article(uri=uri, version=5), f"new{n}"))
        story = await store.get(uri)
        assert story is not None and story.article["version"] == 5


async def test_a_kill_without_a_version_is_final_even_if_an_earlier_version_arrives_later(
        store: ArticleStore) -> None:
    kill = Article(uri="urn:t:late", pub_status=PubStatus.canceled,
                   source=Source(provider="dpa", format="ninjs"))
    assert await store.save(kill, "kill") is Write.stored
    assert await store.save(_article(uri="urn:t:late", version=9), "v9") is Write.stale
    story = await store.get("urn:t:late")
    assert story is not None and story.killed

