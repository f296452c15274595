"""NITF 3.x standalone, namespaced or not."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from shared.article import PubStatus

from ingest.parsing import parse, parse_document

FIXTURES = Path(__file__).parent / "fixtures"


def test_nitf_maps_docdata_head_and_body():
    parsed = parse_document((FIXTURES / "nitf_standalone.xml").read_bytes(), provider="ex")
    assert parsed.format == "nitf"
    [article] = parsed.articles
    assert article.uri == "urn:example:nitf:42"
    assert article.urgency == 2
    assert article.version_created == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    assert article.embargoed_until == datetime(2024, 1, 16, 6, 0, tzinfo=UTC)
    assert article.headline == "Stocks rally at the open"  # &nbsp; of a DTD never loaded
    assert [h.value for h in article.headlines if h.role != "main"] == ["Tech leads gains"]
    assert article.byline == "Ada Lovelace"
    assert article.slugline == "MARKETS-OPEN"
    assert article.ed_note == "Moves on the business wire"
    assert article.language == "en-US"


def test_nitf_body_paragraphs_without_media_captions():
    [article] = parse((FIXTURES / "nitf_standalone.xml").read_bytes(), provider="ex")
    assert article.body_text == (
        "Stocks rose sharply at the open on Monday.\n\nShares of Analytical Engines Ltd gained 5%."
    )
    assert "A trader" not in (article.body_html or "")


def test_nitf_subjects_and_identified_content():
    [article] = parse((FIXTURES / "nitf_standalone.xml").read_bytes(), provider="ex")
    assert [(s.code, s.name) for s in article.subjects] == [
        ("subj:04000000", "Economy, Business and Finance")
    ]
    assert [p.name for p in article.people] == ["Ada Lovelace"]
    assert [o.name for o in article.organisations] == ["Analytical Engines Ltd"]
    assert [p.name for p in article.places] == ["London"]


def test_namespaced_nitf_without_doc_id_gets_a_stable_minted_uri():
    document = b"""<?xml version="1.0"?>
    <nitf xmlns="http://iptc.org/std/NITF/2006-10-18/"><head><docdata>
      <date.issue norm="20190703T040512Z"/></docdata></head>
      <body><body.head><hedline><hl1>BC-BBN--Top Ten</hl1></hedline></body.head>
      <body.content><p>McNeil NYM .351</p></body.content></body></nitf>"""
    first = parse(document, provider="ap")[0]
    again = parse(document, provider="ap")[0]
    assert first.headline == "BC-BBN--Top Ten"
    assert first.uri.startswith("urn:newsflow:ap:") and len(first.uri.rsplit(":", 1)[1]) == 24
    assert first.uri == again.uri


def test_placeholder_release_date_is_no_embargo_and_kill_status_is_read():
    document = b"""<nitf><head><docdata management-status="canceled">
      <doc-id id-string="cp-1"/><date.release norm="YYYYMMDD000000-HHMM"/></docdata></head>
      <body><body.content><p>x</p></body.content></body></nitf>"""
    [article] = parse(document, provider="cp")
    assert article.embargoed_until is None
    assert article.pub_status is PubStatus.canceled


def test_structured_bylines_keep_their_words_apart_and_none_is_lost():
    [article] = parse((FIXTURES / "nitf_ap_style.xml").read_bytes(), provider="ex")
    assert article.byline == (
        "By JOHN DOE Example Press Writer; By MARY ROE Example Press Writer"
    )


def test_identified_content_codes_and_structured_locations():
    [article] = parse((FIXTURES / "nitf_ap_style.xml").read_bytes(), provider="ex")
    [org] = article.organisations
    assert (org.name, org.code, org.scheme) == ("Example Holdings", "EXMP", "ticker")
    assert [p.name for p in article.places] == ["Madrid, Spain"]


def test_body_end_tagline_is_part_of_the_story_and_media_leaves_no_gap():
    [article] = parse((FIXTURES / "nitf_ap_style.xml").read_bytes(), provider="ex")
    assert article.body_text == (
        "Real Madrid won the final 2-1.\n\nThe winner came in stoppage time.\n\n"
        "Example Press writer Ann Other contributed to this report."
    )
    html = article.body_html or ""
    assert "Players celebrate" not in html and "\n" not in html
