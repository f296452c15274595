"""Feed rendering of stories with awkward content: the XML stays well-formed, ids stay distinct."""

from __future__ import annotations

import xml.dom.minidom
from typing import Any

import orjson
import pytest

from publish.feeds import Feed, render_atom, render_json
from publish.store import StoredStory


def story(uri: str, **fields: Any) -> StoredStory:
    article = {"uri": uri, "headlines": [{"value": "Headline"}], "bodies": [{"value": "Text"}],
               "versionCreated": "2026-01-01T00:00:00Z", **fields}
    return StoredStory(uri=uri, article=article, killed=False, published_ms=0, event_id="e")


def atom_ids(stories: list[StoredStory]) -> list[str]:
    body, _ = render_atom(Feed("all", stories, "http://publish", "http://publish/feeds/all.atom"))
    document = xml.dom.minidom.parseString(body)  # raises on anything not well-formed
    return [entry.getElementsByTagName("id")[0].firstChild.data  # type: ignore[union-attr]
            for entry in document.getElementsByTagName("entry")]


@pytest.mark.parametrize("fields", [
    {"subjects": [{"code": "medtop:1\x01"}]},  # becomes a category term attribute
    {"byline": "A\x02 Reporter", "keywords": ["k\x03"]},
    {"headlines": [{"value": "Bad \x1b[31m escape \ufffe"}]},
    {"bodies": [{"contentType": "text/html", "value": "<p>\x0c</p>"}]},
])
def test_control_characters_anywhere_leave_the_atom_feed_well_formed(
        fields: dict[str, Any]) -> None:
    assert atom_ids([story("urn:feed:odd", **fields)]) == ["urn:feed:odd"]


def test_uris_that_are_not_iris_get_distinct_encoded_ids() -> None:
    uris = ["urn:a\x01b", "urn:ab", "urn:a b", "tag:example.com,2026:<x>"]
    stories = [story(uri) for uri in uris]
    ids = atom_ids(stories)
    assert ids == ["urn:newsflow:story:urn%3Aa%01b", "urn:ab", "urn:newsflow:story:urn%3Aa%20b",
                   "urn:newsflow:story:tag%3Aexample.com%2C2026%3A%3Cx%3E"]
    document = orjson.loads(render_json(Feed("all", stories, "http://p", "http://p/f.json"))[0])
    assert [item["id"] for item in document["items"]] == ids


def test_entries_link_to_the_story_page_and_relate_the_json() -> None:
    stories = [story("https://example.com/a/b?c=1")]
    feed = Feed("all", stories, "https://news.example", "https://news.example/feeds/all.atom")
    document = xml.dom.minidom.parseString(render_atom(feed)[0])
    entry = document.getElementsByTagName("entry")[0]
    links = {(link.getAttribute("rel"), link.getAttribute("type")): link.getAttribute("href")
             for link in entry.getElementsByTagName("link")}
    page = "https://news.example/stories/https:%2F%2Fexample.com%2Fa%2Fb%3Fc%3D1"
    assert links == {
        ("alternate", "text/html"): page,
        ("related", "application/json"):
            "https://news.example/v1/articles/https:%2F%2Fexample.com%2Fa%2Fb%3Fc%3D1"}
    assert orjson.loads(render_json(feed)[0])["items"][0]["url"] == page
