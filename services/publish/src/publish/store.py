"""The only module that talks to MongoDB: stories keyed by uri, version-guarded, paged by time.

Kept to patterns that behave the same on MongoDB and on the nx-27017 stand-in (DESIGN.md):
string ``_id`` (the story uri), Int64 fields for ordering and keyset pagination, ``update_one``
with explicit filters (upserts only where the filter's guard decides, never ``replace_one``),
equality and ``$in`` on top-level fields and flat string arrays, no transactions.

The story itself is kept as its JSON text (``article``, a string), the very bytes announced on
news.published: nothing queries inside it (the fields the queries need sit beside it), and one
string costs the driver and the server far less to write than the nested document, whose
hundreds of small objects (entity mentions) each cost work on both sides (on nx-27017 about
1 ms of its CPU per story of 600 words). Documents written before hold the nested form;
reads take either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import orjson
import structlog
from bson import Int64
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from shared import medtop_migration
from shared.article import MAX_VERSION, Article, PubStatus
from shared.cursors import decode_cursor, encode_cursor
from shared.filters import topics_of

from publish.errors import BadRequest, StoreUnavailable

log = structlog.get_logger()

FINAL_RANK = MAX_VERSION + 1  # above any version an article can carry
DUPLICATE_KEY = 11000


class Write(StrEnum):
    stored = "stored"  # a new story, or a newer version of a known one
    redelivered = "redelivered"  # this very event was stored before: emit again, harmless
    stale = "stale"  # an older (or an equal) version: nothing changes


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Provenance(Protocol):
    @property
    def provider(self) -> str: ...

    @property
    def owner(self) -> str: ...


class Storable(Protocol):
    """What the store reads of a version beside its JSON: an `Article`, or the facts publish
    reads of one it does not validate whole (`publish.decoding.ArticleFacts`)."""

    @property
    def uri(self) -> str: ...

    @property
    def version(self) -> int | None: ...

    @property
    def version_created(self) -> datetime | None: ...

    @property
    def first_created(self) -> datetime | None: ...

    @property
    def pub_status(self) -> PubStatus: ...

    @property
    def urgency(self) -> int | None: ...

    @property
    def language(self) -> str | None: ...

    @property
    def source(self) -> Provenance: ...

    @property
    def people(self) -> Sequence[Named]: ...

    @property
    def organisations(self) -> Sequence[Named]: ...

    @property
    def places(self) -> Sequence[Named]: ...

    @property
    def killed(self) -> bool: ...


@dataclass(frozen=True)
class StoredStory:
    uri: str
    article: dict[str, Any]
    killed: bool
    published_ms: int
    event_id: str


@dataclass(frozen=True)
class Migrated:
    """What a start-up migration of topic codes changed."""

    documents: int = 0  # documents rewritten (codes, labels or uris)
    codes: int = 0  # topic codes that changed
    skipped: int = 0  # changed by someone else meanwhile: left for the next start-up


@dataclass(frozen=True)
class Page:
    items: list[StoredStory]
    next_cursor: str | None


@dataclass(frozen=True)
class Query:
    """Read-API filters; each is optional."""

    topic: str | None = None
    entity: str | None = None
    language: str | None = None
    source: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    include_killed: bool = False


_UNCHECKED = {"medtopRevision": {"$exists": False}}  # stories the topic migration has not seen


class ArticleStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.client = client
        self.articles = client[database]["articles"]

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def create_indexes(self) -> None:
        try:
            await self.articles.create_index([("publishedMs", DESCENDING)])
            await self.articles.create_index([("topics", ASCENDING)])
            await self.articles.create_index([("entities", ASCENDING)])
            await self.articles.create_index([("language", ASCENDING)])
            await self.articles.create_index([("provider", ASCENDING)])
        except PyMongoError as exc:
            raise StoreUnavailable(f"cannot create indexes: {exc}") from exc

    async def save(self, article: Article, event_id: str) -> Write:
        """Store one version unless a newer one is already there. Kills always apply."""
        wire = article.wire()
        write = (await self.save_many([(article, event_id)], [wire], [orjson.dumps(wire)]))[0]
        if isinstance(write, Exception):
            raise write
        return write

    async def save_many(self, items: Sequence[tuple[Storable, str]],
                        wires: Sequence[dict[str, Any]],
                        texts: Sequence[bytes]) -> list[Write | Exception]:
        """`save` for a batch: one result per (article, event id), in order; in place of a
        result, StoreUnavailable (retry later) or the defect that kept that one version out.
        ``wires`` are the articles' ``wire()`` forms, and ``texts`` their JSON (each computed
        once by the caller, who announces the same bytes).

        The versions go in one unordered ``bulk_write`` of version-guarded upserts: a new story
        is inserted, a newer version updates, and an older or equal one fails on the unique
        ``_id`` (the guard does not match, so the upsert tries to insert). Only those, rare
        (redeliveries, late versions, two versions of a new story racing), cost more round
        trips to tell a stale (or foreign) version from this very event stored before. Kills go
        one by one.
        """
        results: list[Write | Exception | None] = [None] * len(items)
        docs: list[tuple[int, Storable, dict[str, Any]]] = []
        for index, (article, event_id) in enumerate(items):
            try:
                doc = _document(article, event_id, wires[index], texts[index])
            except Exception as exc:  # one bad version must not keep the batch out
                results[index] = exc
                continue
            if article.killed:
                try:
                    results[index] = await self._kill(article, doc)
                except PyMongoError as exc:
                    results[index] = StoreUnavailable(f"MongoDB write failed: {exc}")
            else:
                docs.append((index, article, doc))
        if docs:
            for (index, article, doc), write in zip(docs, await self._upsert(docs), strict=True):
                if write is None:
                    write = await self._settle(article, doc)
                results[index] = write
        return [r if r is not None else StoreUnavailable("not written") for r in results]

    async def _upsert(self, docs: list[tuple[int, Storable, dict[str, Any]]]
                      ) -> list[Write | StoreUnavailable | None]:
        """One round trip; None where the guard refused (decided by `_settle`)."""
        ops = [UpdateOne(_guard(article, doc), {"$set": doc}, upsert=True)
               for _, article, doc in docs]
        refused: dict[int, Write | StoreUnavailable | None] = {}
        try:
            await self.articles.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                refused[error["index"]] = None if error.get("code") == DUPLICATE_KEY else (
                    StoreUnavailable(f"MongoDB write failed: {error.get('errmsg')}"))
        except PyMongoError as exc:
            failed = StoreUnavailable(f"MongoDB write failed: {exc}")
            return [failed for _ in docs]
        return [refused.get(i, Write.stored) for i in range(len(docs))]

    async def _settle(self, article: Storable, doc: dict[str, Any]) -> Write | StoreUnavailable:
        """A version the guarded upsert refused: newer after all (it raced with the insert of
        another version of a new story), this very event stored before, or stale."""
        try:
            if (await self.articles.update_one(_guard(article, doc), {"$set": doc})).matched_count:
                return Write.stored
            current = await self.articles.find_one({"_id": article.uri},
                                                   {"eventId": 1, "owner": 1})
        except PyMongoError as exc:
            return StoreUnavailable(f"MongoDB write failed: {exc}")
        if current is not None and current.get("eventId") == doc["eventId"]:
            return Write.redelivered
        _log_if_foreign(article, current)
        return Write.stale

    async def _kill(self, article: Storable, doc: dict[str, Any]) -> Write:
        # The kill notice replaces the stored content: a killed story's text is not kept.
        fields = {"rank": 1, "eventId": 1, "owner": 1}
        current = await self.articles.find_one({"_id": article.uri}, fields)
        if current is None:
            try:
                await self.articles.insert_one({"_id": article.uri, **doc})
                return Write.stored
            except DuplicateKeyError:
                current = await self.articles.find_one({"_id": article.uri}, fields) or {}
        if current.get("eventId") == doc["eventId"]:
            return Write.redelivered
        doc["rank"] = Int64(max(int(current.get("rank", 0)), int(doc["rank"])))
        owned = {"_id": article.uri, "owner": {"$in": [doc["owner"], None]}}
        if (await self.articles.update_one(owned, {"$set": doc})).matched_count:
            return Write.stored
        _log_if_foreign(article, current)
        return Write.stale

    async def unchecked_topic_codes(self) -> int:
        """How many stories the topic-code migration has still to look at."""
        try:
            return await self.articles.count_documents(_UNCHECKED)
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB count failed: {exc}") from exc

    async def migrate_topic_codes(self, step: Callable[[], None] | None = None) -> Migrated:
        """Rewrite the subjects of stories stored before IPTC's own codes (see
        `shared.medtop_migration`) and mark every story as checked, calling ``step`` after each.
        Idempotent, so an interrupted run carries on where it stopped; a story changed
        meanwhile (another version stored) is left alone: its new version has its own topics."""
        documents = codes = skipped = 0
        try:
            async for doc in self.articles.find(_UNCHECKED, {"article": 1, "eventId": 1}):
                stored = _article(doc)
                wire, changed = medtop_migration.migrate_article(stored)
                update: dict[str, Any] = {"medtopRevision": medtop_migration.REVISION}
                if wire is not stored:  # written back in the form it was found in
                    text = isinstance(doc.get("article"), str | bytes)
                    update.update(article=orjson.dumps(wire).decode() if text else wire,
                                  topics=_topics(wire))
                guard = {"_id": doc["_id"], "eventId": doc.get("eventId")}
                result = await self.articles.update_one(guard, {"$set": update})
                if not result.matched_count:
                    skipped += 1
                elif "article" in update:
                    documents += 1
                    codes += changed
                if step is not None:
                    step()
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB topic migration failed: {exc}") from exc
        return Migrated(documents, codes, skipped)

    async def get(self, uri: str) -> StoredStory | None:
        try:
            doc = await self.articles.find_one({"_id": uri})
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB read failed: {exc}") from exc
        return _story(doc) if doc else None

    async def page(self, query: Query, limit: int, cursor: str | None = None) -> Page:
        """Newest first by publish time; the cursor is the last (publishedMs, uri) returned."""
        base: dict[str, Any] = {}
        if not query.include_killed:
            base["killed"] = False
        # Array fields are matched with $in: nx-27017 misses plain equality on an indexed array.
        if query.topic:
            base["topics"] = {"$in": [query.topic]}
        if query.entity:
            base["entities"] = {"$in": [query.entity.casefold()]}
        if query.language:
            base["language"] = query.language
        if query.source:
            base["provider"] = query.source
        ranges: dict[str, Any] = {}
        if query.since_ms is not None:
            ranges["$gte"] = Int64(query.since_ms)
        if query.until_ms is not None:
            ranges["$lt"] = Int64(query.until_ms)
        if ranges:
            base["versionCreatedMs"] = ranges
        docs, next_cursor = await _keyset_page(self.articles, base, "publishedMs", DESCENDING,
                                               limit, cursor)
        return Page([_story(d) for d in docs], next_cursor)

    async def subscription_views(self) -> dict[str, tuple[str, bool, str | None]]:
        """Webhook subscriptions as the dashboard shows them: id -> (url, enabled, why
        disabled). deliver owns the collection; publish only reads these fields."""
        try:
            cursor = self.articles.database["subscriptions"].find(
                {}, {"url": 1, "enabled": 1, "disabledReason": 1})
            return {doc["_id"]: (doc.get("url") or "", bool(doc.get("enabled", True)),
                                 doc.get("disabledReason")) async for doc in cursor}
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB read failed: {exc}") from exc

    async def close(self) -> None:
        await self.client.close()


def _guard(article: Storable, doc: dict[str, Any]) -> dict[str, Any]:
    """Matches the stored story only when this version is newer and comes from the story's
    owner (the source that first sent it); a document stored before owners were kept has none
    and is taken over as before."""
    return {"_id": article.uri, "rank": {"$lt": doc["rank"]},
            "owner": {"$in": [doc["owner"], None]}}


def _document(article: Storable, event_id: str, wire: dict[str, Any],
              text: bytes) -> dict[str, Any]:
    created = article.version_created or article.first_created
    created_ms = _ms(created) if created else None
    rank = article.version if article.version is not None else (created_ms or 0)
    if article.killed and article.version is None:
        # A kill that names no version cannot be ordered against the versions it kills, which
        # may still be on their way through another replica: it is final.
        rank = FINAL_RANK
    names = [e.name.casefold() for e in (*article.people, *article.organisations,
                                         *article.places)]
    return {
        "article": text.decode(),
        "rank": Int64(rank),
        "eventId": event_id,
        "killed": article.killed,
        "pubStatus": article.pub_status.value,
        "publishedMs": Int64(int(time.time() * 1000)),
        "versionCreatedMs": Int64(created_ms if created_ms is not None else 0),
        "language": article.language or "",
        "provider": article.source.provider,
        "owner": article.source.owner,
        "topics": _topics(wire),
        "entities": sorted(set(names)),
        "urgency": article.urgency or 0,
        "medtopRevision": medtop_migration.REVISION,
    }


def _topics(wire: dict[str, Any]) -> list[str]:
    """What the `topics` index holds: every subject's code and uri, and the medtop codes."""
    subjects = wire.get("subjects") or []
    return sorted({s["code"] for s in subjects if s.get("code")}
                  | {s["uri"] for s in subjects if s.get("uri")} | topics_of(wire))


