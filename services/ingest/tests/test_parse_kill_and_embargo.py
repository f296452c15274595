"""Kills and embargoes across formats: never silently released, never lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.article import PubStatus

from ingest.errors import InvalidArticle
from ingest.parsing import parse


def test_free_text_embargo_is_held_with_an_explanation():
    [article] = parse(b'{"uri": "e1", "embargoed": "Next Monday"}', provider="x")
    assert article.pub_status is PubStatus.withheld
    assert article.embargoed_until is None
    assert "Next Monday" in (article.ed_note or "")


def test_free_text_embargo_on_a_full_story_keeps_its_content_and_existing_note():
    document = (
        b'{"uri": "e2", "headline": "H", "body_text": "B", "ednote": "Check figures",'
        b' "embargoed": "when the minister speaks"}'
    )
    [article] = parse(document, provider="x")
    assert article.pub_status is PubStatus.withheld
    assert article.headline == "H" and article.body_text == "B"
    assert article.ed_note is not None
    assert article.ed_note.startswith("Check figures\n")


@pytest.mark.parametrize("empty", ['""', "null", '"YYYYMMDD000000-HHMM"', '"0000-00-00T00:00:00Z"'])
def test_empty_or_placeholder_embargo_means_no_embargo(empty: str):
    document = f'{{"uri": "e3", "headline": "H", "embargoed": {empty}}}'.encode()
    [article] = parse(document, provider="x")
    assert article.embargoed_until is None
    assert article.pub_status is PubStatus.usable


def test_real_embargo_is_kept_in_utc():
    document = b'{"uri": "e4", "headline": "H", "embargoed": "2030-01-01T09:00:00+0900"}'
    [article] = parse(document, provider="x")
    assert article.embargoed_until == datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    assert article.pub_status is PubStatus.usable


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("canceled", PubStatus.canceled),
        ("cancelled", PubStatus.canceled),
        ("Canceled", PubStatus.canceled),
        ("stat:withheld", PubStatus.withheld),
        ("usable", PubStatus.usable),
    ],
)
def test_status_spellings(status: str, expected: PubStatus):
    document = f'{{"uri": "s1", "headline": "H", "pubstatus": "{status}"}}'.encode()
    assert parse(document, provider="x")[0].pub_status is expected


def test_unknown_status_names_the_field():
    with pytest.raises(InvalidArticle) as caught:
        parse(b'{"uri": "s2", "headline": "H", "pubStatus": "paused"}', provider="x")
    assert caught.value.field == "pubStatus"
    assert caught.value.status == 422


@pytest.mark.parametrize("document", [
    b'{"uri": "e3", "headline": "H", "body_text": "B", "pubStatus": "embargoed"}',
    b'<nitf><head><docdata management-status="embargoed"><doc-id id-string="e3"/></docdata>'
    b'</head><body><body.head><hedline><hl1>H</hl1></hedline></body.head>'
    b'<body.content><p>B</p></body.content></body></nitf>',
])
def test_marked_embargoed_without_a_time_is_held(document: bytes):
    [article] = parse(document, provider="x")
    assert article.pub_status is PubStatus.withheld
    assert article.headline == "H"


def test_an_unreadable_embargo_zone_holds_the_story_rather_than_guess_utc():
    [article] = parse(b'{"uri": "e4", "headline": "H", "body_text": "B",'
                      b' "embargoed": "2030-01-02 10:00 ET"}', provider="x")
    assert article.pub_status is PubStatus.withheld and article.embargoed_until is None


def test_a_very_long_embargo_value_is_refused_as_a_date_at_once():
    document = {"uri": "e5", "headline": "H", "body_text": "B", "embargoed": "M" * 100_000}
    [article] = parse(json.dumps(document).encode(), provider="x")
    assert article.pub_status is PubStatus.withheld


def test_a_newsml_g2_kill_given_as_a_uri_is_a_kill():
    document = (b'<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:g2:k" '
                b'version="3"><itemMeta><itemClass qcode="ninat:text"/>'
                b'<pubStatus uri="http://cv.iptc.org/newscodes/pubstatusg2/canceled"/>'
                b'</itemMeta></newsItem>')
    [article] = parse(document, provider="x")
    assert article.pub_status is PubStatus.canceled

