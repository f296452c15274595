"""Thin handler: decode ingested events, enrich them in the worker pool, emit enriched events."""

from __future__ import annotations

import time

import structlog

from shared.article import Article
from shared.events import ArticleEnriched, Event, EventDecodeError
from shared.streams import Entry, Outcome

from enrich.workers import EnrichPool

log = structlog.get_logger()

EVENT_SOURCE = "newsflow/enrich"


class EnrichArticles:
    """The batch handler of the ``enrich`` group on ``news.ingested``."""

    def __init__(self, pool: EnrichPool, out_stream: str) -> None:
        self.pool = pool
        self.out_stream = out_stream

    async def __call__(self, entries: list[Entry]) -> list[Outcome]:
        started = time.perf_counter()
        outcomes: list[Outcome | None] = [None] * len(entries)
        causes: list[tuple[int, Event, Article]] = []
        for index, entry in enumerate(entries):
            try:
                event, article = Event.decode_article(entry.fields)
            except EventDecodeError as exc:
                outcomes[index] = Outcome.failed(exc, poison=True)
                continue
            if article.killed:  # a kill carries no text worth enriching: pass it on at once
                outcomes[index] = self._emit(event, article)
            else:
                causes.append((index, event, article))

        results = await self.pool.enrich([article for _, _, article in causes]) if causes else []
        for (index, event, _), result in zip(causes, results, strict=True):
            if isinstance(result, BaseException):
                outcomes[index] = Outcome.failed(result)
            else:
                outcomes[index] = Outcome(emit=[(self.out_stream, ArticleEnriched.follow_wire(
                    event, result, EVENT_SOURCE))])
        log.info("batch.enriched", entries=len(entries), enriched=len(causes),
                 ms=round((time.perf_counter() - started) * 1000, 1))
        return [o if o is not None else Outcome.failed(RuntimeError("unhandled")) for o in outcomes]

    def _emit(self, cause: Event, article: Article) -> Outcome:
        return Outcome(emit=[(self.out_stream, ArticleEnriched.follow(cause, article,
                                                                      EVENT_SOURCE))])
