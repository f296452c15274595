"""Atom 1.0 and JSON Feed 1.1 of the newest usable stories, per IPTC Media Topic or ``all``.

Both are rendered from the same stories, carry a strong ETag (a hash of the bytes served) and
answer ``304`` to a matching ``If-None-Match``. Killed stories are not in the store's usable set,
so they leave the feeds with the kill. ``?entity=`` narrows a feed to stories naming someone.

Each entry links to the story's web page (``alternate``, text/html) and to its JSON in the read
API (``related``). Absolute links start at the configured public URL: the request's Host is
never used, since the feeds are cacheable by shared caches.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request, Response

from shared.filters import MEDTOP, topics_of
from shared.identifiers import unsafe_value

from publish.errors import BadRequest, Invalid, NotFound
from publish.metrics import ChannelMetrics
from publish.pages import article_path, bodies, headline, story_path
from publish.store import ArticleStore, StoredStory
from publish.store import Query as StoryQuery

ATOM = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A urn: or tag: uri usable as the entry id as it is: nothing an IRI may not hold (RFC 3987).
_IRI = re.compile(r'^(urn|tag):[^\x00-\x20\x7f-\x9f<>"{}|\\^`]+$', re.IGNORECASE)
EPOCH = "1970-01-01T00:00:00Z"
ENTITY_MAX = 200
_ENTITY = Query(None, max_length=ENTITY_MAX,
                description="only stories naming this person, organisation or place")


def feed_router(store: ArticleStore, metrics: ChannelMetrics, size: int,
                base_url: str) -> APIRouter:
    """``base_url``: the public URL absolute links start with (never the request's Host)."""
    router = APIRouter(tags=["feeds"])
    base = base_url.rstrip("/")

    async def serve(request: Request, topic: str, entity: str | None, fmt: str,
                    render: Callable[[Feed], tuple[bytes, str]]) -> Response:
        code = _topic(topic)
        if code is None:
            metrics.feed_requests.labels(fmt, "404").inc()
            raise NotFound("feeds exist for `all` and for medtop codes such as "
                           "medtop:11000000", "topic")
        if unsafe_value(entity):
            metrics.feed_requests.labels(fmt, "422").inc()
            raise Invalid("entity: control and bidi characters are not allowed", "entity")
        entity = (entity or "").strip() or None
        if entity is not None and _XML_INVALID.search(entity):
            metrics.feed_requests.labels(fmt, "400").inc()
            raise BadRequest("entity: control characters are not allowed", "entity")
        query = StoryQuery(topic=None if code == "all" else code, entity=entity)
        page = await store.page(query, size)
        self_url = f"{base}/feeds/{quote(code, safe=':')}.{fmt}"
        if entity:
            self_url += "?entity=" + quote(entity, safe="")
        feed = Feed(code, page.items, base, self_url, entity)
        body, media_type = render(feed)
        etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=30"}
        if _matches(request.headers.get("if-none-match"), etag):
            metrics.feed_requests.labels(fmt, "304").inc()
            return Response(status_code=304, headers=headers)
        metrics.feed_requests.labels(fmt, "200").inc()
        return Response(body, media_type=media_type, headers=headers)

    @router.get("/feeds/{topic}.atom", response_class=Response, responses={200: {
        "description": "Atom 1.0", "content": {"application/atom+xml": {}}}})
    async def atom_feed(request: Request, topic: str, entity: str | None = _ENTITY) -> Response:
        """Atom 1.0: the newest usable stories of a topic (`all` for every topic)."""
        return await serve(request, topic, entity, "atom", render_atom)

    @router.get("/feeds/{topic}.json", response_class=Response, responses={200: {
        "description": "JSON Feed 1.1", "content": {"application/feed+json": {}}}})
    async def json_feed(request: Request, topic: str, entity: str | None = _ENTITY) -> Response:
        """JSON Feed 1.1: the newest usable stories of a topic (`all` for every topic)."""
        return await serve(request, topic, entity, "json", render_json)

    return router


class Feed:
    def __init__(self, topic: str, stories: list[StoredStory], base: str, self_url: str,
                 entity: str | None = None) -> None:
        self.topic = topic
        self.stories = stories
        self.base = base
        self.self_url = self_url
        self.entity = entity

    @property
    def title(self) -> str:
        if self.entity:
            return f"Newsflow: {self.entity}"
        if self.topic == "all":
            return "Newsflow: latest stories"
        for story in self.stories:
            for subject in story.article.get("subjects") or []:
                if subject.get("name") and self.topic in topics_of({"subjects": [subject]}):
                    return f"Newsflow: {subject['name']}"
        return f"Newsflow: {self.topic}"

    @property
    def home(self) -> str:
        params = [] if self.topic == "all" else ["topic=" + quote(self.topic, safe="")]
        if self.entity:
            params.append("entity=" + quote(self.entity, safe=""))
        return f"{self.base}/v1/articles" + ("?" + "&".join(params) if params else "")

    @property
    def id(self) -> str:
        if self.entity:
            return f"urn:newsflow:feed:{self.topic}:entity:{quote(self.entity.casefold())}"
        return f"urn:newsflow:feed:{self.topic}"

    def updated(self) -> str:
        times = [_updated(s) for s in self.stories]
        return max(times) if times else EPOCH

    def page(self, story: StoredStory) -> str:
        """The story's web page."""
        return self.base + story_path(story.uri)

    def json(self, story: StoredStory) -> str:
        """The story in the read API."""
        return self.base + article_path(story.uri)


def render_atom(feed: Feed) -> tuple[bytes, str]:
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    _el(root, "id", feed.id)
    _el(root, "title", feed.title)
    _el(root, "updated", feed.updated())
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", href=feed.self_url,
                  type="application/atom+xml")
    ET.SubElement(root, f"{{{ATOM}}}link", rel="alternate", href=feed.home)
    _el(root, "generator", "Newsflow")
    for story in feed.stories:
        a = story.article
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        _el(entry, "id", entry_id(story.uri))
        _el(entry, "title", headline(a) or story.uri)
        _el(entry, "updated", _updated(story))
        if a.get("firstCreated"):
            _el(entry, "published", _rfc3339(a["firstCreated"]))
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        _el(author, "name", _author(a))
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=feed.page(story),
                      type="text/html")
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=feed.json(story),
                      type="application/json")
        for code in sorted(topics_of(a)):
            ET.SubElement(entry, f"{{{ATOM}}}category", term=code)
        summary = _summary(a)
        if summary:
            _el(entry, "summary", summary)
        html, text = bodies(a)
        if html:
            _el(entry, "content", html, type="html")
        else:
            _el(entry, "content", text, type="text")
    _xml_safe(root)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body, "application/atom+xml; charset=utf-8"


