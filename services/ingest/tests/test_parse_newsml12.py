"""NewsML 1.2 (AFP style)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from shared.article import PubStatus

from ingest.parsing import parse, parse_document

FIXTURES = Path(__file__).parent / "fixtures"


def test_newsml12_identification_and_management():
    parsed = parse_document((FIXTURES / "newsml12_item.xml").read_bytes(), provider="afp")
    assert parsed.format == "newsml-1.2"
    [article] = parsed.articles
    # The PublicIdentifier without its revision: every revision shares the story's uri.
    assert article.uri == "urn:newsml:example.fr:20240201:TX-PAR-ABC12"
    assert article.version == 2
    assert article.signals == ["update"]
    assert article.first_created == datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
    assert article.version_created == datetime(2024, 2, 1, 10, 30, tzinfo=UTC)
    assert article.pub_status is PubStatus.usable
    assert article.urgency == 2
    assert article.language == "fr"


def test_newsml12_lines_topics_and_body_component():
    [article] = parse((FIXTURES / "newsml12_item.xml").read_bytes(), provider="afp")
    assert article.headline == "Grève dans les transports parisiens"
    assert article.slugline == "France-grève"
    assert article.byline == "Marie Curie"
    assert ("subj:09001000", "subj") in [(s.code, s.scheme) for s in article.subjects]
    assert "transports" in [s.name for s in article.subjects]
    assert [p.name for p in article.places] == ["Paris"]
    assert article.body_text == (
        "Le trafic est très perturbé ce jeudi.\n\nLa grève devrait durer jusqu'à lundi."
    )
    assert "color" not in article.body_text  # the stylesheet component is not body


def test_newsml12_embargoed_status_without_time_is_held():
    document = b"""<NewsML><NewsItem><Identification><NewsIdentifier><ProviderId>x</ProviderId>
      <DateId>1</DateId><NewsItemId>2</NewsItemId><RevisionId>1</RevisionId></NewsIdentifier>
      </Identification><NewsManagement><Status FormalName="Embargoed"/></NewsManagement>
      <NewsComponent><NewsLines><HeadLine>Budget</HeadLine></NewsLines></NewsComponent>
      </NewsItem></NewsML>"""
    [article] = parse(document, provider="x")
    assert article.uri == "urn:newsml:x:1:2"
    assert article.pub_status is PubStatus.withheld
