import pytest

from enrich.workers import MIN_CHUNK, EnrichPool


@pytest.mark.timeout(120)
async def test_reads_take_many_cheap_stories_and_few_costly_ones(make_article, sample_article):
    pool = EnrichPool(processes=0)
    short = make_article("Talks", "Leaders met in Ankara on Friday.", uri="urn:test:short")
    try:
        assert pool.read_size() is None  # nothing seen yet: the consumer's own share applies
        for _ in range(30):  # the first story also warms the enricher up: a slow one
            await pool.enrich([short])
        cheap = pool.read_size()
        for _ in range(8):
            await pool.enrich([sample_article])
        costly = pool.read_size()
    finally:
        pool.close()
    assert cheap is not None and costly is not None
    assert costly >= MIN_CHUNK  # a worker still gets a chunk of a few stories per read
    assert cheap > costly, (cheap, costly)
