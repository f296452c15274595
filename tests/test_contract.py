"""The public stream contract: what docs/asyncapi.yaml and the README promise is what is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.article import Article, Source
from shared.events import (
    EVENT_TYPES,
    ArticleIngested,
    ArticlePublished,
    Event,
    EventDecodeError,
)

from deliver.decoding import PUBLISH_SOURCE
from publish.handlers import EVENT_SOURCE

ROOT = Path(__file__).resolve().parents[1]


def _published() -> Event:
    article = Article(
        uri="urn:contract:1",
        version=2,
        source=Source(provider="p", format="json"),
        headlines=[{"value": "H"}],
    )
    return ArticlePublished.for_article(article, "newsflow/publish")


def test_stream_entries_have_exactly_the_documented_fields() -> None:
    spec = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    documented = spec["components"]["schemas"]["entryFields"]
    fields = _published().to_fields()
    assert set(fields) == set(documented["required"]) == set(documented["properties"])
    assert set(documented["properties"]["ce_type"]["enum"]) == set(EVENT_TYPES)


def test_every_documented_field_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in _published().to_fields():
        assert f"| `{name}` |" in readme


def test_an_entry_round_trips_with_plain_string_fields() -> None:
    event = _published()
    as_any_client_sees_it = {
        k.encode() if isinstance(k, str) else k: v.encode() if isinstance(v, str) else v
        for k, v in event.to_fields().items()
    }
    assert Event.from_fields(as_any_client_sees_it) == event
    assert as_any_client_sees_it[b"ce_time"].endswith(b"Z")


def test_data_that_is_not_utf8_is_refused_naming_the_byte() -> None:
    fields = {k.encode(): v.encode() if isinstance(v, str) else v
              for k, v in _published().to_fields().items()}
    fields[b"data"] = b'{"uri": "caf\xe9"}'  # Latin-1, as a misconfigured client writes it
    with pytest.raises(EventDecodeError, match=r"^data: not UTF-8 at byte 12"):
        Event.from_fields(fields)


def test_an_entry_built_without_the_event_decodes_to_the_event_about_that_article() -> None:
    article = Article(
        uri="urn:contract:2",
        version=3,
        source=Source(provider="p", format="json"),
        headlines=[{"value": "Ständige Ausschüsse \u2028 tagen"}],
        bodies=[{"value": 'Text\nmit "Zeichen" & <Markup>.'}],
        embargoed_until="2026-05-01T10:00:00+02:00",
        urgency=3,
    )
    event_id = ArticleIngested.article_event_id(article.idempotency_key())
    fields = ArticleIngested.article_fields(article, "newsflow/ingest", event_id)
    as_any_client_sees_it = {
        k.encode() if isinstance(k, str) else k: v.encode() if isinstance(v, str) else v
        for k, v in fields.items()
    }
    decoded = Event.from_fields(as_any_client_sees_it)
    expected = ArticleIngested.for_article(article, "newsflow/ingest", time=decoded.time)
    assert set(fields) == set(expected.to_fields())
    assert decoded == expected
    assert decoded.article() == article


def test_deliver_trusts_publishs_entries_by_the_source_publish_writes() -> None:
    """deliver decodes publish's data only for content filters (deliver/decoding.py): under
    another source name it would check every entry whole, or trust another producer's."""
    assert PUBLISH_SOURCE == EVENT_SOURCE
