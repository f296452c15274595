"""RSS 2.0 / 0.9x, Atom 1.0 (feedparser) and JSON Feed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.errors import InvalidArticle, ParseError, UnsupportedFormat
from ingest.parsing import parse, parse_document

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_rss_items_map_guid_dates_content_and_categories():
    parsed = parse_document(fixture("rss20.xml"), provider="rss")
    assert parsed.format == "rss"
    first, second = parsed.articles
    assert first.uri == "storm-2024-001"
    assert first.headline == "Storm hits the coast"
    assert first.first_created == datetime(2024, 9, 10, 12, 30, tzinfo=UTC)  # EDT is -04:00
    assert first.body_text == "Winds reached 120 km/h.\n\nPower is out in 3 towns."
    assert "script" not in (first.body_html or "") and "onmouseover" not in (first.body_html or "")
    assert [(s.name, s.scheme) for s in first.subjects] == [
        ("Weather", "category"),
        ("Coast", "https://news.example.org/tags"),  # RSS `domain`: the taxonomy
    ]
    assert first.language == "en-US"
    # No guid: the link is the id. A slash date no RFC parser reads, read as UTC.
    assert second.uri == "https://news.example.org/second"
    assert second.first_created == datetime(2024, 9, 10, 9, 15, tzinfo=UTC)
    assert second.body_text == "Plain description only."
    assert second.body_html is None


def test_rss_092_two_digit_year_date():
    document = b"""<?xml version="1.0" encoding="ISO-8859-1"?><rss version="0.92"><channel>
      <title>t</title><item><title>One</title><link>http://e.org/1</link>
      <pubDate>03 Apr 02 1500 GMT</pubDate><description>d</description></item></channel></rss>"""
    [article] = parse(document, provider="rss")
    assert article.first_created == datetime(2002, 4, 3, 15, 0, tzinfo=UTC)


def test_atom_entry():
    parsed = parse_document(fixture("atom.xml"), provider="atom")
    assert parsed.format == "atom"
    [article] = parsed.articles
    assert article.uri == "urn:example:entry:1"
    assert article.headline == "Neue Brücke eröffnet"
    assert article.first_created == datetime(2024, 4, 1, 7, 0, tzinfo=UTC)
    assert article.version_created == datetime(2024, 4, 1, 7, 30, tzinfo=UTC)
    assert article.byline == "Erika Mustermann"
    assert article.language == "de"
    assert article.body_text == "Die Brücke ist 300 Meter lang.\n\nSie kostete 40 Millionen Euro."


def test_ill_formed_feed_is_recovered_with_its_readable_items():
    document = b"""<!-- comment --><rss version="2.0"><channel>
      <item><title>Kept</title><link>http://link/get?a=1&amp;b=2</link></item>
      </channel></rss"""
    [article] = parse(document, provider="rss")
    assert article.uri == "http://link/get?a=1&b=2"
    assert article.headline == "Kept"


def test_feed_item_with_nothing_readable_is_refused_naming_the_recovered_link():
    document = b'<rss version="2.0"><channel><item><link>http://l/x?a=1&amp;b=2</link></item>'
    with pytest.raises(InvalidArticle) as caught:
        parse(document, provider="rss")
    assert "http://l/x?a=1&b=2" in caught.value.message
    assert caught.value.field == "headline"


def test_html_page_is_not_a_feed():
    page = b"<!DOCTYPE html>\n<html><head><title>News</title></head><body><p>x</p></body></html>"
    with pytest.raises(UnsupportedFormat) as caught:
        parse(page, "application/rss+xml", provider="rss")
    assert caught.value.message == "an HTML page, not a feed"


def test_json_feed_items_authors_and_sanitized_html():
    parsed = parse_document(fixture("jsonfeed.json"), provider="jf")
    assert parsed.format == "jsonfeed"
    first, second = parsed.articles
    assert first.uri == "https://example.org/posts/1"
    assert first.byline == "Item Author"  # 1.1 item authors win over the feed's
    assert first.first_created == datetime(2024, 2, 1, 15, 0, tzinfo=UTC)
    assert first.version_created == datetime(2024, 2, 2, 15, 0, tzinfo=UTC)
    assert first.body_text == "Hello world.\n\nSecond paragraph."
    assert "<script" not in (first.body_html or "")
    assert [s.name for s in first.subjects] == ["hello", "world"]
    assert first.language == "en"
    assert second.uri == "2"
    assert second.headlines == []
    assert second.body_text == "A note without a title."
    assert second.byline == "Feed Author"


def test_truncated_json_feed_names_the_position():
    document = fixture("jsonfeed.json")[:200]
    with pytest.raises(ParseError) as caught:
        parse(document, "application/feed+json", provider="jf")
    assert "line" in caught.value.message and "column" in caught.value.message


def test_media_rss_caption_never_replaces_the_item_description():
    feed = b"""<?xml version="1.0"?>
    <rss version="2.0" xmlns:m="http://search.yahoo.com/mrss/"><channel><title>W</title>
      <language>en-gb</language>
      <item><title>A</title><guid>urn:a</guid>
        <description>The storm closed the coast road.</description>
        <m:content url="http://example.org/a.jpg"><m:description>Waves</m:description></m:content>
      </item>
      <item><title>B</title><guid>urn:b</guid>
        <m:content url="http://example.org/b.mp4"><m:description>Video of the flood.</m:description>
        </m:content></item>
    </channel></rss>"""
    with_text, media_only = parse(feed, provider="rss")
    assert with_text.body_text == "The storm closed the coast road."
    assert media_only.body_text == "Video of the flood."  # the caption is all there is


def test_rss_item_language_wins_over_the_channel_language():
    feed = b"""<?xml version="1.0"?>
    <rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>W</title>
      <language>en-gb</language>
      <item><title>Orage sur la cote</title><guid>urn:fr</guid><dc:language>fr</dc:language>
        <description>La route est fermee.</description></item>
    </channel></rss>"""
    [article] = parse(feed, provider="rss")
    assert article.language == "fr"


def test_atom_entry_inherits_the_feed_author_and_keeps_category_schemes():
    feed = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>W</title><id>urn:feed</id>
      <updated>2024-05-01T12:00:00Z</updated><author><name>Desk</name></author>
      <entry><title>T</title><id>urn:e1</id><updated>2024-05-01T11:00:00Z</updated>
        <category term="20000137" scheme="http://cv.iptc.org/newscodes/mediatopic/"
                  label="flooding"/>
        <summary>Rivers rose.</summary></entry>
    </feed>"""
    [article] = parse(feed, provider="atom")
    assert article.byline == "Desk"
    assert [(s.code, s.name, s.scheme) for s in article.subjects] == [
        ("20000137", "flooding", "http://cv.iptc.org/newscodes/mediatopic/")
    ]
