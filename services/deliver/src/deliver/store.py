"""The only module that talks to MongoDB: webhook subscriptions, one document each.

The listing pages by keyset on (createdMs, id), indexed, reading one page's documents only; the
cursor has the same opaque shape as the read API's (base64 of ``createdMs|id``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from bson import Int64
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import PyMongoError

from shared import medtop_migration
from shared.cursors import decode_cursor, encode_cursor

from deliver.errors import BadRequest, StoreUnavailable

log = structlog.get_logger()


@dataclass(frozen=True)
class Migrated:
    """What a start-up migration of topic codes changed."""

    documents: int = 0  # documents rewritten (codes, labels or uris)
    codes: int = 0  # topic codes that changed
    skipped: int = 0  # changed by someone else meanwhile: left for the next start-up


@dataclass(frozen=True)
class SubscriptionRecord:
    """A webhook subscription as stored (filters as a plain dict; secrets included)."""

    id: str
    url: str
    filters: dict[str, Any]
    enabled: bool
    description: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_ms: int
    created_ms: int
    updated_ms: int
    disabled_reason: str | None


class SubscriptionStore:
    """Webhook subscriptions, one document each, keyed by the subscription id."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.client = client
        self.subscriptions = client[database]["subscriptions"]

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def create_indexes(self) -> None:
        try:
            await self.subscriptions.create_index([("createdMs", ASCENDING)])
        except PyMongoError as exc:
            raise StoreUnavailable(f"cannot create indexes: {exc}") from exc

    async def close(self) -> None:
        await self.client.close()

    async def create(self, record: SubscriptionRecord) -> None:
        try:
            await self.subscriptions.insert_one(_subscription_document(record))
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB write failed: {exc}") from exc

    async def get(self, subscription_id: str) -> SubscriptionRecord | None:
        try:
            doc = await self.subscriptions.find_one({"_id": subscription_id})
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB read failed: {exc}") from exc
        return _subscription(doc) if doc else None

    async def page(self, limit: int, cursor: str | None = None
                   ) -> tuple[list[SubscriptionRecord], str | None]:
        """Oldest first by (createdMs, id), at most ``limit`` read; the cursor is the last
        (createdMs, id) returned. Two plain queries (ties on createdMs, then beyond it) instead
        of an ``$or``, so the pattern holds on nx-27017 as on MongoDB."""
        docs: list[dict[str, Any]] = []
        try:
            rest_filter: dict[str, Any] = {}
            if cursor:
                after_ms, after_id = _decode_cursor(cursor)
                ties = self.subscriptions.find({"createdMs": Int64(after_ms),
                                                "_id": {"$gt": after_id}})
                docs = [d async for d in ties.sort([("_id", ASCENDING)]).limit(limit + 1)]
                rest_filter = {"createdMs": {"$gt": Int64(after_ms)}}
            if len(docs) <= limit:
                rest = self.subscriptions.find(rest_filter).sort([("createdMs", ASCENDING),
                                                                  ("_id", ASCENDING)])
                docs.extend([d async for d in rest.limit(limit + 1 - len(docs))])
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB read failed: {exc}") from exc
        page, more = [_subscription(d) for d in docs[:limit]], len(docs) > limit
        return page, encode_cursor(page[-1].created_ms, page[-1].id) if more else None

    async def all(self) -> list[SubscriptionRecord]:
        """Every subscription, oldest first."""
        try:
            cursor = self.subscriptions.find({}).sort([("createdMs", ASCENDING),
                                                       ("_id", ASCENDING)])
            return [_subscription(doc) async for doc in cursor]
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB read failed: {exc}") from exc

    async def update(self, subscription_id: str, changes: dict[str, Any]) -> bool:
        """Set the given fields (SubscriptionRecord names); False if there is no such id."""
        fields = {_SUBSCRIPTION_FIELDS[name]: Int64(value) if name.endswith("_ms") else value
                  for name, value in changes.items()}
        fields["updatedMs"] = Int64(int(time.time() * 1000))
        if "filters" in changes:  # validated against IPTC's codes: nothing to migrate later
            fields["medtopRevision"] = medtop_migration.REVISION
        try:
            result = await self.subscriptions.update_one({"_id": subscription_id},
                                                         {"$set": fields})
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB write failed: {exc}") from exc
        return bool(result.matched_count)

    async def migrate_topic_codes(self) -> Migrated:
        """Move the topic filters of subscriptions stored before IPTC's own codes to IPTC's
        codes (`shared.medtop_migration.migrate_filters`), once: each is marked as migrated in
        the same write, guarded by its `updatedMs`, so a concurrent start-up or edit never gets
        the (non-idempotent) mapping applied twice."""
        documents = codes = skipped = 0
        try:
            async for doc in self.subscriptions.find({"medtopRevision": {"$exists": False}}):
                filters, changed = medtop_migration.migrate_filters(dict(doc.get("filters") or {}))
                guard = {"_id": doc["_id"], "updatedMs": doc.get("updatedMs")}
                update = {"filters": filters, "medtopRevision": medtop_migration.REVISION,
                          "updatedMs": Int64(max(int(time.time() * 1000),
                                                 int(doc.get("updatedMs") or 0) + 1))}
                result = await self.subscriptions.update_one(guard, {"$set": update})
                if not result.matched_count:
                    skipped += 1
                elif changed:
                    documents += 1
                    codes += changed
                    log.info("subscription.topics_migrated", subscription=doc["_id"],
                             before=(doc.get("filters") or {}).get("topics"),
                             after=filters.get("topics"))
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB topic migration failed: {exc}") from exc
        return Migrated(documents, codes, skipped)

    async def delete(self, subscription_id: str) -> bool:
        try:
            result = await self.subscriptions.delete_one({"_id": subscription_id})
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB write failed: {exc}") from exc
        return bool(result.deleted_count)


_SUBSCRIPTION_FIELDS = {
    "url": "url", "filters": "filters", "enabled": "enabled", "description": "description",
    "secret": "secret", "previous_secret": "previousSecret",
    "previous_secret_expires_ms": "previousSecretExpiresMs", "created_ms": "createdMs",
    "updated_ms": "updatedMs", "disabled_reason": "disabledReason",
}


def _subscription_document(record: SubscriptionRecord) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": record.id, "medtopRevision": medtop_migration.REVISION}
    for name, key in _SUBSCRIPTION_FIELDS.items():
        value = getattr(record, name)
        doc[key] = Int64(value) if name.endswith("_ms") else value
    return doc


def _subscription(doc: dict[str, Any]) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=doc["_id"], url=doc["url"], filters=dict(doc.get("filters") or {}),
        enabled=bool(doc.get("enabled", True)), description=doc.get("description") or "",
        secret=doc["secret"], previous_secret=doc.get("previousSecret"),
        previous_secret_expires_ms=int(doc.get("previousSecretExpiresMs") or 0),
        created_ms=int(doc.get("createdMs") or 0), updated_ms=int(doc.get("updatedMs") or 0),
        disabled_reason=doc.get("disabledReason"))


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise BadRequest("not a cursor this API returned", "cursor") from exc
