"""Thin handler: decode ingested events, enrich them in the worker pool, emit enriched events."""

from __future__ import annotations

import time

import structlog
from prometheus_client import CollectorRegistry, Counter

from shared.article import Article
from shared.events import ArticleEnriched, Event, EventDecodeError
from shared.streams import Entry, Outcome

from enrich.workers import EnrichPool, WireEnriched

log = structlog.get_logger()

EVENT_SOURCE = "newsflow/enrich"


class EnrichArticles:
    """The batch handler of the ``enrich`` group on ``news.ingested``."""

    def __init__(
        self, pool: EnrichPool, out_stream: str, registry: CollectorRegistry | None = None
    ) -> None:
        self.pool = pool
        self.out_stream = out_stream
        self.partial = Counter(
            "newsflow_enrich_partial_total",
            "Stories published without some enrichment steps, their time budget spent",
            ["step"], registry=registry or CollectorRegistry(),
        )

    async def __call__(self, entries: list[Entry]) -> list[Outcome]:
        started = time.perf_counter()
        outcomes: list[Outcome | None] = [None] * len(entries)
        causes: list[tuple[int, Event, Article]] = []
        for index, entry in enumerate(entries):
            try:
                event = Event.from_fields(entry.fields)
                article = event.article()
            except (EventDecodeError, ValueError) as exc:
                outcomes[index] = Outcome.failed(exc, poison=True)
                continue
            if article.killed:  # a kill carries no text worth enriching: pass it on at once
                outcomes[index] = self._emit(event, article)
            else:
                causes.append((index, event, article))

        articles = [article for _, _, article in causes]
        results = await self.pool.enrich_wire(articles) if causes else []
        enriched = 0
        for (index, event, _), result in zip(causes, results, strict=True):
            if isinstance(result, BaseException):
                outcomes[index] = Outcome.failed(result)
            else:
                outcomes[index] = Outcome(emit=[(self.out_stream, ArticleEnriched.follow_wire(
                    event, result.wire, EVENT_SOURCE))])
                self._log(event, result)
                enriched += 1
        # One line per batch at info (a line per story cost a formatted line and a write each);
        # each story's own line is at debug.
        log.info("batch.enriched", entries=len(entries), enriched=enriched,
                 ms=round((time.perf_counter() - started) * 1000, 1))
        return [o if o is not None else Outcome.failed(RuntimeError("unhandled")) for o in outcomes]

    def _log(self, event: Event, result: WireEnriched) -> None:
        article = result.wire
        words = article.get("wordCount")
        log.debug("article.enriched", event_id=event.id, article_id=article["uri"],
                 people=len(article.get("people") or ()), places=len(article.get("places") or ()),
                 organisations=len(article.get("organisations") or ()), words=words)
        if result.skipped:
            log.warning("article.enrichment_partial", event_id=event.id,
                        article_id=article["uri"], skipped=list(result.skipped), words=words)
            for step in result.skipped:
                self.partial.labels(step).inc()

    def _emit(self, cause: Event, article: Article) -> Outcome:
        return Outcome(emit=[(self.out_stream, ArticleEnriched.follow(cause, article,
                                                                      EVENT_SOURCE))])
