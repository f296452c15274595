"""Bounded, reproducible fuzzing of every parser: real-looking documents of each format,
truncated, bytes flipped, elements duplicated, encodings changed. Nothing but ingest's own
errors may come out, no item may take long, and what is accepted can be stored."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.identifiers import UNSAFE_IN_ID

from ingest.errors import IngestError
from ingest.limits import DEFAULT_LIMITS
from ingest.parsing import parse_document

FIXTURES = Path(__file__).parent / "fixtures"
DOCUMENTS = {p.name: p.read_bytes()
             for p in sorted([*FIXTURES.glob("*.*"), *FIXTURES.glob("fuzz/*.*")])}
EXAMPLES_PER_DOCUMENT = 100
SECONDS_PER_DOCUMENT = 2.0  # CPU; real ones take milliseconds
FUZZ = settings(max_examples=EXAMPLES_PER_DOCUMENT, derandomize=True, deadline=None,
                database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONTENT_TYPES = [None, "application/json", "application/xml", "application/rss+xml",
                 "application/vnd.iptc.g2.newsitem+xml", "text/plain", "text/html"]
ENCODINGS = ["utf-16", "utf-16-le", "utf-8-sig", "latin-1", "cp1250", "cp1251", "shift_jis"]
TOKENS = [b"<", b">", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"&nbsp;", b"]]>", b"<![CDATA[",
          b"\x00", b"\xff\xfe", b"\xe9", b"\xc3", b'"', b"'", b"{", b"}", b"[", b"]", b",",
          b"<!DOCTYPE x>", b'<!ENTITY a "b">', b"\r\n", b"\x1b[2J", "\u202e".encode(),
          b'<p a="1" a="2">', b"</body.content>", b"<itemRef residref='x'/>"]  # fmt: skip
_ELEMENT = re.compile(rb"<([A-Za-z][\w.:-]*)[^<>]*>[^<]*</\1>|\{[^{}]*\}")


@st.composite
def mutated(draw: st.DrawFn, document: bytes) -> bytes:
    data = bytearray(document)
    for _ in range(draw(st.integers(1, 5))):
        operation = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate",
                                          "reencode", "redeclare"]))
        position = draw(st.integers(0, len(data)))
        if operation == "truncate":
            del data[position:]
        elif operation == "flip" and position < len(data):
            data[position] ^= draw(st.integers(1, 255))
        elif operation == "insert":
            data[position:position] = draw(st.sampled_from(TOKENS))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif operation == "duplicate":
            elements = list(_ELEMENT.finditer(bytes(data)))
            if elements:
                chosen = draw(st.sampled_from(elements))
                copies = chosen.group(0) * draw(st.integers(1, 50))
                data[chosen.end() : chosen.end()] = copies
        elif operation == "reencode":
            text = bytes(data).decode("utf-8", errors="replace")
            data = bytearray(text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace"))
        else:  # declare another encoding than the bytes are in
            declared = draw(st.sampled_from([b"ISO-8859-1", b"UTF-16", b"koi8-r", b"nonsense"]))
            data = bytearray(re.sub(rb'encoding="[^"]*"', b'encoding="' + declared + b'"',
                                    bytes(data), count=1))
    return bytes(data)


def check(raw: bytes, content_type: str | None) -> None:
    started = time.process_time()
    try:
        parsed = parse_document(raw, content_type, provider="fuzz")
    except IngestError:
        parsed = None
    took = time.process_time() - started
    assert took < SECONDS_PER_DOCUMENT, f"{took:.2f}s of CPU"
    for article in parsed.articles if parsed else ():
        assert article.uri.strip() and not UNSAFE_IN_ID.search(article.uri)
        stored = len(article.model_dump_json(by_alias=True, exclude_none=True))
        assert stored <= DEFAULT_LIMITS.stored_bytes
        assert len(article.headline) <= DEFAULT_LIMITS.headline_chars


@pytest.mark.parametrize("name", DOCUMENTS)
def test_mutated_documents_of_every_format_raise_only_ingest_errors(name: str) -> None:
    @FUZZ
    @given(raw=mutated(DOCUMENTS[name]), content_type=st.sampled_from(CONTENT_TYPES))
    def fuzz(raw: bytes, content_type: str | None) -> None:
        check(raw, content_type)

    fuzz()


def test_every_fuzzed_document_parses_as_it_is() -> None:
    for name, raw in DOCUMENTS.items():
        parsed = parse_document(raw, provider="fuzz")
        assert parsed.articles, name
