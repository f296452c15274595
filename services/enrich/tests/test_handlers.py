from prometheus_client import CollectorRegistry

from shared.events import ArticleIngested, Event
from shared.streams import Entry

from enrich.handlers import EnrichArticles
from enrich.workers import EnrichPool


async def test_a_story_over_its_budget_is_emitted_noted_and_counted(make_article):
    article = make_article("Talks resume", "Delegations met in Istanbul on Monday to resume "
                           "talks. The talks will go on for a week.")
    cause = ArticleIngested.for_article(article, "test")
    registry = CollectorRegistry()
    pool = EnrichPool(processes=0, budget_s=1e-9)  # every step is over budget
    try:
        handler = EnrichArticles(pool, "out", registry)
        [outcome] = await handler([Entry("1-0", cause.to_fields(), attempts=1)])
    finally:
        pool.close()
    assert outcome.error is None
    [(stream, event)] = outcome.emit
    enriched = Event.from_fields(event.to_fields()).article()
    assert stream == "out" and enriched.word_count == 17
    assert enriched.ed_note is not None
    assert "summary, topics, entities, keywords not computed" in enriched.ed_note
    for step in ("summary", "topics", "entities", "keywords"):
        assert registry.get_sample_value("newsflow_enrich_partial_total", {"step": step}) == 1
