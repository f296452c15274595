import pytest

from shared.article import Article, Body

from enrich.workers import EnrichPool


def test_word_count_and_reading_time(enriched_sample):
    assert 480 <= enriched_sample.word_count <= 560
    assert enriched_sample.reading_time_seconds == round(
        enriched_sample.word_count * 60 / 230 + 0.5
    )


def test_one_bad_article_does_not_sink_the_batch(enricher, make_article, monkeypatch):
    good = make_article("Talks resume", "Delegations met in Istanbul on Monday to resume talks.")
    bad = make_article("Broken", "This one breaks.", uri="urn:test:bad")
    original = enricher._prepare

    def prepare(article: Article):
        if article.uri == "urn:test:bad":
            raise ValueError("cannot enrich")
        return original(article)

    monkeypatch.setattr(enricher, "_prepare", prepare)
    results = enricher.enrich_many_safe([good, bad, good])
    assert isinstance(results[1], ValueError)
    assert isinstance(results[0], Article) and isinstance(results[2], Article)
    assert results[0].places[0].name == "Istanbul"
    with pytest.raises(ValueError):
        enricher.enrich_many([good, bad])


def test_html_only_body_gets_a_clean_text_body_and_keeps_html(enricher, make_article):
    html = "<p>The mayor of Paris, Anne Hidalgo, opened the bridge.</p><p>Comments</p>"
    article = make_article("Bridge opens", "").model_copy(
        update={"bodies": [Body(content_type="text/html", value=html)]}
    )
    result = enricher.enrich(article)
    assert result.body_html == html
    assert result.body_text == "The mayor of Paris, Anne Hidalgo, opened the bridge."
    assert "Anne Hidalgo" in {e.name for e in result.people}


async def test_inline_pool_runs_off_the_event_loop(make_article):
    pool = EnrichPool(processes=0)
    try:
        results = await pool.enrich([make_article("Talks", "Leaders met in Ankara on Friday.")])
    finally:
        pool.close()
    assert isinstance(results[0], dict)  # the wire form the next event carries
    assert Article.model_validate(results[0]).places[0].name == "Ankara"


@pytest.mark.timeout(120)
async def test_process_pool_returns_articles_in_order(make_article):
    articles = [
        make_article(f"Story {i}", f"Officials met in Ankara on day {i}.", uri=f"urn:t:{i}")
        for i in range(5)
    ]
    pool = EnrichPool(processes=2)
    try:
        results = await pool.enrich(articles)
    finally:
        pool.close()
    enriched = [Article.model_validate(r) for r in results]
    assert [r.uri for r in enriched] == [a.uri for a in articles]
    assert all(r.word_count for r in enriched)


def test_headline_mentions_point_into_the_published_headline(enricher, make_article):
    article = make_article("🔴 LIVE:  Putin  and  Zelensky to meet in Istanbul",
                           "Vladimir Putin and Volodymyr Zelensky will meet in Istanbul on "
                           "Monday, officials in Ankara said. The talks follow months of "
                           "fighting along the front line.")
    result = enricher.enrich(article)
    headline = result.headline
    assert "  " not in headline and "🔴" not in headline
    found = [(m, e.name) for e in (*result.people, *result.places) for m in e.mentions
             if m.field == "headline"]
    assert len(found) >= 2
    for mention, name in found:
        assert headline[mention.start:mention.end] in name
