"""The story page's HTML: every value from a story escaped, links from the public URL only."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from publish.pages import render_story, story_path

BASE = "https://news.example.test"


class Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def story(**fields: Any) -> dict[str, Any]:
    return {"uri": "urn:test:1", "source": {"provider": "dpa", "format": "json"},
            "headlines": [{"value": "A headline"}], "bodies": [{"value": "Text."}], **fields}


def test_hostile_values_are_escaped_in_text_and_attributes() -> None:
    html = render_story(story(
        uri='urn:x:"><script>alert(1)</script>',
        headlines=[{"value": "<script>alert(1)</script> & co"}],
        byline='<img src=x onerror=alert(1)>', language='en"><script>',
        bodies=[{"value": "First <b>not bold</b>.\n\nSecond."}],
        people=[{"name": '"><script>alert(1)</script>'}],
        subjects=[{"code": "medtop:11000000", "name": "<i>Politics</i>"}]), BASE)
    tags = Tags(html).tags
    assert not [t for t, _ in tags if t in ("script", "img", "b", "i")]
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</h1>" in html
    assert "<p>First &lt;b&gt;not bold&lt;/b&gt;.</p><p>Second.</p>" in html
    assert dict(tags)["html"]["lang"] == 'en"><script>'  # one attribute value, escaped


def test_the_sanitized_html_body_is_kept_as_it_is() -> None:
    html = render_story(story(bodies=[{"value": "plain"}, {
        "contentType": "text/html", "value": "<p>One <a href=\"https://a.example/\">link</a></p>"}]),
        BASE)
    assert '<p>One <a href="https://a.example/">link</a></p>' in html and "plain" not in html


def test_dateline_byline_and_feed_links() -> None:
    html = render_story(story(
        byline="Jane Doe", versionCreated="2026-12-02T09:30:00Z",
        places=[{"name": "Paris", "firstPosition": 90}, {"name": "Berlin", "firstPosition": 3}],
        organisations=[{"name": "AT&T"}],
        subjects=[{"code": "medtop:11000000", "name": "politics"}]), BASE)
    assert '<p class="meta byline">By Jane Doe</p>' in html
    assert ('<span class="place">BERLIN</span>, <time datetime="2026-12-02T09:30:00Z">'
            "2 December 2026, 09:30 UTC</time> (dpa)") in html
    hrefs = [str(a["href"]) for t, a in Tags(html).tags if t == "a"]
    assert hrefs == [f"{BASE}/feeds/medtop:11000000.atom", f"{BASE}/feeds/all.atom?entity=AT%26T",
                     f"{BASE}/feeds/all.atom?entity=Berlin", f"{BASE}/feeds/all.atom?entity=Paris"]
    links = {a["rel"]: a["href"] for t, a in Tags(html).tags if t == "link" and a.get("rel")}
    assert links["canonical"] == BASE + story_path("urn:test:1")


def test_story_paths_keep_slashes_and_queries_inside_the_path() -> None:
    assert story_path("https://example.com/a?b=1#c") == \
        "/stories/https:%2F%2Fexample.com%2Fa%3Fb%3D1%23c"


def test_a_byline_that_says_by_is_not_doubled() -> None:
    assert '<p class="meta byline">BY Jane Doe, Reuters</p>' in render_story(
        story(byline="BY Jane Doe, Reuters"), BASE)
