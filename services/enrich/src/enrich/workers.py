"""Run enrichment in worker processes without blocking the event loop.

NER is CPU-bound, so the service feeds it to a process pool sized to the cores; each worker builds
one `Enricher` (spaCy, lingua, topics) when it starts and keeps it. A batch is split into one
contiguous chunk per worker; articles cross the process boundary as JSON bytes (pydantic's Rust
serializer both ways, cheaper to pickle than dicts). `processes=0` runs the same code inline in a
single thread, for the offline CLI and tests.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

from shared.article import Article
from shared.runtime import settle_heap

from enrich.enrichment import Enricher

CHUNKS_PER_WORKER = 4
WARM_UP_HOLD_S = 0.2
_ARTICLES = TypeAdapter(list[Article])
_worker_enricher: Enricher | None = None
Wire = dict[str, Any]  # an article as Article.wire() gives it


class EnrichmentFailed(Exception):
    """An article could not be enriched; carries the worker's error type and message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class _Outcome(BaseModel):
    article: Article | None = None
    error_type: str | None = None
    error: str | None = None


_OUTCOMES = TypeAdapter(list[_Outcome])


class EnrichPool:
    """A pool of enrichment workers; `await pool.enrich(batch)` gives one result per article."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        self._enricher: Enricher | None = None
        self._executor: Executor = self._start()

    async def enrich(self, articles: list[Article]) -> list[Wire | Exception]:
        """The enriched articles in their wire form (``Article.wire()``: what the next event
        carries, so the service need not validate and dump them again), in order; an exception
        in place of each article that failed."""
        if not articles:
            return []
        loop = asyncio.get_running_loop()
        if self._enricher is not None:
            enriched = await loop.run_in_executor(
                self._executor, self._enricher.enrich_many_safe, articles
            )
            return [r if isinstance(r, Exception) else r.wire() for r in enriched]
        # More chunks than workers: a worker that finishes early takes the next chunk instead
        # of idling until the slowest one is done.
        chunks = _split(articles, self.processes * CHUNKS_PER_WORKER)
        executor = self._executor
        futures = [
            loop.run_in_executor(executor, _enrich_chunk, _ARTICLES.dump_json(chunk, by_alias=True))
            for chunk in chunks
        ]
        results: list[Wire | Exception] = []
        for chunk, outcome in zip(
            chunks, await asyncio.gather(*futures, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, BaseException):
                if isinstance(outcome, BrokenProcessPool) and executor is self._executor:
                    self._executor = self._start()  # a worker died (OOM, segfault): replace it
                error = outcome if isinstance(outcome, Exception) else RuntimeError(str(outcome))
                results.extend(error for _ in chunk)
                continue
            results.extend(_decode(outcome))
        return results

    async def warm_up(self) -> None:
        """Start every worker and load its models now, not on the first batch."""
        if self._enricher is not None:
            return
        loop = asyncio.get_running_loop()
        # One task per worker, each long enough that no worker takes two: all get spawned.
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready, WARM_UP_HOLD_S)
                               for _ in range(self.processes)))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _start(self) -> Executor:
        if self.processes == 0:
            self._enricher = self._enricher or Enricher()
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich")
        # spawn: a forked child of a process running an event loop and client threads can
        # inherit locks held by threads that do not exist in the child.
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )


def _split(articles: list[Article], parts: int) -> list[list[Article]]:
    parts = max(1, min(parts, len(articles)))
    size, extra = divmod(len(articles), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(articles[start:end])
        start = end
    return chunks


def _decode(payload: bytes) -> list[Wire | Exception]:
    # Plain JSON, not validated again: the worker serialized validated Articles (by alias,
    # without None values, as Article.wire() does).
    out: list[Wire | Exception] = []
    for outcome in orjson.loads(payload):
        if "article" in outcome:
            out.append(outcome["article"])
        else:
            out.append(EnrichmentFailed(outcome.get("error_type") or "Error",
                                        outcome.get("error") or ""))
    return out


def _ready(hold_s: float) -> None:
    assert _worker_enricher is not None, "worker initializer did not run"
    time.sleep(hold_s)


def _init_worker() -> None:
    global _worker_enricher
    _exit_with_parent()
    _worker_enricher = Enricher()
    settle_heap()  # the loaded models are long-lived: keep them out of every collection


def _exit_with_parent(every_s: float = 1.0) -> None:
    """End this worker when the service that started it dies. A SIGKILLed service cannot shut
    its pool down, and its workers would otherwise wait on the pool's queue for ever (their
    siblings keep the queue's pipe open), each holding a model in memory."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="enrich-parent-watch", daemon=True).start()


def _enrich_chunk(payload: bytes) -> bytes:
    """Runs in a worker: JSON in, JSON out."""
    assert _worker_enricher is not None, "worker initializer did not run"
    articles = _ARTICLES.validate_json(payload)
    outcomes = [
        _Outcome(article=r)
        if isinstance(r, Article)
        else _Outcome(error_type=type(r).__name__, error=str(r))
        for r in _worker_enricher.enrich_many_safe(articles)
    ]
    return _OUTCOMES.dump_json(outcomes, by_alias=True, exclude_none=True)
