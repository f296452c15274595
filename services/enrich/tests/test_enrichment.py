import asyncio
import time

import pytest

from shared.article import Article, Body

from enrich.enrichment import Enriched, Enricher
from enrich.workers import LARGE_STORY_CHARS, EnrichPool, _split


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
    assert isinstance(results[0], Article)
    assert results[0].places[0].name == "Ankara"


@pytest.mark.timeout(120)
async def test_the_wire_form_from_the_workers_is_the_enriched_article(make_article):
    articles = [make_article(f"Story {i}", f"Officials met in Ankara on day {i}.", uri=f"urn:t:{i}")
                for i in range(3)]
    pool = EnrichPool(processes=1)
    try:
        wired = await pool.enrich_wire(articles)
        enriched = await pool.enrich(articles)
    finally:
        pool.close()
    assert [w.wire for w in wired] == [a.wire() for a in enriched]  # type: ignore[union-attr]
    assert Article.model_validate(wired[0].wire).places[0].name == "Ankara"  # type: ignore[union-attr]


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
    assert [r.uri for r in results] == [a.uri for a in articles]
    assert all(r.word_count for r in results)


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


def _huge_body(target_chars: int = 1_000_000) -> str:
    """About `target_chars` of plain prose: thousands of distinct sentences in paragraphs."""
    paragraphs, size, n = [], 0, 0
    while size < target_chars:
        sentences = " ".join(
            f"Officials in district {n + k} said the council of Ankara would meet on day {n + k} "
            f"to discuss budget item {7 * (n + k)}."
            for k in range(8)
        )
        paragraphs.append(sentences)
        size += len(sentences) + 2
        n += 8
    return "\n\n".join(paragraphs)


def test_a_huge_story_is_enriched_within_a_bound(enricher, make_article):
    body = _huge_body()
    assert len(body) >= 1_000_000 and body.count(".") > 9_000
    started = time.perf_counter()
    [reported] = enricher.enrich_many_reported([make_article("Council meets", body,
                                                             language="en")])
    elapsed = time.perf_counter() - started
    # Uncapped and quadratic, this took over 50 s; capped, about 3 s on one loaded core.
    assert elapsed < 30, elapsed
    assert isinstance(reported, Enriched)
    result = reported.article
    assert result.word_count and result.word_count > 150_000
    assert result.descriptions[0].value.startswith("Officials in district 0 said")
    assert "summary" not in reported.skipped and "topics" not in reported.skipped
    # NER reads the first 100,000 characters, cut between words: no "Offi" from "Officials".
    assert "keywords" in reported.skipped or "district" in result.keywords
    assert not any(e.name == "Offi" for e in result.organisations + result.people)


def test_a_story_over_its_budget_is_published_with_what_is_done(enricher, make_article):
    hurried = Enricher(nlp=enricher.nlp, languages=enricher.languages, topics=enricher.topics,
                       budget_s=1e-9)
    article = make_article("Talks resume", "Delegations met in Istanbul on Monday to resume "
                           "talks. The talks will go on for a week.", ed_note="Embargoed draft.")
    [reported] = hurried.enrich_many_reported([article])
    assert isinstance(reported, Enriched)
    assert reported.skipped == ("summary", "topics", "entities", "keywords")
    result = reported.article
    assert result.word_count == 17 and result.language == "en"
    assert not result.places and not result.descriptions and not result.keywords
    assert result.ed_note is not None and result.ed_note.startswith("Embargoed draft.\n")
    assert "summary, topics, entities, keywords not computed" in result.ed_note
    assert Article.model_validate_json(result.model_dump_json(by_alias=True)) == result
    full = enricher.enrich_many_reported([article])[0]
    assert isinstance(full, Enriched) and full.skipped == ()
    assert full.article.ed_note == "Embargoed draft." and full.article.places


def test_large_stories_go_in_chunks_of_their_own_after_the_others(make_article):
    small = make_article("Small", "Leaders met in Ankara on Friday.")
    large = make_article("Large", "x " * LARGE_STORY_CHARS)
    articles = [small, large, small, small, large, small]
    assert _split(articles, 2) == [[0, 2], [3, 5], [1], [4]]
    assert _split([large], 8) == [[0]]
    assert _split([small] * 3, 8) == [[0], [1], [2]]


@pytest.mark.timeout(300)
async def test_a_huge_story_does_not_hold_back_small_ones(make_article):
    """A batch holding a 1 MB story, and a batch sent right after it, as the service runs two
    batches at once: the small stories are enriched long before the huge one is."""
    pool = EnrichPool(processes=2)
    small = [make_article(f"Story {i}", f"Officials met in Ankara on day {i}.", uri=f"urn:s:{i}")
             for i in range(3)]
    huge = make_article("Council meets", _huge_body(), uri="urn:huge", language="en")
    done: dict[str, float] = {}

    async def run(name: str, articles: list[Article]) -> list[Enriched | Exception]:
        results = await pool.enrich_reported(articles)
        done[name] = time.perf_counter()
        return results

    try:
        await pool.warm_up()
        started = time.perf_counter()
        first = asyncio.create_task(run("huge batch", [small[0], huge, small[1]]))
        await asyncio.sleep(0)  # the huge batch is queued first, as it was read first
        second = asyncio.create_task(run("next batch", [small[2]]))
        results = [*await first, *await second]
    finally:
        pool.close()
    assert all(isinstance(r, Enriched) for r in results)
    assert [r.article.uri for r in results if isinstance(r, Enriched)] == [
        "urn:s:0", "urn:huge", "urn:s:1", "urn:s:2"]
    huge_s, small_s = done["huge batch"] - started, done["next batch"] - started
    assert small_s < huge_s, (small_s, huge_s)
    assert small_s < 10, small_s  # about 0.1 s idle; the huge story takes seconds
    assert huge_s < 60, huge_s
