"""ninjs 1.x / 2.x / 3.x and Superdesk-flavoured ninjs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.article import PubStatus

from ingest.errors import InvalidArticle, ParseError
from ingest.formats.ninjs import dialect
from ingest.parsing import parse, parse_document

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_dialect_is_read_from_the_keys():
    assert dialect({"uri": "u", "versioncreated": "x", "headline": "h"}) == "1.x"
    assert dialect({"uri": "u", "versioncreated": "x", "headlines": []}) == "2.x"
    assert dialect({"uri": "u", "versionCreated": "x", "headlines": []}) == "3.x"
    assert dialect({"guid": "g", "body_html": "<p>x</p>"}) == "superdesk"


def test_ninjs1_snake_case_item():
    parsed = parse_document(fixture("ninjs1.json"), provider="ex")
    assert parsed.format == "ninjs"
    [article] = parsed.articles
    assert article.uri == "urn:example:ninjs1:7"
    assert article.version == 2
    assert article.version_created == datetime(2023, 11, 5, 14, 0, tzinfo=UTC)
    assert article.embargoed_until == datetime(2023, 11, 5, 23, 0, tzinfo=UTC)
    assert article.urgency == 1  # 0 clamps to the highest urgency
    assert article.headline == "Museum reopens after renovation"
    assert article.slugline == "MUSEUM-REOPENS"
    assert article.body_text == "The city museum reopened on Sunday.\n\nEntry is free this week."
    assert "onerror" not in (article.body_html or "")
    assert [(s.code, s.scheme) for s in article.subjects] == [
        ("01000000", "http://cv.iptc.org/newscodes/subjectcode/")
    ]
    assert [p.name for p in article.people] == ["Jane Curator"]
    assert [(p.name, p.code, p.scheme) for p in article.places] == [
        ("Italy", "Q38", "http://www.wikidata.org/entity/")
    ]


def test_ninjs2_arrays_and_cancelled_spelling():
    [article] = parse(fixture("ninjs2.json"), provider="ex")
    assert article.pub_status is PubStatus.canceled
    assert article.headline == "Withdrawn: wrong figures"
    assert article.body_text == "This story has been withdrawn."
    assert article.body_html is None
    assert [(o.name, o.code) for o in article.organisations] == [("Acme Corp", "Q1")]


def test_ninjs3_camel_case_with_garbage_version_and_urgency():
    [article] = parse(fixture("ninjs3.json"), provider="ex")
    assert article.version is None
    assert article.urgency is None
    assert article.language == "en-US"
    assert article.pub_status is PubStatus.withheld
    assert article.version_created == datetime(2024, 1, 10, 18, 0, tzinfo=UTC)
    assert article.body_text == "The company delayed its results."
    assert article.body_html == "<p>The company delayed its results.</p>"


def test_superdesk_envelope_gives_every_item_with_guid_and_string_version():
    articles = parse(fixture("superdesk_envelope.json"), provider="sd")
    assert [(a.uri, a.version, a.urgency) for a in articles] == [
        ("urn:superdesk:1", 3, 4),
        ("urn:superdesk:2", 1, None),
    ]
    assert articles[0].version_created == datetime(2024, 2, 2, 2, 2, 2, tzinfo=UTC)
    assert articles[1].version_created == datetime(2024, 2, 2, 3, 3, 3, tzinfo=UTC)  # naive: UTC
    assert articles[0].source.raw_hash != articles[1].source.raw_hash


def test_kill_with_only_uri_and_status_is_accepted():
    [article] = parse(b'{"uri": "k1", "pubstatus": "canceled"}', provider="ex")
    assert article.pub_status is PubStatus.canceled
    assert article.headlines == [] and article.bodies == []


def test_usable_item_without_headline_or_body_is_refused():
    with pytest.raises(InvalidArticle) as caught:
        parse(b'{"uri": "u1", "pubstatus": "usable"}', provider="ex")
    assert caught.value.field == "headline"


def test_empty_uri_is_refused_never_minted():
    with pytest.raises(InvalidArticle) as caught:
        parse(b'{"uri": "", "headline": "h", "body_text": "b"}', provider="ex")
    assert caught.value.field == "uri"


def test_invalid_json_names_line_and_column():
    document = b'{\n  "uri": "x",\n  "place": [\n    {"name": "Italy"},\n  ]\n}'
    with pytest.raises(ParseError) as caught:
        parse(document, "application/json", provider="ex")
    assert "line 4, column 22" in caught.value.message  # the trailing comma


def test_ninjs3_picture_reads_its_description_located_and_literal_subjects():
    item = b"""{"uri": "urn:pic:2", "type": "picture", "versionCreated": "2024-05-01T10:00:00Z",
      "descriptions": [
        {"role": "text", "contentType": "text/plain", "value": "The ship lies on its side."},
        {"role": "richtext", "contentType": "text/html",
         "value": "<p>The ship lies on its side.</p>"}],
      "subjects": [{"literal": "shipwrecks", "rel": "about"}],
      "located": "Giglio"}"""
    [article] = parse(item, provider="nj")
    assert article.body_text == "The ship lies on its side."
    assert article.body_html == "<p>The ship lies on its side.</p>"
    assert [(s.code, s.rel) for s in article.subjects] == [("shipwrecks", "about")]
    assert [(p.name, p.type) for p in article.places] == [("Giglio", "place")]


@pytest.mark.parametrize("associations", [
    [{"name": "main", "uri": "urn:x:story", "version": "3", "type": "text",
      "headlines": [{"value": "Polls close"}]},
     {"name": "photo", "uri": "urn:x:photo", "rel": "seeAlso"}, {"name": "no uri"}],
    {"main": {"guid": "urn:x:story", "version": 3, "type": "text", "headline": "Polls close"},
     "photo": {"uri": "urn:x:photo", "rel": "seeAlso"}, "broken": "not an object"},
], ids=["ninjs3", "ninjs2"])
def test_a_ninjs_package_keeps_its_associations(associations: object) -> None:
    package = {"uri": "urn:x:pkg", "type": "composite", "associations": associations}
    [article] = parse(json.dumps(package).encode(), provider="ex")
    assert article.type == "composite"
    assert [(a.name, a.uri, a.version, a.rel) for a in article.associations] == [
        ("main", "urn:x:story", 3, None), ("photo", "urn:x:photo", None, "seeAlso")]
    assert [h.value for h in article.associations[0].headlines] == ["Polls close"]
