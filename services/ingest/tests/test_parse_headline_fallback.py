"""Every format that can carry NITF finds a headline the same way: the G2 headline, NITF
hedline/hl1, NITF head/title, then the body's first sentence."""

from __future__ import annotations

import pytest

from ingest.draft import first_sentence
from ingest.parsing import parse

BODY = ("<p>The U.S. Senate passed the bill on Tuesday after a long night. "
        "It goes to the House next week.</p>")


def _nitf(title: str = "", hl1: str = "") -> str:
    head = f"<head><title>{title}</title></head>" if title else "<head/>"
    hedline = f"<body.head><hedline><hl1>{hl1}</hl1></hedline></body.head>" if hl1 else ""
    return f"<nitf>{head}<body>{hedline}<body.content>{BODY}</body.content></body></nitf>"


def _g2(nitf: str, headline: str = "") -> bytes:
    meta = f"<contentMeta><headline>{headline}</headline></contentMeta>" if headline else ""
    return (f'<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:x:1" version="1">'
            f'{meta}<contentSet><inlineXML contenttype="application/nitf+xml">{nitf}'
            "</inlineXML></contentSet></newsItem>").encode()


def _newsml12(nitf: str) -> bytes:
    return ("<NewsML><NewsItem><Identification><NewsIdentifier><ProviderId>x.org</ProviderId>"
            "<DateId>20240201</DateId><NewsItemId>A1</NewsItemId><RevisionId>1</RevisionId>"
            "</NewsIdentifier></Identification><NewsComponent><ContentItem>"
            f"<DataContent>{nitf}</DataContent></ContentItem></NewsComponent></NewsItem>"
            "</NewsML>").encode()


FORMATS = {"nitf": lambda nitf: nitf.encode(), "newsml-g2": _g2, "newsml-1.2": _newsml12}


@pytest.mark.parametrize("wrap", FORMATS.values(), ids=FORMATS.keys())
@pytest.mark.parametrize(("title", "hl1", "expected"), [
    ("Head title", "Hedline", "Hedline"),
    ("Head title", "", "Head title"),
    ("", "", "The U.S. Senate passed the bill on Tuesday after a long night."),
])
def test_the_headline_falls_back_through_hedline_title_and_first_sentence(
        wrap: object, title: str, hl1: str, expected: str) -> None:
    [article] = parse(wrap(_nitf(title, hl1)), provider="ex")  # type: ignore[operator]
    assert article.headline == expected


def test_a_g2_headline_comes_before_any_of_its_nitf():
    [article] = parse(_g2(_nitf("Head title", "Hedline"), headline="G2 headline"),
                      provider="ex")
    assert article.headline == "G2 headline"


@pytest.mark.parametrize(("text", "sentence"), [
    ("Mr. Smith went to Washington. He stayed.", "Mr. Smith went to Washington."),
    ("No stop at all in this line\nSecond line.", "No stop at all in this line"),
    ("«Nein», sagte sie. Dann ging sie.", "«Nein», sagte sie."),
    ("Prices rose 2.5 percent in May. Economists were surprised.",
     "Prices rose 2.5 percent in May."),
])
def test_the_first_sentence_stops_at_a_real_sentence_end(text: str, sentence: str) -> None:
    assert first_sentence(text) == sentence
