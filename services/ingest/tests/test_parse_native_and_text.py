"""Native JSON (canonical or minimal) and plain text / Markdown."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from shared.article import Article

from ingest.errors import ParseError, UnsupportedFormat
from ingest.parsing import parse, parse_document

FIXTURES = Path(__file__).parent / "fixtures"


def minted(provider: str, headline: str, body: str) -> str:
    digest = hashlib.sha256((headline + body).encode()).hexdigest()[:24]
    return f"urn:newsflow:{provider}:{digest}"


def test_minimal_native_objects_in_an_array():
    parsed = parse_document((FIXTURES / "native.json").read_bytes(), provider="desk")
    assert parsed.format == "native"
    first, second = parsed.articles
    assert first.uri == minted("desk", "Local team wins cup", first.body_text)
    assert first.body_text == "The match ended 2-1.\n\nFans celebrated downtown."
    assert (first.urgency, first.language, first.byline) == (4, "en", "Sports desk")
    assert second.uri == "urn:example:native:2"
    assert second.version == 3
    assert second.body_text == "The vote was 7-2.\n\nTaxes stay flat."
    assert second.body_html == "<p>The vote was 7-2.</p><p>Taxes stay flat.</p>"


def test_the_same_story_sent_twice_gets_the_same_minted_uri():
    document = b'{"headline": "Same", "body": "Story"}'
    assert parse(document, provider="p")[0].uri == parse(document, provider="p")[0].uri
    assert parse(document, provider="p")[0].uri != parse(document, provider="q")[0].uri


def test_canonical_article_round_trips():
    original = parse((FIXTURES / "ninjs1.json").read_bytes(), provider="ex")[0]
    wire = Article.model_validate(original.model_dump()).model_dump_json(by_alias=True)
    [again] = parse(wire.encode(), "application/json", provider="ex")
    assert again.source.format == "native"
    assert (again.uri, again.version, again.headline) == (
        original.uri,
        original.version,
        original.headline,
    )
    assert again.body_text == original.body_text
    assert again.embargoed_until == original.embargoed_until


def test_markdown_headline_and_paragraphs():
    parsed = parse_document((FIXTURES / "story.md").read_bytes(), "text/markdown", provider="p")
    assert parsed.format == "text"
    [article] = parsed.articles
    assert article.headline == "Heatwave breaks records"
    assert article.body_text == (
        "Temperatures reached 41C in the capital on Tuesday.\nForecasters expect more.\n\n"
        "The health service issued an alert."
    )
    assert article.uri == minted("p", article.headline, article.body_text)


def test_plain_text_with_blank_looking_lines_and_crlf():
    document = "Headline here\r\n\u00a0\r\n \r\nFirst paragraph.\r\n\r\nSecond.".encode()
    [article] = parse(document, provider="p")
    assert article.headline == "Headline here"
    assert article.body_text == "First paragraph.\n\nSecond."


def test_text_that_starts_with_a_bracket_is_not_json():
    [article] = parse(b"[Breaking] Quake hits\n\nDetails follow.", provider="p")
    assert article.headline == "[Breaking] Quake hits"


def test_content_wins_over_a_wrong_content_type():
    parsed = parse_document(b'{"headline": "H", "body": "B"}', "application/xml", provider="p")
    assert parsed.format == "native"


def test_text_plain_that_is_not_json_stays_text():
    [article] = parse(b"{Draft} Ministers meet\n\nTalks begin.", "text/plain", provider="p")
    assert article.headline == "{Draft} Ministers meet"
    assert article.body_text == "Talks begin."


@pytest.mark.parametrize("body", [b"null", b"42", b'"just a string"', b"true"])
def test_a_document_declared_json_must_be_an_object_or_an_array(body: bytes) -> None:
    with pytest.raises(ParseError, match="object or an array"):
        parse(body, "application/json", provider="p")


def test_prose_declared_json_is_still_read_as_text() -> None:
    [article] = parse(b"Ministers meet\n\nTalks begin.", "application/json", provider="p")
    assert article.headline == "Ministers meet"


@pytest.mark.parametrize("content_type", ["image/png", "video/mp4", "audio/mpeg",
                                          "multipart/form-data; boundary=x"])
def test_declared_media_and_form_uploads_are_refused_naming_the_header(
        content_type: str) -> None:
    with pytest.raises(UnsupportedFormat) as refused:
        parse(b"Headline\n\nBody.", content_type, provider="p")
    assert refused.value.field == "content-type"


def test_values_that_cannot_be_used_are_left_out_and_said() -> None:
    parsed = parse_document(orjson.dumps({
        "headline": "Ministers meet", "body": "Talks begin.", "version": "second",
        "urgency": 99, "language": "not a tag", "versioncreated": "yesterday",
        "firstcreated": "", "embargoed": "after the match"}), provider="p")
    [article] = parsed.articles
    [notices] = parsed.notices
    said = {n.field: n.message for n in notices}
    assert set(said) == {"version", "urgency", "language", "versionCreated", "embargoed"}
    assert "'second'" in said["version"] and "'99'" in said["urgency"]
    assert (article.version, article.urgency, article.language) == (None, 9, None)
    assert article.version_created is None and article.pub_status.value == "withheld"


def test_clean_values_give_no_notices() -> None:
    parsed = parse_document(orjson.dumps({
        "headline": "H", "body": "B", "version": "3", "urgency": "2", "language": "EN",
        "versioncreated": "2026-05-01T12:00:00+02:00"}), provider="p")
    assert parsed.notices == [[]]
    assert (parsed.articles[0].version, parsed.articles[0].urgency) == (3, 2)


def test_a_version_too_large_to_store_is_left_out_and_said() -> None:
    parsed = parse_document(orjson.dumps({"headline": "H", "body": "B", "version": 2**63}),
                            provider="p")
    assert parsed.articles[0].version is None
    assert [n.field for n in parsed.notices[0]] == ["version"]


@pytest.mark.parametrize(("first_line", "headline"), [
    ("## Ministers meet ##", "Ministers meet"), ("#Ministers meet", "Ministers meet"),
    ("####### Seven hashes", "####### Seven hashes"), ("# **Ministers meet**", "Ministers meet"),
    ("#a" + " " * 3000 + "b", "a b"),  # a long run of spaces (once slow to parse)
])
def test_markdown_heading_lines_become_the_headline(first_line: str, headline: str) -> None:
    [article] = parse(f"{first_line}\n\nTalks begin.".encode(), "text/markdown", provider="p")
    assert " ".join(article.headline.split()) == headline


@pytest.mark.parametrize("text", [b"[1/3] Storm nears the coast\n\nWinds rise.",
                                  b"{Draft} Ministers meet\n\nTalks begin."])
def test_prose_opening_with_a_bracket_is_text_without_a_content_type(text: bytes) -> None:
    [article] = parse(text, provider="p")
    assert article.headline == text.decode().split("\n")[0]


@pytest.mark.parametrize("broken", [b'{"headline": "x",}', b'[{"headline": "x"'])
def test_broken_json_is_still_a_json_error(broken: bytes) -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        parse(broken, provider="p")
