"""Intake: deduplicate parsed articles and append them durably to ``news.ingested``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import structlog
from redis.asyncio import Redis

from shared.article import Article
from shared.events import INGESTED_STREAM, ArticleIngested

log = structlog.get_logger()

SEEN_PREFIX = "newsflow:ingest:seen:"
EVENT_SOURCE = "newsflow/ingest"


@dataclass(frozen=True)
class IntakeResult:
    uri: str
    version: int | None
    status: Literal["accepted", "duplicate"]
    event_id: str

    def wire(self) -> dict[str, object]:
        return {"uri": self.uri, "version": self.version, "status": self.status,
                "event_id": self.event_id}


class Intake:
    """Appends each new article version to the ingested stream exactly once per key.

    A repeat of (source, uri, version), or of the content when there is no version, is a
    no-op reported as ``duplicate``. The seen-marker is written after the event, in the same
    pipeline: a crash in between can only cause a harmless second event (consumers are
    idempotent), never a story that is reported accepted but was not appended.
    """

    def __init__(self, redis: Redis, *, stream: str = INGESTED_STREAM, namespace: str = "",
                 dedupe_ttl_s: int = 30 * 24 * 3600, waitaof: bool = False) -> None:
        self.redis = redis
        self.stream = stream
        self.seen_prefix = namespace + SEEN_PREFIX
        self.dedupe_ttl_s = dedupe_ttl_s
        self.waitaof = waitaof

    async def submit(self, articles: list[Article]) -> list[IntakeResult]:
        events = [ArticleIngested.for_article(a, EVENT_SOURCE) for a in articles]
        keys = [self.seen_prefix + a.idempotency_key() for a in articles]
        check = self.redis.pipeline(transaction=False)
        for key in keys:
            check.get(key)
        seen = await check.execute()

        results: list[IntakeResult] = []
        write = self.redis.pipeline(transaction=False)
        fresh: set[str] = set()
        for article, event, key, previous in zip(articles, events, keys, seen, strict=True):
            if previous is not None or key in fresh:
                results.append(IntakeResult(article.uri, article.version, "duplicate", event.id))
                continue
            fresh.add(key)
            write.xadd(self.stream, event.to_fields())
            write.set(key, event.id, ex=self.dedupe_ttl_s)
            results.append(IntakeResult(article.uri, article.version, "accepted", event.id))
        if fresh:
            await write.execute()
            if self.waitaof:
                await self.redis.execute_command("WAITAOF", 1, 0, 1000)
        for result in results:
            log.info("article.ingested", article_id=result.uri, version=result.version,
                     status=result.status, event_id=result.event_id)
        return results
