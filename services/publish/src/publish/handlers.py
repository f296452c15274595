"""Thin handler: store each enriched story (version-guarded), then announce it on news.published."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.article import Article, Subject
from shared.events import ArticleKilled, ArticlePublished, Event, EventDecodeError
from shared.medtop_migration import migrate_subjects
from shared.streams import Entry, Outcome

from publish.decoding import as_enrich_wrote_it, whole_article
from publish.embargo import EmbargoSchedule
from publish.errors import StoreUnavailable
from publish.store import ArticleStore, Storable, Write

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
        """Decode, hold or store the whole batch (one bulk write), then decide what to emit."""
        outcomes: list[Outcome | None] = [None] * len(entries)
        stores: list[tuple[int, Event, Storable, dict[str, Any], bytes]] = []
        for index, entry in enumerate(entries):
            try:
                event = Event.from_fields(entry.fields)
                written = as_enrich_wrote_it(event, entry.fields[b"data"])
                if written is None:
                    article = whole_article(event)
            except EventDecodeError as exc:
                outcomes[index] = Outcome.failed(exc, poison=True)
                continue
            if written is not None:  # stored and announced as enrich wrote it
                facts, text = written
                stores.append((index, event, facts, event.data, text))
                continue
            try:
                article = current_topic_codes(article)
                if self.embargo.holds(article):
                    await self.embargo.hold(event, article)
                    outcomes[index] = Outcome()
                    continue
                if article.killed:
                    await self.embargo.cancel(article.uri, article.source.owner)
                wire = article.wire()  # once, for the store and the public event
                text = orjson.dumps(wire)  # the bytes stored and announced
            except RedisError as exc:
                outcomes[index] = Outcome.failed(exc)
                continue
            except Exception as exc:  # a defect with one entry must not fail the whole batch
                log.exception("article.publish_failed", event_id=event.id, article_id=article.uri)
                outcomes[index] = Outcome.failed(exc)
                continue
            stores.append((index, event, article, wire, text))
        writes: list[Write | Exception] = []
        if stores:
            writes = await self.store.save_many([(a, e.id) for _, e, a, _, _ in stores],
                                                [w for _, _, _, w, _ in stores],
                                                [t for _, _, _, _, t in stores])
            # One after the other: only a redelivered version waits (on Redis), so a task per
            # story would buy nothing but its own cost.
            for (index, cause, stored, wire, text), write in zip(stores, writes, strict=True):
                outcomes[index] = await self._announce(cause, stored, wire, text, write)
        log.info("batch.stored", entries=len(entries),
                 **Counter(w.value for w in writes if isinstance(w, Write)))
        return [o if o is not None else Outcome.failed(RuntimeError("unhandled"))
                for o in outcomes]

    async def _announce(self, cause: Event, article: Storable, wire: dict[str, Any],
                        text: bytes, write: Write | Exception) -> Outcome:
        """Emit the public event for a stored version; a stale version is acked with nothing
        emitted, and a redelivered one is announced again only if it never was."""
        if isinstance(write, Exception):
            if not isinstance(write, StoreUnavailable):  # a defect with this entry alone
                log.error("article.publish_failed", event_id=cause.id, article_id=article.uri,
                          error=repr(write))
            return Outcome.failed(write)
        log.debug("article.stored", event_id=cause.id, article_id=article.uri,
                  version=article.version, write=write.value, killed=article.killed)
        if write is Write.stale:
            return Outcome()
        try:
            kind = ArticleKilled if article.killed else ArticlePublished
            event = kind.follow_wire(cause, wire, EVENT_SOURCE, wire_json=text)
        except Exception as exc:  # a defect with one entry must not fail the whole batch
            log.exception("article.publish_failed", event_id=cause.id, article_id=article.uri)
            return Outcome.failed(exc)
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
