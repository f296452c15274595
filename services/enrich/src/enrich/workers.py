"""Run enrichment in worker processes without blocking the event loop.

NER is CPU-bound, so the service feeds it to a process pool sized to the cores; each worker builds
one `Enricher` (spaCy, lingua, topics) when it starts and keeps it. A batch is split into
contiguous chunks, two per worker and at least MIN_CHUNK stories each where the batch allows
(`nlp.pipe` over one story costs about a tenth more per story than over a few); articles
cross the process boundary as JSON bytes (pydantic's Rust serializer both ways, cheaper to
pickle than dicts). A large story (over
LARGE_STORY_CHARS) goes in a chunk of its own, queued after the others, so the stories around it
never wait in its chunk and the other workers take them at once. A batch that leaves workers
idle (fewer stories in flight than workers, as at low load) lends them to its long stories: each
such story's model pass is split across them (`enrich.split`). The pool keeps a moving average
of what a story costs its workers, from which the service sizes its reads of the input
(`read_size`). `processes=0` runs the same code inline in a single thread, for the offline CLI
and tests.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter

from shared.article import Article
from shared.runtime import keep_freed_memory, settle_heap

from enrich import split
from enrich.enrichment import STORY_BUDGET_S, Enriched, Enricher, ModelPass

T = TypeVar("T")
# The service keeps a second batch in flight, whose chunks queue behind these: a worker that
# finishes early takes one of them, so a batch needs few chunks per worker.
CHUNKS_PER_WORKER = 2
MIN_CHUNK = 2
# A body this long costs a worker far more than a usual story (600 words: ~4,000 characters).
LARGE_STORY_CHARS = 20_000
WARM_UP_HOLD_S = 0.2
# One read of the input takes about this much of all the workers' time, and at least MIN_CHUNK
# stories a worker (`EnrichPool.read_size`). Little enough that replicas share a burst to its end:
# what one replica holds when the stream runs dry the others cannot take, and a fixed 16 stories
# of 600 words (a second of one worker's time) left replicas at 53% and 47% of a burst. Enough that
# a read's fixed costs stay small beside its stories: reads of 0.1 s cost enrich and publish about
# 1 ms more per story, and of 0.4 s still 0.5 ms. At 0.6 s two workers read about what they did
# with a fixed 16 (stories of 600 words), and one worker half that.
READ_WORK_S = 0.6
STORY_COST_WEIGHT = 0.2  # of the latest chunk in the moving average of seconds per story
# Freed memory a worker keeps for its next chunk (`keep_freed_memory`). The model allocates and
# frees about 7 MB per 600-word story of a chunk; by default glibc hands that back to the system
# and the next chunk takes a page fault on every page again: about 2,800 faults and 6.5 ms of
# system CPU per story, a tenth of the worker's time. Kept, the faults are gone (a few dozen a
# story) and stories/s of a 2-worker pool rise by 7-12%. Enough for a chunk of READ_WORK_S (10
# such stories: a lone worker's chunk; 64 MB was not); a worker holds about 50 MB more resident
# with chunks of 4 stories, 90 MB with chunks of 10. What a chunk frees beyond it (16 such
# stories did) is handed back and faulted in again, as before.
WORKER_KEPT_MEMORY = 128 * 1024 * 1024
_ARTICLES = TypeAdapter(list[Article])
_worker_enricher: Enricher | None = None


class EnrichmentFailed(Exception):
    """An article could not be enriched; carries the worker's error type and message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True)
class WireEnriched:
    """An enriched article in its wire form, and the steps its time budget left out."""

    wire: dict[str, Any]
    skipped: tuple[str, ...] = ()


class _Outcome(BaseModel):
    article: Article | None = None
    skipped: list[str] = []
    error_type: str | None = None
    error: str | None = None


_OUTCOMES = TypeAdapter(list[_Outcome])


