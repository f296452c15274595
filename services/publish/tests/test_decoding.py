"""Entries enrich wrote are stored as written, after a check of the fields publish reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from shared.article import Article, Entity, PubStatus, Source, Subject
from shared.events import ArticleEnriched, Event, EventDecodeError

from publish.decoding import ENRICH_SOURCE, as_enrich_wrote_it, whole_article


def _enriched(**changes: Any) -> Article:
    fields: dict[str, Any] = {
        "uri": "urn:dec:1",
        "version": 3,
        "version_created": datetime(2026, 5, 1, 8, 30, tzinfo=UTC),
        "language": "en",
        "source": Source(provider="dpa-sport", format="ninjs", namespace="dpa"),
        "headlines": [{"value": "Harbour project delayed"}],
        "bodies": [{"value": "The council said a decision would follow within a month."}],
        "subjects": [Subject(code="medtop:04000000", name="Economy, business and finance",
                             scheme="medtop", confidence=0.7, level=1)],
        "people": [Entity(name="Ada Lovelace", type="person", count=2, salience=0.5,
                          mentions=[{"start": 0, "end": 12}])],
        "places": [Entity(name="Harbour City", type="place")],
        "keywords": ["harbour", "council"],
        "word_count": 11,
    }
    fields.update(changes)
    return Article(**fields)


def _entry(article: Article | dict[str, Any], source: str = ENRICH_SOURCE
           ) -> tuple[Event, bytes]:
    """The event publish decodes from the entry, and the entry's data field."""
    wire = article.wire() if isinstance(article, Article) else article
    event = ArticleEnriched(id="e" * 32, type=ArticleEnriched.TYPE, source=source,
                            time=datetime.now(UTC), subject="urn:dec:1", data=wire)
    fields = event.to_fields()  # as enrich writes it: the data dumped by orjson
    raw = {str(k).encode(): v if isinstance(v, bytes) else str(v).encode()
           for k, v in fields.items()}
    return Event.from_fields(raw), raw[b"data"]


def test_a_story_enrich_wrote_is_stored_as_written_which_is_what_validating_it_would_give(
) -> None:
    article = _enriched()
    event, data = _entry(article)
    written = as_enrich_wrote_it(event, data)
    assert written is not None
    facts, text = written
    assert text is data
    assert text == orjson.dumps(whole_article(event).wire())  # the whole path's bytes
    assert (facts.uri, facts.version, facts.version_created, facts.language) == (
        article.uri, article.version, article.version_created, article.language)
    assert (facts.source.provider, facts.source.owner) == ("dpa-sport", "dpa")
    assert [p.name for p in facts.people] == ["Ada Lovelace"]
    assert [p.name for p in facts.places] == ["Harbour City"]
    assert not facts.killed


@pytest.mark.parametrize("case", ["another producer", "a kill", "an embargo",
                                  "a former topic code"])
def test_what_publish_must_decide_on_the_whole_article_is_not_taken_as_written(case: str) -> None:
    article, source = _enriched(), ENRICH_SOURCE
    if case == "another producer":
        source = "newsflow/ingest"
    elif case == "a kill":
        article = _enriched(pub_status=PubStatus.canceled)
    elif case == "an embargo":
        article = _enriched(embargoed_until=datetime.now(UTC) + timedelta(hours=1))
    else:
        article = _enriched(subjects=[Subject(code="medtop:05000000", scheme="medtop",
                                              name="economy, business and finance")])
    assert as_enrich_wrote_it(*_entry(article, source)) is None


@pytest.mark.parametrize(("change", "field"), [
    ({"version": "three"}, "version"),
    ({"uri": "   "}, "uri"),
    ({"uri": None}, "uri"),
    ({"source": "dpa"}, "source"),
    ({"pubStatus": "deleted"}, "pubStatus"),
    ({"versionCreated": "last Tuesday"}, "versionCreated"),
    ({"subjects": "medtop:04000000"}, "subjects"),
    ({"subjects": [{"code": 4}]}, "subjects.0.code"),
    ({"people": [{"type": "person"}]}, "people.0.name"),
    ({"urgency": 12}, "urgency"),
])
def test_a_bad_field_publish_reads_is_poison_naming_the_field(change: dict[str, Any],
                                                              field: str) -> None:
    wire = {**_enriched().wire(), **change}
    with pytest.raises(EventDecodeError, match="invalid article") as caught:
        as_enrich_wrote_it(*_entry(wire))
    assert field in str(caught.value)
