"""publish's entries are routed on their attributes, their data decoded only for content filters;
every other producer's entry is checked whole."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from shared.article import Article, Source
from shared.events import ArticleEnriched, ArticleKilled, ArticlePublished, EventDecodeError
from shared.filters import KILLED, PUBLISHED

from deliver.decoding import PUBLISH_SOURCE, read_entry

TIME = datetime(2026, 5, 1, 8, 30, 15, 250000, tzinfo=UTC)


def entry(source: str = PUBLISH_SOURCE, kind: str = ArticlePublished.TYPE,
          changes: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
    """An entry as Redis returns it, as publish writes it unless told otherwise."""
    article = Article(uri="urn:dec:1", version=1, language="en",
                      source=Source(provider="dpa", format="json"),
                      headlines=[{"value": "Harbour \"project\" ☃ delayed"}])
    event = ArticlePublished.for_article(article, source, time=TIME)
    raw = {str(k).encode(): v if isinstance(v, bytes) else str(v).encode()
           for k, v in event.to_fields().items()}
    raw[b"ce_type"] = kind.encode()
    raw.update(changes or {})
    return raw


@pytest.mark.parametrize("decode", [False, True])
def test_a_publish_entry_is_read_with_its_data_as_written(decode: bool) -> None:
    fields = entry()
    read = read_entry(fields, decode=decode)
    assert read is not None
    assert (read.type, read.subject, read.time) == (PUBLISHED, "urn:dec:1", TIME)
    assert read.id == fields[b"ce_id"].decode()
    assert read.data == fields[b"data"]
    assert read.article == (orjson.loads(fields[b"data"]) if decode else {})


def test_a_kill_is_read_as_a_kill_and_other_types_are_not_webhooks_business() -> None:
    kill = read_entry(entry(kind=ArticleKilled.TYPE), decode=False)
    assert kill is not None and kill.type == KILLED
    assert read_entry(entry(kind=ArticleEnriched.TYPE), decode=False) is None
    assert read_entry(entry("newsflow/test", kind=ArticleEnriched.TYPE), decode=False) is None


@pytest.mark.parametrize("decode", [False, True])
@pytest.mark.parametrize(("data", "error"), [
    (b"[1, 2]", "data: a JSON object is needed"),
    (b'"text"', "data: a JSON object is needed"),
    (b"null", "data: a JSON object is needed"),
    (b"", "data: a JSON object is needed"),
    (b'{"headline": "\xff\xfe"}', "data: not UTF-8 at byte 14"),
])
def test_publish_data_that_is_not_a_utf8_object_is_poison_whatever_the_filters(
        data: bytes, error: str, decode: bool) -> None:
    with pytest.raises(EventDecodeError, match=f"^{error}"):
        read_entry(entry(changes={b"data": data}), decode=decode)


def test_publish_data_only_decoding_finds_bad_is_poison_when_a_filter_decodes_it() -> None:
    """publish writes no such thing (orjson's output); what it would take is defined all the
    same: undecoded, it is handed on as written."""
    fields = entry(changes={b"data": b"{not json}"})
    with pytest.raises(EventDecodeError, match=r"^data: not JSON"):
        read_entry(fields, decode=True)
    read = read_entry(fields, decode=False)
    assert read is not None and read.data == b"{not json}"


@pytest.mark.parametrize(("field", "value", "error"), [
    (b"ce_id", b"x" * 257, "ce_id: must be 1 to 256 characters"),
    (b"ce_time", b"yesterday", "ce_time: not an ISO 8601 time"),
    (b"ce_subject", b"", "ce_subject: must be 1 to 2048 characters"),
    (b"ce_type", b"news.article.updated", "ce_type: unknown event type"),
    (b"ce_id", b"\xff", "ce_id: not UTF-8"),
])
def test_the_attributes_of_a_publish_entry_are_checked_as_every_entrys(
        field: bytes, value: bytes, error: str) -> None:
    for source in (PUBLISH_SOURCE, "newsflow/test"):
        with pytest.raises(EventDecodeError, match=f"^{error}"):
            read_entry(entry(source, changes={field: value}), decode=False)


def test_a_publish_entry_without_data_is_poison() -> None:
    fields = entry()
    del fields[b"data"]
    with pytest.raises(EventDecodeError, match=r"^data: missing field"):
        read_entry(fields, decode=False)


@pytest.mark.parametrize(("changes", "error"), [
    ({b"data": b"{not json"}, "data: not JSON"),
    ({b"data": b"[1, 2]"}, "data: a JSON object is needed"),
    ({b"content-type": b"text/plain"}, "content-type: application/json is needed"),
])
def test_another_producers_entry_is_checked_whole_even_with_no_filter_to_decode_for(
        changes: dict[bytes, bytes], error: str) -> None:
    with pytest.raises(EventDecodeError, match=f"^{error}"):
        read_entry(entry("newsflow/test", changes=changes), decode=False)
    read = read_entry(entry("newsflow/test"), decode=False)
    assert read is not None and read.article["uri"] == "urn:dec:1"  # decoded all the same
