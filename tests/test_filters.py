"""Subscription and stream filters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.filters import ArticleFacets, Filters

ARTICLE = {
    "uri": "urn:x", "language": "en-GB", "urgency": 3,
    "source": {"provider": "dpa", "format": "json"},
    "subjects": [{"code": "medtop:04000000"},
                 {"uri": "http://cv.iptc.org/newscodes/mediatopic/15000000"}],
    "people": [{"name": "Olaf Scholz"}], "places": [{"name": "Berlin"}],
}


CASES = [
    ({}, True),
    ({"urgency": 3}, True), ({"urgency": 5}, True), ({"urgency": 2}, False),
    ({"language": "en"}, True), ({"language": "EN-gb"}, True), ({"language": "de"}, False),
    ({"topics": ["medtop:15000000"]}, True), ({"topics": ["medtop:01000000"]}, False),
    ({"entities": ["olaf scholz"]}, True), ({"entities": ["BERLIN", "Paris"]}, True),
    ({"entities": ["Paris"]}, False),
    ({"sources": ["dpa"]}, True), ({"sources": ["afp"]}, False),
    ({"topics": ["medtop:04000000"], "sources": ["afp"]}, False),
]


@pytest.mark.parametrize(("filters", "matches"), CASES)
def test_content_filters(filters: dict[str, object], matches: bool) -> None:
    assert Filters.model_validate(filters).matches(ARTICLE) is matches


class CountingArticle(dict[str, object]):
    """Counts how often its subjects and people are read."""

    reads = 0

    def get(self, key: str, default: object = None) -> object:
        if key in ("subjects", "people"):
            self.reads += 1
        return super().get(key, default)


def test_one_article_matched_against_many_filters_works_its_topics_out_once() -> None:
    article = CountingArticle(ARTICLE)
    facets = ArticleFacets(article)
    assert [Filters.model_validate(f).matches(facets) for f, _ in CASES] == [m for _, m in CASES]
    assert article.reads == 2  # subjects once, people once, for all the filters
    alone = CountingArticle(ARTICLE)
    assert [Filters.model_validate(f).matches(alone) for f, _ in CASES] == [m for _, m in CASES]
    assert alone.reads > 2  # a plain dict is read again by every filter that asks


@pytest.mark.parametrize("filters", [{}, {"event_types": ["article.killed"]}])
def test_filters_that_do_not_read_the_article_pass_any(filters: dict[str, object]) -> None:
    """A consumer may skip decoding the article for them (deliver does, for publish's)."""
    chosen = Filters.model_validate(filters)
    assert not chosen.reads_article
    assert chosen.matches({}) and chosen.matches(ARTICLE)


@pytest.mark.parametrize("filters", [
    {"urgency": 9}, {"language": "en"}, {"topics": ["medtop:04000000"]},
    {"entities": ["Berlin"]}, {"sources": ["dpa"]},
])
def test_every_content_filter_reads_the_article(filters: dict[str, object]) -> None:
    chosen = Filters.model_validate(filters)
    assert chosen.reads_article
    assert chosen.matches(ARTICLE) and not chosen.matches({})


def test_urgency_at_or_above_needs_an_urgency() -> None:
    assert not Filters(urgency=9).matches({**ARTICLE, "urgency": None})


@pytest.mark.parametrize(("filters", "field"), [
    ({"topics": ["sport"]}, "topics"), ({"urgency": 0}, "urgency"),
    ({"language": "english!"}, "language"), ({"event_types": ["article.updated"]}, "event_types"),
    ({"entities": [""]}, "entities"), ({"colour": "red"}, "colour"),
    ({"urgency": True}, "urgency"), ({"urgency": "3"}, "urgency"),
    ({"event_types": []}, "event_types"), ({"event_types": [1]}, "event_types"),
    ({"event_types": ["article.killed"] * 1000}, "event_types"),
    ({"topics": ["medtop:04000000"] * 101}, "topics"), ({"sources": [None]}, "sources"),
    ({"language": "en-" + "-".join(["abcdefgh"] * 500)}, "language"),
    ({"entities": ["Acme\r\nfake log line"]}, "entities"), ({"sources": ["dpa\u202e"]}, "sources"),
    ({"entities": ["Acme\x85"]}, "entities"),
])
def test_bad_filters_name_the_field(filters: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Filters.model_validate(filters)
    assert caught.value.errors()[0]["loc"][0] == field
