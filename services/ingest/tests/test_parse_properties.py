"""Property tests: no bytes make the parsers fail with anything but an IngestError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.article import Article

from ingest.errors import IngestError, ParseError
from ingest.parsing import parse, parse_document

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = sorted(p.read_bytes() for p in FIXTURES.iterdir() if p.is_file())
CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "application/xml", "text/plain", "application/rss+xml", "x/y"]
)
PROBE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(raw: bytes, content_type: str | None) -> None:
    """The unguarded core: a defect shows here as itself, not as a ParseError."""
    try:
        parsed = parse_document(raw, content_type, provider="prop")
    except IngestError:
        return
    for article in parsed.articles:
        Article.model_validate(article.model_dump())
        assert article.source.provider == "prop"
        assert article.uri.strip()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    sample = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, len(sample)))
        if operation == "flip" and position < len(sample):
            sample[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            token = draw(
                st.sampled_from(
                    [b"<", b">", b"&", b"&#0;", b"&#x110000;", b"]]>", b"\x00", b"\xff\xfe",
                     b'"', b"{", b"}", b"[", b"<!DOCTYPE x>", b"<![CDATA[", b"\xe9"]
                )
            )  # fmt: skip
            sample[position:position] = token
        elif operation == "delete":
            del sample[position : position + draw(st.integers(1, 40))]
        else:
            del sample[position:]
    return bytes(sample)


@PROBE
@given(raw=st.binary(max_size=2048), content_type=CONTENT_TYPES)
def test_random_bytes_raise_only_ingest_errors(raw: bytes, content_type: str | None):
    check(raw, content_type)


@PROBE
@given(raw=mutated(), content_type=CONTENT_TYPES)
def test_mutated_samples_raise_only_ingest_errors(raw: bytes, content_type: str | None):
    check(raw, content_type)


@PROBE
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_truncated_samples_raise_only_ingest_errors(sample: bytes, data: st.DataObject):
    check(sample[: data.draw(st.integers(0, len(sample)))], None)


@PROBE
@given(text=st.text(max_size=500))
def test_any_text_raises_only_ingest_errors(text: str):
    check(text.encode("utf-8", "surrogatepass"), "text/plain")


def test_every_sample_parses():
    for sample in SAMPLES:
        assert parse(sample, provider="prop")


def test_the_entry_point_turns_a_parser_defect_into_a_parse_error(monkeypatch):
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("defect")

    monkeypatch.setattr("ingest.parsing.parse_document", broken)
    with pytest.raises(ParseError) as caught:
        parse(b"{}", provider="prop")
    assert caught.value.status == 400
