"""Atom and JSON Feed end to end: publish as a process, read back with feedparser and a schema;
the story pages their entries link to."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

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
PUBLIC_URL = "https://news.example.test/newsflow"


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongodb_uri: str,
         isolated_platform: Callable[..., AbstractContextManager[Platform]]
         ) -> Iterator[Platform]:
    with isolated_platform(tmp_path_factory.mktemp("feeds"), redis_url, mongodb_uri,
                           services=("publish",), NEWSFLOW_BLOCK_MS="100",
                           NEWSFLOW_PUBLIC_URL=PUBLIC_URL) as platform:
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
            "subjects": [Subject(code=topic, name="Test topic")], "keywords": ["test"],
            "places": [{"name": "Berlin", "firstPosition": 0}],
            "people": [{"name": 'Ada "The Countess" Lovelace'}]})
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


def local(plat: Platform, public_link: str) -> str:
    """A link under PUBLIC_URL, as a URL of the publish process under test."""
    assert public_link.startswith(PUBLIC_URL + "/"), public_link
    return plat.url("publish") + public_link.removeprefix(PUBLIC_URL)


class Page(HTMLParser):
    """What a story page is made of: its tags with their attributes, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def hrefs(self) -> list[str]:
        return [str(a["href"]) for t, a in self.tags if t == "a"]


def test_feed_entries_link_to_a_story_page_readers_can_open(plat: Platform) -> None:
    topic = a_topic()
    uri = f"https://example.com/stories/{topic}?id=1&v=2"
    publish(plat, uri, topic, html="<p>First <em>paragraph</em>.</p>")
    base = plat.url("publish")

    parsed = feedparser.parse(httpx.get(f"{base}/feeds/{topic}.atom").content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entry = parsed.entries[0]
    assert entry.link.startswith(PUBLIC_URL + "/stories/")  # not the urn: id, not the JSON
    related = [link for link in entry.links if link.rel == "related"]
    assert [link.type for link in related] == ["application/json"]
    assert httpx.get(local(plat, related[0].href)).json()["uri"] == uri

    item = httpx.get(f"{base}/feeds/{topic}.json").json()["items"][0]
    assert item["url"] == entry.link

    page = httpx.get(local(plat, entry.link))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert f"<h1>Headline &lt;{uri.replace('&', '&amp;')}&gt; &amp; more</h1>" in html
    assert "<p>First <em>paragraph</em>.</p>" in html  # the sanitized HTML body, as it is
    parsed_page = Page(html)
    text = "".join(parsed_page.text)
    assert "By A. Reporter" in text and "BERLIN" in text and "(dpa)" in text
    # Nothing loaded from elsewhere: no scripts, images, frames or external stylesheets.
    assert not [t for t, _ in parsed_page.tags if t in ("script", "img", "iframe", "object")]
    assert not [a for t, a in parsed_page.tags if t == "link" and a.get("rel") == "stylesheet"]
    # Topics and names link to the feeds filtered on them, and those feeds hold the story.
    hrefs = parsed_page.hrefs()
    topic_feed = f"{PUBLIC_URL}/feeds/{topic}.atom"
    assert topic_feed in hrefs
    person = [h for h in hrefs if "entity=" in h and "Lovelace" in h]
    assert person, hrefs
    for feed_url in (topic_feed, person[0]):
        linked = feedparser.parse(httpx.get(local(plat, feed_url)).content)
        assert entry.link in {e.link for e in linked.entries}, feed_url


def test_a_killed_story_page_answers_410_and_an_unknown_one_404(plat: Platform) -> None:
    topic = a_topic()
    uri = f"urn:pages:{topic}"
    publish(plat, uri, topic)
    link = feedparser.parse(httpx.get(f"{plat.url('publish')}/feeds/{topic}.atom").content
                            ).entries[0].link
    assert httpx.get(local(plat, link)).status_code == 200
    publish(plat, uri, topic, killed=True)
    gone = httpx.get(local(plat, link), headers={"Accept": "text/html"})
    assert gone.status_code == 410
    assert gone.headers["content-type"].startswith("text/html")
    assert "withdrawn" in gone.text and "Headline" not in gone.text
    as_json = httpx.get(local(plat, link))
    assert as_json.status_code == 410 and as_json.json()["error"]["field"] == "uri"
    unknown = httpx.get(f"{plat.url('publish')}/stories/urn:pages:none")
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "uri"


def test_links_come_from_the_public_url_never_from_the_host_header(plat: Platform) -> None:
    topic = a_topic()
    uri = f"urn:host:{topic}"
    publish(plat, uri, topic)
    base = plat.url("publish")
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    for path in (f"/feeds/{topic}.atom", f"/feeds/{topic}.json", "/stories/" + uri):
        response = httpx.get(base + path, headers=evil)
        assert response.status_code == 200, path
        assert "evil.example" not in response.text, path
        assert PUBLIC_URL in response.text, path
    for path in (f"/v1/articles?topic={topic}", "/v1/articles/" + uri):  # the read API too
        response = httpx.get(base + path, headers=evil)
        assert response.status_code == 200 and "evil.example" not in response.text, path
    atom = feedparser.parse(httpx.get(f"{base}/feeds/{topic}.atom", headers=evil).content)
    assert {urlsplit(link.href).netloc for link in atom.feed.links} == {"news.example.test"}
