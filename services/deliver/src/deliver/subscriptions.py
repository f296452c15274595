"""Webhook subscriptions: the admin API, its validation, and the operations behind it.

The secret is shown once, when a subscription is created or its secret rotated. Rotation keeps
the previous secret valid for ``webhook_secret_overlap_s``; meanwhile deliveries carry both
signatures.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from shared.egress import EgressPolicy, EgressRefused
from shared.filters import Filters

from deliver.errors import Invalid, NotFound
from deliver.queue import DeliveryQueue
from deliver.registry import SubscriptionRegistry
from deliver.signing import new_secret
from deliver.store import SubscriptionRecord, SubscriptionStore

log = structlog.get_logger()


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL to POST events to")
    filters: Filters = Field(default_factory=Filters)
    enabled: bool = True
    description: str = Field(default="", max_length=500)


class SubscriptionPatch(BaseModel):
    """Only the fields given change; ``filters`` is replaced as a whole."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    filters: Filters | None = None
    enabled: bool | None = None
    description: str | None = Field(default=None, max_length=500)


class Subscriptions:
    """Create, change, rotate, disable and delete subscriptions (store, registry, queue)."""

    def __init__(self, store: SubscriptionStore, registry: SubscriptionRegistry,
                 queue: DeliveryQueue, egress: EgressPolicy, overlap_s: int) -> None:
        self.store = store
        self.registry = registry
        self.queue = queue
        self.egress = egress
        self.overlap_ms = overlap_s * 1000

    async def create(self, body: SubscriptionIn) -> SubscriptionRecord:
        await self._check_url(body.url)
        now = _now_ms()
        record = SubscriptionRecord(
            id="sub_" + secrets.token_hex(12), url=body.url,
            filters=body.filters.model_dump(), enabled=body.enabled,
            description=body.description, secret=new_secret(), previous_secret=None,
            previous_secret_expires_ms=0, created_ms=now, updated_ms=now, disabled_reason=None)
        await self.store.create(record)
        await self.registry.changed(record, record.id)
        log.info("subscription.created", subscription=record.id)
        return record

    async def get(self, subscription_id: str) -> SubscriptionRecord:
        record = await self.store.get(subscription_id)
        if record is None:
            raise NotFound(f"no subscription {subscription_id!r}", "id")
        return record

    async def update(self, subscription_id: str, patch: SubscriptionPatch) -> SubscriptionRecord:
        await self.get(subscription_id)
        changes: dict[str, Any] = {}
        if patch.url is not None:
            await self._check_url(patch.url)
            changes["url"] = patch.url
        if patch.filters is not None:
            changes["filters"] = patch.filters.model_dump()
        if patch.description is not None:
            changes["description"] = patch.description
        if patch.enabled is not None:
            changes["enabled"] = patch.enabled
            if patch.enabled:
                changes["disabled_reason"] = None
        return await self._apply(subscription_id, changes)

    async def rotate(self, subscription_id: str) -> SubscriptionRecord:
        current = await self.get(subscription_id)
        return await self._apply(subscription_id, {
            "secret": new_secret(), "previous_secret": current.secret,
            "previous_secret_expires_ms": _now_ms() + self.overlap_ms})

    async def disable(self, subscription_id: str, reason: str) -> None:
        if await self.store.get(subscription_id) is not None:
            await self._apply(subscription_id, {"enabled": False, "disabled_reason": reason})
            log.warning("subscription.disabled", subscription=subscription_id, reason=reason)

    async def delete(self, subscription_id: str) -> None:
        if not await self.store.delete(subscription_id):
            raise NotFound(f"no subscription {subscription_id!r}", "id")
        await self.registry.changed(None, subscription_id)
        await self.queue.drop_subscription(subscription_id)
        log.info("subscription.deleted", subscription=subscription_id)

    async def _apply(self, subscription_id: str, changes: dict[str, Any]) -> SubscriptionRecord:
        if changes and not await self.store.update(subscription_id, changes):
            raise NotFound(f"no subscription {subscription_id!r}", "id")
        record = await self.get(subscription_id)
        await self.registry.changed(record, record.id)
        return record

    async def _check_url(self, url: str) -> None:
        try:
            await self.egress.check(url)
        except EgressRefused as exc:
            raise Invalid(f"url: {exc}", "url") from exc


def view(record: SubscriptionRecord) -> dict[str, Any]:
    """What the API shows of a subscription (never its secrets)."""
    out: dict[str, Any] = {
        "id": record.id, "url": record.url, "filters": record.filters,
        "enabled": record.enabled, "description": record.description,
        "disabled_reason": record.disabled_reason,
        "created_at": _iso(record.created_ms), "updated_at": _iso(record.updated_ms),
    }
    if record.previous_secret and record.previous_secret_expires_ms > _now_ms():
        out["previous_secret_expires_at"] = _iso(record.previous_secret_expires_ms)
    return out


def subscriptions_router(ops: Subscriptions, guard: Any) -> APIRouter:
    router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"],
                       dependencies=[Depends(guard)])

    @router.post("", status_code=201)
    async def create_subscription(body: SubscriptionIn) -> dict[str, Any]:
        """Create a subscription; the answer holds its `secret`, shown this once."""
        record = await ops.create(body)
        return {**view(record), "secret": record.secret}

    @router.get("")
    async def list_subscriptions(limit: int = Query(100, ge=1, le=1000),
                                 cursor: str | None = None) -> dict[str, Any]:
        """Oldest first; pass `next_cursor` back as `cursor` for the next page."""
        records, next_cursor = await ops.store.page(limit, cursor)
        return {"items": [view(r) for r in records], "next_cursor": next_cursor}

    @router.get("/{subscription_id}")
    async def get_subscription(subscription_id: str) -> dict[str, Any]:
        return view(await ops.get(subscription_id))

    @router.patch("/{subscription_id}")
    async def update_subscription(subscription_id: str,
                                  body: SubscriptionPatch) -> dict[str, Any]:
        return view(await ops.update(subscription_id, body))

    @router.delete("/{subscription_id}", status_code=204)
    async def delete_subscription(subscription_id: str) -> Response:
        await ops.delete(subscription_id)
        return Response(status_code=204)

    @router.post("/{subscription_id}/rotate")
    async def rotate_secret(subscription_id: str) -> dict[str, Any]:
        """A new secret (shown this once); the old one stays valid for the overlap window."""
        record = await ops.rotate(subscription_id)
        return {**view(record), "secret": record.secret}

    return router


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")

