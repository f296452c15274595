"""Malformed entries XADDed straight to ``news.ingested`` and ``news.enriched``.

Each goes to its stream's ``.dlq`` at once with a reason that names what is wrong (bytes that
are not UTF-8 shown escaped), and stories sent alongside flow on as if nothing happened.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.article import Article, Source
from shared.events import (
    ENRICHED_STREAM,
    INGESTED_STREAM,
    ArticleEnriched,
    ArticleIngested,
    Event,
)

pytestmark = pytest.mark.e2e

BAD = b"\xff\xfe\xfa"
FIVE_MB = 5 * 1024 * 1024


def _valid(kind: type[Event]) -> dict[bytes, bytes]:
    article = Article(uri="urn:poison:valid", version=1, language="en",
                      source=Source(provider="t", format="json"),
                      headlines=[{"value": "Bridge reopens"}], bodies=[{"value": "Traffic."}])
    fields = kind.for_article(article, "test").to_fields()
    return {str(k).encode(): v if isinstance(v, bytes) else str(v).encode()
            for k, v in fields.items()}


def catalogue(kind: type[Event]) -> list[tuple[str, dict[bytes, bytes], bytes]]:
    """(case, fields, what the dead letter's reason must say)."""
    valid = _valid(kind)

    def but(**changes: bytes | None) -> dict[bytes, bytes]:
        fields = dict(valid)
        for name, value in changes.items():
            key = name.replace("_", "-") if name == "content_type" else name
            if value is None:
                fields.pop(key.encode())
            else:
                fields[key.encode()] = value
        return fields

    cases = [
        ("no fields but a type", {b"ce_type": kind.TYPE.encode()}, b"ce_id: missing field"),
        ("no data", but(data=None), b"data: missing field"),
        ("no type", but(ce_type=None), b"ce_type: missing field"),
        ("broken JSON", but(data=b'{"uri": "urn:x", "headl'), b"data: not JSON"),
        ("5 MB of data that is not JSON", but(data=b"x" * FIVE_MB), b"data: not JSON"),
        ("5 MB subject", but(ce_subject=b"u" * FIVE_MB), b"ce_subject: must be 1 to 2048"),
        ("data a JSON list", but(data=b"[1, 2]"), b"data: a JSON object is needed, not list"),
        ("data of the wrong types", but(data=b'{"uri": 5, "version": "x", "headlines": 3}'),
         b"validation error"),
        ("unknown type", but(ce_type=b"news.article.exploded"), b"unknown event type"),
        ("unreadable time", but(ce_time=b"yesterday at noon"), b"ce_time: not an ISO 8601"),
        ("empty subject", but(ce_subject=b""), b"ce_subject: must be 1 to 2048"),
        ("not JSON content", but(content_type=b"text/plain"), b"content-type:"),
        ("a field name not UTF-8", {**valid, BAD: b"1"}, rb"field name: not UTF-8"),
        ("type and data not UTF-8", {b"ce_type": BAD, b"data": b"\xc3\x28"},
         rb"ce_type: not UTF-8 at byte 0: b'\xff\xfe\xfa'"),
    ]
    for name in (b"ce_id", b"ce_type", b"ce_source", b"ce_time", b"ce_subject",
                 b"content-type", b"data"):
        fields = dict(valid)
        fields[name] = BAD
        cases.append((f"{name.decode()} not UTF-8", fields,
                      name + rb": not UTF-8 at byte 0: b'\xff\xfe\xfa'"))
    return cases


@pytest.mark.parametrize(("stream", "kind"), [(INGESTED_STREAM, ArticleIngested),
                                               (ENRICHED_STREAM, ArticleEnriched)])
def test_each_malformed_entry_is_dead_lettered_with_its_reason_and_stories_flow(
        checks: Any, stream: str, kind: type[Event]) -> None:
    client = checks.client()
    uris, batch = checks.stories(4)
    added = []
    for case, fields, reason in catalogue(kind):  # one batch for the consumer, mostly
        added.append((case, client.xadd(checks.stream(stream), fields), reason))
    assert checks.plat.push(batch, "application/json").status_code == 202
    checks.assert_once(uris)  # the stories behind the poison flowed on
    for case, entry_id, reason in added:
        dead = checks.dead_letter(stream, entry_id)
        assert dead[b"dlq_attempts"] == b"1", case  # at once, not after retries
        assert reason in dead[b"dlq_error"], (case, dead[b"dlq_error"][:300])
