"""Kills and embargoes across formats: never silently released, never lost."""

from __future__ import annotations

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
