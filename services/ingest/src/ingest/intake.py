"""Intake: deduplicate parsed articles and append them durably to ``news.ingested``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import structlog
from redis.asyncio import Redis
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

from shared.article import Article
from shared.events import INGESTED_STREAM, ArticleIngested

log = structlog.get_logger()

SEEN_PREFIX = "newsflow:ingest:seen:"
EVENT_SOURCE = "newsflow/ingest"


# KEYS: stream, seen key; ARGV: ttl, event id, then the entry's fields and values -> 1 if
# appended, 0 if the key was seen. One script, so two ingest replicas given the same story at the
# same moment append it once.
_APPEND_ONCE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
return 1
"""


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
    no-op reported as ``duplicate``. The look-up, the event and the seen-marker are one script
    per story, so the marker exists exactly when the event does, whichever replica got it.
    """

    def __init__(self, redis: Redis, *, stream: str = INGESTED_STREAM, namespace: str = "",
                 dedupe_ttl_s: int = 30 * 24 * 3600, waitaof: bool = False) -> None:
        self.redis = redis
        self.stream = stream
        self.seen_prefix = namespace + SEEN_PREFIX
        self.dedupe_ttl_s = dedupe_ttl_s
        self.waitaof = waitaof
        self._append = redis.register_script(_APPEND_ONCE)

    async def submit(self, articles: list[Article]) -> list[IntakeResult]:
        events = [ArticleIngested.for_article(a, EVENT_SOURCE) for a in articles]
        calls = []
        for article, event in zip(articles, events, strict=True):
            fields = [part for pair in event.to_fields().items() for part in pair]
            calls.append(([self.stream, self.seen_prefix + article.idempotency_key()],
                          [self.dedupe_ttl_s, event.id, *fields]))
        appended = await self._append_all(calls)
        results = [IntakeResult(article.uri, article.version,
                                "accepted" if added else "duplicate", event.id)
                   for article, event, added in zip(articles, events, appended, strict=True)]
        if any(appended) and self.waitaof:
            await self.redis.execute_command("WAITAOF", 1, 0, 1000)
        for result in results:
            log.info("article.ingested", article_id=result.uri, version=result.version,
                     status=result.status, event_id=result.event_id)
        return results

    async def _append_all(self, calls: list[tuple[list[str], list[EncodableT]]]) -> list[int]:
        """The script once per story, in one round trip: EVALSHA in a pipeline, without the
        SCRIPT EXISTS round trip redis-py's pipelined scripts cost on every execute."""
        results: list[object] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in (1, 2):
            pipe = self.redis.pipeline(transaction=False)
            for index in todo:
                keys, args = calls[index]
                pipe.evalsha(self._append.sha, len(keys), *keys, *args)
            for index, result in zip(todo, await pipe.execute(raise_on_error=False),
                                     strict=True):
                results[index] = result
            # Redis lost its script cache (a restart, SCRIPT FLUSH): those did not run at all.
            todo = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            if not todo or attempt == 2:
                break
            await self.redis.script_load(_APPEND_ONCE)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return [int(r) for r in results]  # type: ignore[call-overload]