class EnrichPool:
    """A pool of enrichment workers; `await pool.enrich(batch)` gives one result per article."""

    def __init__(self, processes: int | None = None, budget_s: float = STORY_BUDGET_S) -> None:
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        self.budget_s = budget_s
        self._busy = 0  # stories of this pool's batches in flight
        self._story_s: float | None = None  # a story's work, moving average (None: not seen yet)
        self._enricher: Enricher | None = None
        self._executor: Executor = self._start()

    async def enrich(self, articles: list[Article]) -> list[Article | Exception]:
        """Enriched copies, in order; an exception in place of each article that failed."""
        results = await self.enrich_reported(articles)
        return [r if isinstance(r, Exception) else r.article for r in results]

    async def enrich_reported(self, articles: list[Article]) -> list[Enriched | Exception]:
        """Like `enrich`, saying for each article which steps its time budget skipped."""
        return await self._run(articles, _decode, lambda r: r)

    async def enrich_wire(self, articles: list[Article]) -> list[WireEnriched | Exception]:
        """Like `enrich_reported`, each article in its wire form (``Article.wire()``, what the
        next event carries): the service need not validate the workers' JSON and dump it
        again (about 0.4 ms of its CPU per story)."""
        return await self._run(articles, _decode_wire,
                               lambda r: WireEnriched(r.article.wire(), r.skipped))

    def read_size(self) -> int | None:
        """How many stories one read of the input should take: about READ_WORK_S of all the
        workers' time by what stories cost lately, at least MIN_CHUNK a worker; None before any
        story was seen."""
        if self._story_s is None:
            return None
        workers = max(1, self.processes)
        return max(MIN_CHUNK * workers,
                   math.ceil(workers * READ_WORK_S / max(self._story_s, 1e-6)))

    def _cost(self, seconds: float, stories: int) -> None:
        story_s = seconds / stories
        previous = self._story_s
        self._story_s = (story_s if previous is None
                         else previous + STORY_COST_WEIGHT * (story_s - previous))

    async def _run(self, articles: list[Article], decode: Callable[[bytes], list[T | Exception]],
                   inline: Callable[[Enriched], T]) -> list[T | Exception]:
        if not articles:
            return []
        loop = asyncio.get_running_loop()
        if self._enricher is not None:
            done, seconds = await loop.run_in_executor(
                self._executor, _timed, self._enricher.enrich_many_reported, articles
            )
            self._cost(seconds, len(articles))
            return [r if isinstance(r, Exception) else inline(r) for r in done]
        # More chunks than workers: a worker that finishes early takes the next chunk instead
        # of idling until the slowest one is done; but not so many that a chunk is one story.
        # A lone worker takes every chunk in turn: one chunk saves it a chunk's fixed costs.
        per_worker = CHUNKS_PER_WORKER if self.processes > 1 else 1
        chunks = _split(articles, min(self.processes * per_worker,
                                      max(self.processes, len(articles) // MIN_CHUNK)))
        executor = self._executor
        # Workers no story in flight needs are shared out among this batch's stories (then
        # every chunk is one story): a long one is split across its share.
        share = (self.processes - self._busy) // len(articles)
        self._busy += len(articles)
        try:
            outcomes = await asyncio.gather(
                *(self._outcomes(executor, [articles[i] for i in chunk], share)
                  for chunk in chunks),
                return_exceptions=True,
            )
        finally:
            self._busy -= len(articles)
        results: list[T | Exception | None] = [None] * len(articles)
        for chunk, outcome in zip(chunks, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if isinstance(outcome, BrokenProcessPool) and executor is self._executor:
                    self._executor = self._start()  # a worker died (OOM, segfault): replace it
                error = outcome if isinstance(outcome, Exception) else RuntimeError(str(outcome))
                for index in chunk:
                    results[index] = error
                continue
            for index, result in zip(chunk, decode(outcome), strict=True):
                results[index] = result
        return [r if r is not None else RuntimeError("not enriched") for r in results]

    async def _outcomes(self, executor: Executor, articles: list[Article],
                       workers: int) -> bytes:
        """A chunk's outcomes from the workers; one long story, with idle `workers` to spare,
        in two rounds (its model pass in parts, then the rest of it: `enrich.split`)."""
        loop = asyncio.get_running_loop()
        payload = chunk_payload(articles)
        parts = split.parts(articles[0], workers) if len(articles) == 1 else 1
        if parts > 1:
            found = split.merge(await asyncio.gather(
                *(loop.run_in_executor(executor, _model_part, payload, part, parts)
                  for part in range(parts))
            ))
            if found is not None:  # its cost is not a usual story's: not counted
                return (await loop.run_in_executor(executor, _enrich_chunk, payload, found))[0]
        out, seconds = await loop.run_in_executor(executor, _enrich_chunk, payload)
        self._cost(seconds, len(articles))
        return out

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
            self._enricher = self._enricher or Enricher(budget_s=self.budget_s)
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich")
        # spawn: a forked child of a process running an event loop and client threads can
        # inherit locks held by threads that do not exist in the child.
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.budget_s,),
        )


def chunk_payload(articles: list[Article]) -> bytes:
    """A chunk of articles as the service sends it to a worker."""
    return _ARTICLES.dump_json(articles, by_alias=True)


def enrich_payload(enricher: Enricher, payload: bytes, found: ModelPass | None = None) -> bytes:
    """What a worker does with a chunk: its articles as JSON in, their outcomes as JSON out;
    `found` is the model's output for a one-story chunk whose model pass ran in parts."""
    articles = _ARTICLES.validate_json(payload)
    outcomes = [
        _Outcome(article=r.article, skipped=list(r.skipped))
        if isinstance(r, Enriched)
        else _Outcome(error_type=type(r).__name__, error=str(r))
        for r in enricher.enrich_many_reported(articles, {0: found} if found else None)
    ]
    return _OUTCOMES.dump_json(outcomes, by_alias=True, exclude_none=True)


def _split(articles: list[Article], parts: int) -> list[list[int]]:
    """Indexes of `articles` in about `parts` contiguous chunks, then each large story alone."""
    large = [i for i, a in enumerate(articles) if _size(a) > LARGE_STORY_CHARS]
    small = [i for i, a in enumerate(articles) if _size(a) <= LARGE_STORY_CHARS]
    parts = max(1, min(parts, len(small)))
    size, extra = divmod(len(small), parts)
    chunks, start = [], 0
    for index in range(parts if small else 0):
        end = start + size + (1 if index < extra else 0)
        chunks.append(small[start:end])
        start = end
    return [*chunks, *([i] for i in large)]


def _size(article: Article) -> int:
    return sum(len(body.value) for body in article.bodies)


def _decode(payload: bytes) -> list[Enriched | Exception]:
    out: list[Enriched | Exception] = []
    for outcome in _OUTCOMES.validate_json(payload):
        if outcome.article is not None:
            out.append(Enriched(outcome.article, tuple(outcome.skipped)))
        else:
            out.append(EnrichmentFailed(outcome.error_type or "Error", outcome.error or ""))
    return out


def _decode_wire(payload: bytes) -> list[WireEnriched | Exception]:
    # Plain JSON, not validated again: the worker serialized validated Articles (by alias,
    # without None values, as Article.wire() does).
    out: list[WireEnriched | Exception] = []
    for outcome in orjson.loads(payload):
        if "article" in outcome:
            out.append(WireEnriched(outcome["article"], tuple(outcome.get("skipped") or ())))
        else:
            out.append(EnrichmentFailed(outcome.get("error_type") or "Error",
                                        outcome.get("error") or ""))
    return out


def _ready(hold_s: float) -> None:
    assert _worker_enricher is not None, "worker initializer did not run"
    time.sleep(hold_s)


def _init_worker(budget_s: float = STORY_BUDGET_S) -> None:
    global _worker_enricher
    _exit_with_parent()
    _worker_enricher = Enricher(budget_s=budget_s)
    settle_heap()  # the loaded models are long-lived: keep them out of every collection
    keep_freed_memory(WORKER_KEPT_MEMORY)


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


def _enrich_chunk(payload: bytes, found: ModelPass | None = None) -> tuple[bytes, float]:
    """Runs in a worker: JSON in, JSON out, with the seconds it took."""
    assert _worker_enricher is not None, "worker initializer did not run"
    return _timed(enrich_payload, _worker_enricher, payload, found)


def _timed(work: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.perf_counter()
    return work(*args), time.perf_counter() - started


def _model_part(payload: bytes, part: int, parts: int) -> ModelPass | None:
    """Runs in a worker: the model over one part of a one-story chunk (`split.model_part`).
    None when there is nothing to merge: the story is not English, or the model failed on the
    part; the story then goes through the model whole, and fails on its own if it must."""
    assert _worker_enricher is not None, "worker initializer did not run"
    try:
        return split.model_part(_worker_enricher, _ARTICLES.validate_json(payload)[0], part, parts)
    except Exception:
        return None
