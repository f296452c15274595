"""The deliveries admin API: list queued and dead-lettered webhook deliveries, replay dead ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from deliver.errors import NotFound
from deliver.queue import DeliveryQueue, subscription_of
from deliver.registry import SubscriptionRegistry


def deliveries_router(queue: DeliveryQueue, registry: SubscriptionRegistry,
                      wake: Callable[[str], None], guard: Any) -> APIRouter:
    router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"],
                       dependencies=[Depends(guard)])

    def subscriptions(subscription: str | None) -> list[str]:
        if subscription is None:
            return sorted(registry.by_id)
        if registry.get(subscription) is None:
            raise NotFound(f"no subscription {subscription!r}", "subscription")
        return [subscription]

    @router.get("")
    async def list_deliveries(
        subscription: str | None = None,
        status: Literal["dead", "queued"] = "dead",
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        """Dead-lettered (latest first) or queued (next due first) deliveries, with their
        attempt history (time, status or error, duration)."""
        items: list[dict[str, Any]] = []
        for sub in subscriptions(subscription):
            items.extend(d.summary() for d in await queue.list(sub, status, limit - len(items)))
            if len(items) >= limit:
                break
        return {"items": items}

    @router.post("/replay")
    async def replay_all(subscription: str | None = None) -> dict[str, Any]:
        """Queue every dead-lettered delivery again (of one subscription, or of all)."""
        replayed: list[str] = []
        for sub in subscriptions(subscription):
            for delivery in await queue.dead_ids(sub):
                if await queue.replay(delivery):
                    replayed.append(delivery)
            wake(sub)
        return {"replayed": replayed}

    @router.post("/{delivery_id}/replay")
    async def replay_one(delivery_id: str) -> dict[str, Any]:
        if not await queue.replay(delivery_id):
            raise NotFound(f"no dead-lettered delivery {delivery_id!r}", "id")
        wake(subscription_of(delivery_id))
        return {"replayed": [delivery_id]}

    return router
