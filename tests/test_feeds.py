"""Atom and JSON Feed end to end: publish as a process, read back with feedparser and a schema."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import feedparser
import httpx
import jsonschema
import pytest
import redis

from shared.article import Article, PubStatus, Source, Subject
from shared.events import ENRICHED_STREAM, ArticleEnriched

from newsflow_cli.platform import Platform

pytestmark = pytest.mark.e2e

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "jsonfeed-1.1.schema.json").read_text())


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongodb_uri: str,
         isolated_platform: Callable[..., AbstractContextManager[Platform]]
         ) -> Iterator[Platform]:
    with isolated_platform(tmp_path_factory.mktemp("feeds"), redis_url, mongodb_uri,
                           services=("publish",), NEWSFLOW_BLOCK_MS="100") as platform:
        yield platform

def a_topic() -> str:
    return f"medtop:2{secrets.randbelow(10**7):07d}"


def publish(plat: Platform, uri: str, topic: str, *, minutes_ago: int = 0,
            html: str | None = None, killed: bool = False) -> None:
    if killed:
        article = Article(uri=uri, version=9, pub_status=PubStatus.canceled,
                          source=Source(provider="dpa", format="json"))
    else:
        bodies = [{"value": f"Text of {uri} \x0b with a control character."}]
        if html:
            bodies.append({"contentType": "text/html", "value": html})
        article = Article.model_validate({
            "uri": uri, "version": 1, "source": {"provider": "dpa", "format": "json"},
            "headlines": [{"value": f"Headline <{uri}> & more"}], "bodies": bodies,
            "language": "en", "byline": "A. Reporter",
            "versionCreated": datetime.now(UTC) - timedelta(minutes=minutes_ago),
            "firstCreated": datetime.now(UTC) - timedelta(minutes=minutes_ago + 5),
            "descriptions": [{"value": "A summary."}],
            "subjects": [Subject(code=topic, name="Test topic")], "keywords": ["test"]})
    event = ArticleEnriched.for_article(article, "test")
    redis.Redis.from_url(plat.redis_url).xadd(plat.stream_prefix + ENRICHED_STREAM,
                                              event.to_fields())
    deadline = time.monotonic() + 10
    while True:
        status = httpx.get(f"{plat.url('publish')}/v1/articles/{quote(uri, safe=':')}").status_code
        if status == (410 if killed else 200):
            return
        assert time.monotonic() < deadline, f"{uri} not stored: {status}"
        time.sleep(0.05)


def test_feeds_validate_and_lose_killed_stories(plat: Platform) -> None:
    topic = a_topic()
    uris = [f"tag:example.com,2026:{topic}:{n}" for n in range(3)]
    for n, uri in enumerate(uris):
        publish(plat, uri, topic, minutes_ago=10 - n, html=f"<p>Story <b>{n}</b></p>")
    publish(plat, "https://example.com/stories/other", a_topic())
    base = plat.url("publish")

    atom = httpx.get(f"{base}/feeds/{topic}.atom")
    assert atom.status_code == 200
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Newsflow: Test topic"
    assert parsed.feed.id and parsed.feed.updated
    assert any(link.rel == "self" for link in parsed.feed.links)
    assert [e.id for e in parsed.entries] == list(reversed(uris))  # newest first
    entry = parsed.entries[0]
    assert entry.title == f"Headline <{uris[2]}> & more"
    assert entry.author == "A. Reporter"
    assert "<b>2</b>" in entry.content[0].value and entry.updated

    feed = httpx.get(f"{base}/feeds/{topic}.json")
    document = feed.json()
    jsonschema.validate(document, SCHEMA)
    assert [i["id"] for i in document["items"]] == list(reversed(uris))
    assert document["items"][0]["content_html"] == "<p>Story <b>2</b></p>"
    assert topic in document["items"][0]["tags"]
    for item in document["items"]:
        datetime.fromisoformat(item["date_modified"].replace("Z", "+00:00"))

    publish(plat, uris[1], topic, killed=True)
    after = feedparser.parse(httpx.get(f"{base}/feeds/{topic}.atom").content)
    assert [e.id for e in after.entries] == [uris[2], uris[0]]
    assert [i["id"] for i in httpx.get(f"{base}/feeds/{topic}.json").json()["items"]] == [
        uris[2], uris[0]]

    everything = feedparser.parse(httpx.get(f"{base}/feeds/all.atom").content)
    assert everything.bozo == 0
    assert "urn:newsflow:story:https%3A%2F%2Fexample.com%2Fstories%2Fother" in {
        e.id for e in everything.entries}
    assert httpx.get(f"{base}/feeds/sport.atom").status_code == 404


@pytest.mark.parametrize("fmt", ["atom", "json"])
def test_a_conditional_get_answers_304_until_the_feed_changes(plat: Platform, fmt: str) -> None:
    topic = a_topic()
    publish(plat, f"urn:feeds:{topic}:1", topic)
    url = f"{plat.url('publish')}/feeds/{topic}.{fmt}"
    first = httpx.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = httpx.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag

    publish(plat, f"urn:feeds:{topic}:2", topic)
    changed = httpx.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
