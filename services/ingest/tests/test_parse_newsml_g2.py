"""NewsML-G2: newsMessage with several items, newsItem with XHTML, packageItem."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.article import PubStatus

from ingest.errors import InvalidArticle
from ingest.parsing import parse, parse_document

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_news_message_gives_one_article_per_usable_item_and_names_the_rejected_ones():
    parsed = parse_document(fixture("g2_news_message.xml"), provider="ex")
    assert parsed.format == "newsml-g2"
    assert [a.uri for a in parsed.articles] == [
        "urn:newsml:example.org:20240301:flood",
        "urn:newsml:example.org:20240301:kill",
        "urn:newsml:example.org:20240301:pkg",
    ]
    rejected = {r.item: r.error for r in parsed.rejections}
    assert list(rejected) == ["'urn:newsml:example.org:20240301:placeholder'"]
    assert rejected["'urn:newsml:example.org:20240301:placeholder'"].field == "headline"


def test_a_package_of_references_only_is_kept_as_a_composite_with_its_members():
    parsed = parse_document(fixture("g2_news_message.xml"), provider="ex")
    package = parsed.articles[2]
    assert (package.type, package.version) == ("composite", 1)
    assert [(a.uri, a.name) for a in package.associations] == [
        ("urn:newsml:example.org:20240301:flood", None),
        ("urn:newsml:example.org:20240301:missing", None),
    ]
    assert package.wire()["associations"][0] == {
        "uri": "urn:newsml:example.org:20240301:flood", "headlines": []}


def test_news_item_maps_identity_dates_status_and_metadata():
    article = parse(fixture("g2_news_message.xml"), "application/xml", provider="ex")[0]
    assert article.version == 3
    assert article.version_created == datetime(2024, 3, 1, 10, 30, tzinfo=UTC)
    assert article.first_created == datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
    assert article.pub_status is PubStatus.usable
    assert article.embargoed_until is None  # <embargoed/> means no embargo
    assert article.urgency == 3
    assert article.language == "en-GB"
    assert article.headline == "River Ouse bursts its banks"
    assert [h.role for h in article.headlines] == ["main", "subHeadline"]
    assert article.slugline == "UK-FLOOD"
    assert article.byline == "By Jane Doe"
    assert article.signals == ["correction"]
    assert article.ed_note == "Corrects the river name in paragraph 2."
    assert article.source.format == "newsml-g2"
    assert article.source.provider == "ex"


def test_news_item_keeps_subject_qcodes_and_typed_concepts_as_entities():
    article = parse(fixture("g2_news_message.xml"), provider="ex")[0]
    assert [(s.code, s.scheme, s.name) for s in article.subjects] == [
        ("medtop:20000137", "medtop", "flooding")
    ]
    assert [(p.name, p.code) for p in article.people] == [("Jane Doe", "person:jdoe")]
    assert [o.name for o in article.organisations] == ["Environment Agency"]
    assert [(p.name, p.code) for p in article.places] == [("York", "city:York")]


def test_inline_nitf_body_is_sanitized_and_rendered_as_paragraph_text():
    article = parse(fixture("g2_news_message.xml"), provider="ex")[0]
    assert article.body_text == (
        "The River Ouse burst its banks on Friday.\n\nHundreds of homes in York were evacuated."
    )
    html = article.body_html or ""
    assert "<p>The River Ouse burst its banks on Friday.</p>" in html
    assert "script" not in html and "onclick" not in html and "alert" not in html


def test_canceled_item_without_content_is_accepted_as_a_kill():
    kill = parse(fixture("g2_news_message.xml"), provider="ex")[1]
    assert kill.pub_status is PubStatus.canceled
    assert kill.killed
    assert kill.version == 2


def test_items_of_a_message_hash_their_own_bytes():
    flood, kill, _package = parse(fixture("g2_news_message.xml"), provider="ex")
    document_hash = hashlib.sha256(fixture("g2_news_message.xml")).hexdigest()
    assert flood.source.raw_hash != kill.source.raw_hash
    assert document_hash not in (flood.source.raw_hash, kill.source.raw_hash)


def test_xhtml_item_without_namespace_prefix_and_with_embargo_and_clamped_urgency():
    [article] = parse(fixture("g2_news_item_xhtml.xml"), provider="ex")
    assert article.uri == "tag:example.org,2024:xhtml"
    assert article.embargoed_until == datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
    assert article.urgency == 9
    assert article.signals == ["update"]
    # The XHTML <header> repeats the headline; it is metadata, not body.
    assert article.body_text.startswith("The central bank kept its main rate at 4%.")
    assert "Markets had expected a cut." in article.body_text
    assert "javascript" not in (article.body_html or "")
    assert article.source.raw_hash == hashlib.sha256(fixture("g2_news_item_xhtml.xml")).hexdigest()


def test_package_item_is_readable_through_its_headline_and_references():
    [article] = parse(fixture("g2_package_item.xml"), provider="ex")
    assert article.type == "composite"
    assert article.version == 4
    assert article.headline == "Election night: all the coverage"
    assert article.body_text == (
        "Polls close across the country\n\n"
        "First results expected at midnight\nCounting has started in 650 constituencies."
    )


def test_message_of_only_unreadable_items_is_refused_with_every_reason():
    message = b"""<newsMessage><itemSet>
        <packageItem guid="P"><groupSet/></packageItem>
        <newsItem guid="N1"> ..... </newsItem>
    </itemSet></newsMessage>"""
    with pytest.raises(InvalidArticle) as caught:
        parse(message, provider="ex")
    assert "none of the 2 items is usable" in caught.value.message
    assert "'N1'" in caught.value.message


def test_a_package_member_keeps_its_group_role_version_class_and_headline():
    package = b"""<packageItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="P" version="2">
      <groupSet root="G0"><group id="G0" role="group:root"><groupRef idref="G1"/></group>
        <group id="G1" role="group:main">
          <itemRef residref="urn:x:story" version="3" contenttype="application/nitf+xml">
            <itemClass qcode="ninat:text"/><title>Polls close</title></itemRef>
          <itemRef residref="urn:x:photo" rel="irel:seeAlso"/>
        </group></groupSet></packageItem>"""
    [article] = parse(package, provider="ex")
    assert article.headline == "Polls close"
    story, photo = article.associations
    assert (story.name, story.uri, story.version, story.type) == ("main", "urn:x:story", 3,
                                                                  "text")
    assert [h.value for h in story.headlines] == ["Polls close"]
    assert (photo.uri, photo.rel) == ("urn:x:photo", "irel:seeAlso")


def test_status_withheld_and_cancelled_spelling():
    item = b"""<newsItem guid="g1" version="1"><itemMeta><pubStatus qcode="stat:cancelled"/>
        </itemMeta></newsItem>"""
    [article] = parse(item, provider="ex")
    assert article.pub_status is PubStatus.canceled


def test_unknown_status_is_refused_rather_than_published():
    item = b"""<newsItem guid="g1"><itemMeta><pubStatus qcode="stat:maybe"/></itemMeta>
        <contentMeta><headline>H</headline></contentMeta></newsItem>"""
    with pytest.raises(InvalidArticle) as caught:
        parse(item, provider="ex")
    assert caught.value.field == "pubStatus"


def test_free_text_embargo_holds_the_item():
    item = b"""<newsItem guid="g1"><itemMeta><embargoed>after the match</embargoed></itemMeta>
        <contentMeta><headline>Result</headline></contentMeta></newsItem>"""
    [article] = parse(item, provider="ex")
    assert article.pub_status is PubStatus.withheld
    assert article.embargoed_until is None
    assert "after the match" in (article.ed_note or "")


def test_empty_guid_is_refused_naming_the_uri():
    item = b"""<newsItem guid=" "><contentMeta><headline>H</headline></contentMeta></newsItem>"""
    with pytest.raises(InvalidArticle) as caught:
        parse(item, provider="ex")
    assert caught.value.field == "uri"


def test_full_story_rendition_wins_over_an_abstract_sent_first():
    [article] = parse(fixture("g2_renditions.xml"), provider="ex")
    assert article.body_text == (
        "The harbour reopened on Wednesday.\n\nFerries will run a reduced timetable until Friday."
    )
    # The XHTML rendition tells the same story as the plain one and keeps its markup.
    assert "<p>Ferries will run a reduced timetable until Friday.</p>" in (article.body_html or "")


def test_every_creator_is_in_the_byline_and_located_keeps_its_scheme_and_uri():
    [article] = parse(fixture("g2_renditions.xml"), provider="ex")
    assert article.byline == "Ann Archer, Ben Baker"
    [london] = article.places
    assert (london.name, london.code, london.scheme, london.uri) == (
        "London", "geoloc:2643743", "geoloc", "http://sws.geonames.org/2643743/"
    )


def test_picture_item_without_headline_reads_its_caption():
    item = b"""<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:pic:1"
        version="1" standard="NewsML-G2" standardversion="2.29">
      <itemMeta><itemClass qcode="ninat:picture"/><provider qcode="nprov:EX"/>
        <versionCreated>2024-05-01T12:30:00Z</versionCreated></itemMeta>
      <contentMeta>
        <creditline>Example Photo/J. Smith</creditline>
        <description role="drol:caption">Firefighters battle a blaze on Monday.</description>
      </contentMeta>
      <contentSet>
        <remoteContent href="http://example.org/pic.jpg" contenttype="image/jpeg"/>
      </contentSet></newsItem>"""
    [article] = parse(item, provider="ex")
    assert article.type == "picture"
    assert article.body_text == "Firefighters battle a blaze on Monday."
