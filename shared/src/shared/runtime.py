"""Process tuning every service applies once started: the garbage collector off the hot path.

A service's heap after start-up is large and long-lived (FastAPI, pydantic schemas, the
drivers, enrich's lexicons) and every stream entry allocates many short-lived containers
(decoded JSON, pydantic models). With CPython's default thresholds the collector ran so often,
and each full pass walked the whole start-up heap, that it took most of publish's CPU per story
(py-spy, bench/pipeline.py). Freezing the start-up heap keeps it out of every later pass, and a
larger young generation makes the passes rarer; reference cycles are still collected.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def settle_heap() -> None:
    """Call once start-up is done, right before serving."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
