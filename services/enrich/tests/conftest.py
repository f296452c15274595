"""Shared fixtures: one Enricher (spaCy and lingua load once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.article import Article, Body, Headline, Source

from enrich.enrichment import Enricher

FIXTURES = Path(__file__).parent / "fixtures"


def _make_article(headline: str, body: str, **fields: object) -> Article:
    return Article(
        uri=str(fields.pop("uri", "urn:test:1")),
        source=Source(provider="test", format="text"),
        headlines=[Headline(value=headline)],
        bodies=[Body(value=body)],
        **fields,
    )


@pytest.fixture(scope="session")
def make_article():
    """Build a plain-text article: `make_article(headline, body, **fields)`."""
    return _make_article


@pytest.fixture(scope="session")
def enricher() -> Enricher:
    return Enricher()


@pytest.fixture(scope="session")
def sample_article() -> Article:
    headline, _, body = (FIXTURES / "peace_talks.txt").read_text().partition("\n")
    return _make_article(headline, body)


@pytest.fixture(scope="session")
def enriched_sample(enricher: Enricher, sample_article: Article) -> Article:
    return enricher.enrich(sample_article)
