"""The webhook subscriptions this process acts on: loaded from MongoDB, kept fresh across replicas.

A change made through one replica's API applies there at once and bumps a version key in Redis;
the other replicas poll that key every second and reload, and reload anyway every
``subscription_refresh_s`` in case a bump was missed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis

from shared.filters import Filters

from deliver.store import SubscriptionRecord, SubscriptionStore

log = structlog.get_logger()

VERSION_KEY = "webhooks:subscriptions:version"


@dataclass(frozen=True)
class Subscription:
    record: SubscriptionRecord
    filters: Filters

    @classmethod
    def of(cls, record: SubscriptionRecord) -> Subscription:
        return cls(record, Filters.model_validate(record.filters))

    @property
    def id(self) -> str:
        return self.record.id

    def signing_secrets(self, now_ms: int | None = None) -> list[str]:
        """The current secret, plus the previous one during its overlap window."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        secrets = [self.record.secret]
        if self.record.previous_secret and now_ms < self.record.previous_secret_expires_ms:
            secrets.append(self.record.previous_secret)
        return secrets


class SubscriptionRegistry:
    def __init__(self, store: SubscriptionStore, redis: Redis, *, key_prefix: str = "",
                 refresh_s: float = 5.0) -> None:
        self.store = store
        self.redis = redis
        self.version_key = key_prefix + VERSION_KEY
        self.refresh_s = refresh_s
        self.by_id: dict[str, Subscription] = {}
        self.listeners: list[Callable[[], None]] = []
        self._version: bytes | None = None

    def get(self, subscription_id: str) -> Subscription | None:
        return self.by_id.get(subscription_id)

    def enabled(self) -> list[Subscription]:
        return [s for s in self.by_id.values() if s.record.enabled]

    async def load(self) -> None:
        version: Any = await self.redis.get(self.version_key)
        records = await self.store.all()
        self.by_id = {r.id: Subscription.of(r) for r in records}
        self._version = version
        self._notify()

    async def refresh(self) -> bool:
        """Reload if a replica changed the subscriptions since the last load (one GET);
        whether it reloaded."""
        if await self.redis.get(self.version_key) == self._version:
            return False
        await self.load()
        return True

    async def changed(self, record: SubscriptionRecord | None, subscription_id: str) -> None:
        """Apply a change made here, and tell the other replicas."""
        if record is None:
            self.by_id.pop(subscription_id, None)
        else:
            self.by_id[record.id] = Subscription.of(record)
        self._version = str(await self.redis.incr(self.version_key)).encode()
        self._notify()

    async def run(self) -> None:
        last_load = time.monotonic()
        while True:
            await asyncio.sleep(min(1.0, self.refresh_s))
            try:
                if time.monotonic() - last_load >= self.refresh_s:
                    await self.load()
                    last_load = time.monotonic()
                elif await self.refresh():
                    last_load = time.monotonic()
            except Exception:
                log.exception("subscriptions.refresh_failed")

    def _notify(self) -> None:
        for listener in self.listeners:
            try:
                listener()
            except Exception:
                log.exception("subscriptions.listener_failed")
