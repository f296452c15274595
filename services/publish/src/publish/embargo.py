"""The embargo hold: a durable schedule in Redis that releases stories when their embargo lifts.

A held event waits in a sorted set scored by its release time, its fields in a hash beside it.
Release appends the event back to ``news.enriched`` (the time has passed, so it is published on
that second pass), then removes it from the schedule: a crash in between only repeats an event
that publish handles idempotently. Two replicas releasing at once do the same, harmlessly.
A kill removes every held version of its story, and only of its owner's story: another
source's kill of the same uri cancels nothing (ingest refuses such kills; this holds the line
for events that reach the stream another way).
"""

from __future__ import annotations

import asyncio
import time

import orjson
import structlog
from redis.asyncio import Redis

from shared.article import Article
from shared.events import Event

log = structlog.get_logger()

# KEYS: the story's held ids, due, events -> how many were held. Atomic, so a version held by
# another replica at the same moment is either cancelled too or held after the kill.
_CANCEL = """
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
redis.call('DEL', KEYS[1])
return #ids
"""


class EmbargoSchedule:
    def __init__(self, redis: Redis, *, namespace: str, release_to: str,
                 interval_s: float = 1.0) -> None:
        self.redis = redis
        self.release_to = release_to
        self.interval_s = interval_s
        self.due_key = namespace + "newsflow:embargo:due"  # event id -> release ms
        self.events_key = namespace + "newsflow:embargo:events"  # event id -> stream fields
        # + len(owner):owner:uri -> SET of event ids
        self.by_uri_prefix = namespace + "newsflow:embargo:uri:"
        self._cancel = redis.register_script(_CANCEL)

    @staticmethod
    def holds(article: Article, now_ms: int | None = None) -> bool:
        """Whether this version must wait: usable and embargoed until a time still ahead."""
        if article.killed or article.embargoed_until is None:
            return False
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return article.embargoed_until.timestamp() * 1000 > now_ms

    async def hold(self, event: Event, article: Article) -> None:
        assert article.embargoed_until is not None
        release_ms = int(article.embargoed_until.timestamp() * 1000)
        fields = {k: (v.decode() if isinstance(v, bytes) else v)
                  for k, v in event.to_fields().items()}
        pipe = self.redis.pipeline(transaction=True)  # a kill sees all of it or none
        pipe.hset(self.events_key, event.id, orjson.dumps(fields))
        pipe.sadd(self._held_key(article.uri, article.source.owner), event.id)
        pipe.zadd(self.due_key, {event.id: release_ms})
        await pipe.execute()
        log.info("article.held", event_id=event.id, article_id=article.uri,
                 until=article.embargoed_until.isoformat())

    async def cancel(self, uri: str, owner: str) -> int:
        """Drop every held version of the owner's story (a kill); returns how many were held."""
        held = int(await self._cancel(
            keys=[self._held_key(uri, owner), self.due_key, self.events_key]))
        if held:
            log.info("embargo.cancelled", article_id=uri, held=held)
        return held

    async def pending(self) -> int:
        return int(await self.redis.zcard(self.due_key))

    async def release_due(self, now_ms: int | None = None) -> int:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        due: list[bytes] = await self.redis.zrangebyscore(  # type: ignore[assignment]
            self.due_key, "-inf", now_ms, start=0, num=100)
        released = 0
        for raw_id in due:
            event_id = raw_id.decode()
            raw = await self.redis.hget(self.events_key, event_id)
            if raw is None:  # cancelled meanwhile
                await self.redis.zrem(self.due_key, event_id)
                continue
            fields = orjson.loads(raw)
            await self.redis.xadd(self.release_to, fields)
            pipe = self.redis.pipeline(transaction=False)
            pipe.zrem(self.due_key, event_id)
            pipe.hdel(self.events_key, event_id)
            await pipe.execute()
            await self._forget(fields, event_id)
            released += 1
            log.info("embargo.released", event_id=event_id, article_id=fields.get("ce_subject"))
        return released

    async def run(self) -> None:
        while True:
            try:
                await self.release_due()
            except Exception:
                log.exception("embargo.release_failed")
            await asyncio.sleep(self.interval_s)

    async def _forget(self, fields: dict[str, str], event_id: str) -> None:
        source = orjson.loads(fields.get("data") or "{}").get("source") or {}
        owner = source.get("namespace") or source.get("provider") or ""
        await self.redis.srem(self._held_key(fields.get("ce_subject", ""), owner), event_id)

    def _held_key(self, uri: str, owner: str) -> str:
        return f"{self.by_uri_prefix}{len(owner)}:{owner}:{uri}"
