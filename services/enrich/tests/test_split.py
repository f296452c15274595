import asyncio
import multiprocessing
from concurrent.futures.process import BrokenProcessPool

import pytest

from shared.article import Article

from enrich import split
from enrich.enrichment import Enriched, Enricher, ModelPass
from enrich.workers import EnrichPool


def _split_enrich(enricher: Enricher, article: Article, parts: int) -> Enriched | Exception:
    found = split.merge([split.model_part(enricher, article, part, parts)
                         for part in range(parts)])
    assert found is not None
    return enricher.enrich_many_reported([article], {0: found})[0]


@pytest.mark.parametrize("parts", [2, 3])
def test_a_story_enriched_in_parts_comes_out_as_enriched_whole(enricher, sample_article, parts):
    whole = enricher.enrich_many_reported([sample_article])[0]
    in_parts = _split_enrich(enricher, sample_article, parts)
    assert isinstance(whole, Enriched) and isinstance(in_parts, Enriched)
    assert whole.article.people and whole.article.places and whole.article.keywords
    assert in_parts.article.wire() == whole.article.wire()
    assert in_parts.skipped == whole.skipped == ()


def test_parts_are_cut_at_paragraph_breaks_when_there_are_some(enricher, sample_article):
    texts = enricher.model_texts(sample_article)
    assert texts is not None
    body = texts[1]
    cuts = split.cuts(body, 3)
    assert len(cuts) == 2 and 0 < cuts[0] < cuts[1] < len(body)
    assert all(body[cut - 2 : cut] == "\n\n" for cut in cuts)


@pytest.mark.parametrize("text", [
    "The council met on Monday. Arnold O. Jones said the plan would go ahead. " * 20,
    "word " * 400,
    "x" * 3000 + " " + "y" * 3000,
    "z" * 5000,
])
def test_cuts_fall_between_tokens(text):
    for parts in (2, 3, 4):
        cuts = split.cuts(text, parts)
        assert len(cuts) == parts - 1 and cuts == sorted(cuts)
        for cut in cuts:
            assert (text[cut - 1].isspace() and not text[cut].isspace()) or cut == len(text)
            assert not text[:cut].endswith("O. ")  # an initial is not a sentence end


def test_a_short_story_is_not_split(make_article, sample_article):
    short = make_article("Talks resume", "Delegations met in Istanbul on Monday to resume talks.")
    assert split.parts(short, 2) == 1
    assert split.parts(sample_article, 2) == 2
    assert split.parts(sample_article, 1) == 1  # no idle worker to take a part


def test_a_story_not_in_english_is_not_split(enricher, make_article):
    article = make_article("Gespräche in Istanbul",
                           "Die Delegationen trafen sich am Montag in Istanbul. " * 80,
                           language="de")
    assert split.model_part(enricher, article, 0, 2) is None
    assert split.merge([None, None]) is None


def test_the_parts_model_time_counts_against_the_story_budget(enricher, sample_article):
    tight = Enricher(nlp=enricher.nlp, languages=enricher.languages, topics=enricher.topics,
                     budget_s=1.0)
    spent = ModelPass(headline=(), body=(), seconds=1.0)
    result = tight.enrich_many_reported([sample_article], {0: spent})[0]
    assert isinstance(result, Enriched)
    assert result.skipped == ("entities", "keywords")
    assert not result.article.people


def test_an_entity_a_part_keeps_past_its_end_wins_over_the_next_parts():
    first = ModelPass(headline=((0, 6, "LOC"),), body=((10, 25, "PERSON"),), seconds=0.1)
    second = ModelPass(headline=(), body=((20, 25, "PERSON"), (30, 36, "LOC")), seconds=0.2)
    merged = split.merge([first, second])
    assert merged is not None
    assert merged.headline == ((0, 6, "LOC"),)
    assert merged.body == ((10, 25, "PERSON"), (30, 36, "LOC"))
    assert merged.seconds == pytest.approx(0.3)


@pytest.mark.timeout(120)
async def test_the_pool_splits_a_lone_long_story_as_the_inline_path_enriches_it(
    enricher, sample_article, make_article
):
    assert split.parts(sample_article, 2) == 2
    short = make_article("Talks", "Leaders met in Ankara on Friday.", uri="urn:test:short")
    pool = EnrichPool(processes=2)
    try:
        alone = await pool.enrich_wire([sample_article])  # split: a worker idles otherwise
        batch = await pool.enrich_wire([sample_article, short])  # as many stories as workers
    finally:
        pool.close()
    expected = [r.wire() for r in enricher.enrich_many([sample_article, short])]
    assert [r.wire for r in alone] == expected[:1]  # type: ignore[union-attr]
    assert [r.wire for r in batch] == expected  # type: ignore[union-attr]


@pytest.mark.timeout(180)
async def test_a_worker_dying_under_a_split_story_fails_that_story_and_the_pool_recovers(
    sample_article, make_article
):
    body = "\n\n".join(f"Officials in district {n} said the council of Ankara would meet on day "
                       f"{n} to discuss budget item {7 * n}. " * 6 for n in range(120))
    long_story = make_article("Council meets", body, uri="urn:test:long")
    assert split.parts(long_story, 2) == 2  # and its model pass takes seconds
    pool = EnrichPool(processes=2)
    try:
        await pool.warm_up()
        running = asyncio.create_task(pool.enrich([long_story]))
        await asyncio.sleep(0.3)  # its parts are with the workers
        multiprocessing.active_children()[0].kill()
        failed = await running
        after = await pool.enrich([sample_article])
    finally:
        pool.close()
    assert isinstance(failed[0], BrokenProcessPool)
    assert isinstance(after[0], Article) and after[0].people