def render_json(feed: Feed) -> tuple[bytes, str]:
    items = []
    for story in feed.stories:
        a = story.article
        item: dict[str, Any] = {"id": entry_id(story.uri), "url": feed.page(story),
                                "title": headline(a) or story.uri}
        html, text = bodies(a)
        if html:
            item["content_html"] = html
        item["content_text"] = text or headline(a) or story.uri
        summary = _summary(a)
        if summary:
            item["summary"] = summary
        if a.get("firstCreated"):
            item["date_published"] = _rfc3339(a["firstCreated"])
        item["date_modified"] = _updated(story)
        item.setdefault("date_published", item["date_modified"])
        item["authors"] = [{"name": _author(a)}]
        tags = sorted(topics_of(a)) + list(a.get("keywords") or [])
        if tags:
            item["tags"] = tags
        if a.get("language"):
            item["language"] = a["language"]
        items.append(item)
    document = {"version": JSON_FEED_VERSION, "title": feed.title, "home_page_url": feed.home,
                "feed_url": feed.self_url, "items": items}
    return orjson.dumps(document), "application/feed+json; charset=utf-8"


def entry_id(uri: str) -> str:
    """The story uri when it is already a urn: or tag: IRI, else a urn: built from it."""
    return uri if _IRI.match(uri) else "urn:newsflow:story:" + quote(uri, safe="")


def _topic(topic: str) -> str | None:
    if topic == "all" or MEDTOP.match(topic):
        return topic
    if topic.isdigit() and len(topic) == 8:
        return "medtop:" + topic
    return None


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags


def _el(parent: ET.Element, name: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    element.text = text
    return element


def _xml_safe(root: ET.Element) -> None:
    """Drop the characters XML 1.0 cannot hold from every text and attribute value: ElementTree
    escapes markup but writes control characters as they are, which no parser accepts."""
    for element in root.iter():
        if element.text:
            element.text = _XML_INVALID.sub("", element.text)
        for name, value in element.attrib.items():
            element.attrib[name] = _XML_INVALID.sub("", value)


def _summary(a: dict[str, Any]) -> str:
    return " ".join(str(d.get("value", "")) for d in a.get("descriptions") or []).strip()


def _author(a: dict[str, Any]) -> str:
    return str(a.get("byline") or (a.get("source") or {}).get("provider") or "Newsflow")


def _updated(story: StoredStory) -> str:
    a = story.article
    if a.get("versionCreated"):
        return _rfc3339(a["versionCreated"])
    return datetime.fromtimestamp(story.published_ms / 1000, UTC).isoformat().replace(
        "+00:00", "Z")


def _rfc3339(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return EPOCH
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")
