"""Stories and subscription filters stored with the former topic table move to IPTC's codes,
once, over a real MongoDB-wire connection (nx-27017, or MongoDB when set)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest
from pymongo import AsyncMongoClient

from shared.article import Article, Source, Subject

from deliver.store import SubscriptionRecord, SubscriptionStore
from publish.store import ArticleStore, Query

pytestmark = pytest.mark.integration

# As the former table wrote them: business under 05 (IPTC: education), with its own labels.
OLD_BUSINESS = {"code": "medtop:05000000", "name": "economy, business and finance",
                "scheme": "medtop", "confidence": 0.8, "level": 1,
                "uri": "http://cv.iptc.org/newscodes/mediatopic/05000000"}
OLD_POLITICS = {"code": "medtop:11000000", "name": "politics", "scheme": "medtop",
                "confidence": 0.4, "level": 1,
                "uri": "http://cv.iptc.org/newscodes/mediatopic/11000000"}
AGENCY = {"code": "subj:04000000", "name": "economy", "scheme": "subj"}


def _old_document(uri: str, subjects: list[dict[str, Any]], *,
                  text: bool = False) -> dict[str, Any]:
    """A story as publish stored it before the migration existed (no revision mark); the
    article nested, as publish wrote it then, or as JSON text, as it writes it now."""
    codes = sorted({s["code"] for s in subjects} | {s["uri"] for s in subjects if "uri" in s})
    article = {"uri": uri, "version": 1, "subjects": subjects,
               "source": {"provider": "dpa", "format": "json"}}
    return {"_id": uri, "article": orjson.dumps(article).decode() if text else article,
            "rank": 1, "eventId": f"ev-{uri}", "killed": False, "pubStatus": "usable",
            "publishedMs": 1, "versionCreatedMs": 1, "language": "en", "provider": "dpa",
            "topics": codes, "entities": [], "urgency": 0}


@pytest.fixture
async def stores(mongo_db: tuple[AsyncMongoClient, str]) -> tuple[ArticleStore, SubscriptionStore]:
    client, name = mongo_db
    articles = ArticleStore(client, name)
    await articles.create_indexes()
    return articles, SubscriptionStore(client, name)


@pytest.mark.parametrize("text", [False, True], ids=["nested", "json-text"])
async def test_old_story_codes_move_to_iptc_once(
        stores: tuple[ArticleStore, SubscriptionStore], text: bool) -> None:
    articles, _ = stores
    await articles.articles.insert_one(_old_document("urn:old", [OLD_BUSINESS, OLD_POLITICS,
                                                                  AGENCY], text=text))
    new = Article(uri="urn:new", version=1, source=Source(provider="dpa", format="json"),
                  subjects=[Subject(code="medtop:05000000", name="Education", scheme="medtop",
                                    level=1)])
    await articles.save(new, "ev-new")

    first = await articles.migrate_topic_codes()
    assert (first.documents, first.codes) == (1, 1)
    story = await articles.get("urn:old")
    assert story is not None
    subjects = story.article["subjects"]
    assert subjects[0] == {**OLD_BUSINESS, "code": "medtop:04000000",
                           "name": "Economy, business and finance",
                           "uri": "http://cv.iptc.org/newscodes/mediatopic/04000000"}
    assert subjects[1]["code"] == "medtop:11000000" and subjects[1]["name"] == "Politics"
    assert subjects[2] == AGENCY  # a source's own subject is never touched
    raw = await articles.articles.find_one({"_id": "urn:old"})
    assert raw is not None and isinstance(raw["article"], str) == text  # kept in its form
    # The read API and the feeds find it under the right code, not under education.
    page = await articles.page(Query(topic="medtop:04000000"), limit=10)
    assert [s.uri for s in page.items] == ["urn:old"]
    page = await articles.page(Query(topic="medtop:05000000"), limit=10)
    assert [s.uri for s in page.items] == ["urn:new"]  # a new story's code is already IPTC's

    again = await articles.migrate_topic_codes()
    assert (again.documents, again.codes) == (0, 0)
    assert (await articles.get("urn:old")).article["subjects"] == subjects  # type: ignore[union-attr]


async def test_old_subscription_filters_move_to_iptc_once(
        stores: tuple[ArticleStore, SubscriptionStore]) -> None:
    _, subscriptions = stores
    await subscriptions.subscriptions.insert_one({
        "_id": "sub_old", "url": "https://example.com/hook", "enabled": True,
        "filters": {"topics": ["medtop:05000000", "medtop:02000000", "medtop:15000000"],
                    "language": "en"},
        "description": "", "secret": "whsec_x", "createdMs": 1, "updatedMs": 1})
    await subscriptions.create(SubscriptionRecord(
        id="sub_new", url="https://example.com/hook", enabled=True,
        filters={"topics": ["medtop:05000000"]}, description="", secret="whsec_y",
        previous_secret=None, previous_secret_expires_ms=0, created_ms=2, updated_ms=2,
        disabled_reason=None))

    first = await subscriptions.migrate_topic_codes()
    assert (first.documents, first.codes) == (1, 2)
    old = await subscriptions.get("sub_old")
    assert old is not None
    # business -> IPTC's business, conflict -> IPTC's conflict; sport and language unchanged
    assert old.filters == {"topics": ["medtop:04000000", "medtop:16000000", "medtop:15000000"],
                           "language": "en"}
    new = await subscriptions.get("sub_new")
    assert new is not None and new.filters == {"topics": ["medtop:05000000"]}

    again = await subscriptions.migrate_topic_codes()  # a permutation: twice would be wrong
    assert (again.documents, again.codes) == (0, 0)
    assert (await subscriptions.get("sub_old")).filters == old.filters  # type: ignore[union-attr]


async def test_filters_changed_through_the_api_are_never_migrated_again(
        stores: tuple[ArticleStore, SubscriptionStore]) -> None:
    _, subscriptions = stores
    await subscriptions.subscriptions.insert_one({
        "_id": "sub_edit", "url": "https://example.com/hook", "enabled": True,
        "filters": {"topics": ["medtop:05000000"]}, "description": "", "secret": "whsec_x",
        "createdMs": 1, "updatedMs": 1})
    await subscriptions.update("sub_edit", {"filters": {"topics": ["medtop:02000000"]}})
    done = await subscriptions.migrate_topic_codes()
    assert done.codes == 0
    record = await subscriptions.get("sub_edit")
    assert record is not None and record.filters == {"topics": ["medtop:02000000"]}


async def test_newsflow_migrate_topics_shows_progress_and_a_second_run_finds_nothing(
        stores: tuple[ArticleStore, SubscriptionStore], mongodb_uri: str,
        mongo_db: tuple[AsyncMongoClient, str]) -> None:
    articles, _ = stores
    await articles.articles.insert_many(
        [_old_document(f"urn:old:{n}", [OLD_BUSINESS]) for n in range(3)])
    command = [sys.executable, "-m", "newsflow_cli.main", "migrate-topics", "--progress",
               "--mongodb-uri", mongodb_uri, "--db", mongo_db[1]]

    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "checked 3 of 3 stories: 3 rewritten, 3 topic codes changed" in first.stderr
    assert "migrating topic codes" in first.stderr  # the bar
    page = await articles.page(Query(topic="medtop:04000000"), limit=10)
    assert len(page.items) == 3

    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "checked 0 of 0 stories: 0 rewritten" in again.stderr
