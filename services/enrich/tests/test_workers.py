import multiprocessing
from pathlib import Path

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


def _page_faults(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])  # minflt


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.timeout(120)
async def test_a_worker_keeps_the_memory_a_chunk_freed_for_the_next(sample_article):
    chunk = [sample_article.model_copy(update={"uri": f"urn:test:{i}"}) for i in range(4)]
    others = set(multiprocessing.active_children())
    pool = EnrichPool(processes=1)  # one worker: the batch is one chunk
    try:
        for _ in range(2):  # the worker loads its models, then grows its heap to a chunk's
            await pool.enrich(chunk)
        (worker,) = set(multiprocessing.active_children()) - others
        before = _page_faults(worker.pid)
        for _ in range(3):
            await pool.enrich(chunk)
        faults = _page_faults(worker.pid) - before
    finally:
        pool.close()
    # Handed back to the system after each chunk, the same memory is faulted in again by the
    # next: thousands of faults a chunk (WORKER_KEPT_MEMORY)
    assert faults < 100, faults