def _log_if_foreign(article: Storable, current: dict[str, Any] | None) -> None:
    owner = (current or {}).get("owner")
    if owner is not None and owner != article.source.owner:
        log.warning("article.foreign", article_id=article.uri, owner=owner,
                    sender=article.source.owner)


def _story(doc: dict[str, Any]) -> StoredStory:
    return StoredStory(uri=doc["_id"], article=_article(doc),
                       killed=bool(doc.get("killed")), published_ms=int(doc.get("publishedMs", 0)),
                       event_id=doc.get("eventId", ""))


def _article(doc: dict[str, Any]) -> dict[str, Any]:
    """The stored story: its JSON text, or (written before) the nested document."""
    stored = doc.get("article")
    if isinstance(stored, str | bytes):
        article: dict[str, Any] = orjson.loads(stored)
        return article
    return stored or {}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


async def _keyset_page(collection: AsyncCollection[dict[str, Any]], base: dict[str, Any],
                       key: str, direction: int, limit: int, cursor: str | None
                       ) -> tuple[list[dict[str, Any]], str | None]:
    """One page ordered by (Int64 ``key``, ``_id``), both in ``direction``; the cursor is the
    last (key, _id) returned. Two plain queries (ties on the key, then beyond it) instead of an
    ``$or``, so the pattern holds on nx-27017 as on MongoDB."""
    beyond = "$lt" if direction == DESCENDING else "$gt"
    docs: list[dict[str, Any]] = []
    try:
        rest_filter = base
        if cursor:
            after_key, after_id = _decode_cursor(cursor)
            ties = collection.find({**base, key: Int64(after_key), "_id": {beyond: after_id}})
            docs = [d async for d in ties.sort([("_id", direction)]).limit(limit + 1)]
            rest_filter = {**base, key: {beyond: Int64(after_key)}}
        if len(docs) <= limit:
            rest = collection.find(rest_filter).sort([(key, direction), ("_id", direction)])
            docs.extend([d async for d in rest.limit(limit + 1 - len(docs))])
    except PyMongoError as exc:
        raise StoreUnavailable(f"MongoDB read failed: {exc}") from exc
    page, more = docs[:limit], len(docs) > limit
    return page, encode_cursor(int(page[-1].get(key, 0)), page[-1]["_id"]) if more else None


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise BadRequest("not a cursor this API returned", "cursor") from exc
