"""Thin handler: store each enriched story (version-guarded), then announce it on news.published."""

from __future__ import annotations

import asyncio

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.article import Article, Subject
from shared.events import ArticleKilled, ArticlePublished, Event, EventDecodeError
from shared.medtop_migration import migrate_subjects
from shared.streams import Entry, Outcome

from publish.embargo import EmbargoSchedule
from publish.errors import StoreUnavailable
from publish.store import ArticleStore, Write

log = structlog.get_logger()

EVENT_SOURCE = "newsflow/publish"
ANNOUNCED_TTL_S = 7 * 24 * 3600  # longer than any redelivery of the same event can take


class PublishArticles:
    """The batch handler of the ``publish`` group on ``news.enriched``."""

    def __init__(self, store: ArticleStore, embargo: EmbargoSchedule, out_stream: str, *,
                 redis: Redis, namespace: str = "") -> None:
        self.store = store
        self.embargo = embargo
        self.out_stream = out_stream
        self.redis = redis
        self.announced_prefix = namespace + "newsflow:publish:announced:"

    async def __call__(self, entries: list[Entry]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._one(entry) for entry in entries)))

    async def _one(self, entry: Entry) -> Outcome:
        try:
            event = Event.from_fields(entry.fields)
            article = event.article()
        except (EventDecodeError, ValueError) as exc:
            return Outcome.failed(exc, poison=True)
        try:
            return await self.publish(event, article)
        except Exception as exc:  # a defect with one entry must not fail the whole batch
            log.exception("article.publish_failed", event_id=event.id, article_id=article.uri)
            return Outcome.failed(exc)

    async def publish(self, cause: Event, article: Article) -> Outcome:
        """Store, then emit the public event; a stale version is acked with nothing emitted.

        An embargoed version is held until its time; a kill also cancels any held version.
        """
        article = current_topic_codes(article)
        try:
            if self.embargo.holds(article):
                await self.embargo.hold(cause, article)
                return Outcome()
            if article.killed:
                await self.embargo.cancel(article.uri)
            write = await self.store.save(article, cause.id)
        except (StoreUnavailable, RedisError) as exc:
            return Outcome.failed(exc)
        log.info("article.stored", event_id=cause.id, article_id=article.uri,
                 version=article.version, write=write.value, killed=article.killed)
        if write is Write.stale:
            return Outcome()
        kind = ArticleKilled if article.killed else ArticlePublished
        event = kind.follow(cause, article, EVENT_SOURCE)
        announced = self.announced_prefix + event.id
        if write is Write.redelivered:
            try:
                if await self.redis.exists(announced):
                    return Outcome()  # stored and announced before a crash: nothing to repeat
            except RedisError as exc:
                return Outcome.failed(exc)
        return Outcome(emit=[(self.out_stream, event)], marks=[(announced, ANNOUNCED_TTL_S)])


def current_topic_codes(article: Article) -> Article:
    """An article enriched by a replica still running the former topic table (during an
    upgrade) gets IPTC's codes before anyone sees it."""
    subjects = [s.wire() for s in article.subjects]
    migrated, _ = migrate_subjects(subjects)
    if migrated is subjects:
        return article
    return article.model_copy(update={"subjects": [Subject.model_validate(s) for s in migrated]})
