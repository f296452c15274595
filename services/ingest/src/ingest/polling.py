"""Feed polling: RSS, Atom and JSON Feed URLs fetched on a schedule into the same intake as pushes.

Conditional GETs (ETag / If-Modified-Since, remembered in Redis so a restart does not refetch
everything), a per-feed interval, exponential backoff with jitter on errors, and the intake's
idempotency keys so an entry seen on an earlier poll is never queued twice. Parsing runs in a
thread: polling never blocks the HTTP API.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, Field, HttpUrl
from redis.asyncio import Redis

from ingest.errors import IngestError
from ingest.intake import Intake
from ingest.parsing import parse

log = structlog.get_logger()

USER_AGENT = "Newsflow feed poller"
RETRY_BASE_S = 5.0


class FeedConfig(BaseModel):
    url: HttpUrl
    source: str = Field(min_length=1)
    interval_s: float = Field(default=300.0, ge=1.0)
    timeout_s: float = Field(default=20.0, gt=0)
    max_backoff_s: float = Field(default=1800.0, ge=1.0)


@dataclass
class PollResult:
    status: int
    accepted: int = 0
    duplicates: int = 0


class FeedPoller:
    def __init__(
        self,
        feeds: Sequence[Mapping[str, Any]],
        intake: Intake,
        redis: Redis,
        *,
        namespace: str = "",
        max_bytes: int = 10_000_000,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.feeds = [FeedConfig.model_validate(feed) for feed in feeds]
        self.intake = intake
        self.redis = redis
        self.namespace = namespace
        self.max_bytes = max_bytes
        self.client = client or httpx.AsyncClient(
            follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )

    async def run(self) -> None:
        """Poll every feed on its own schedule until cancelled."""
        try:
            await asyncio.gather(*(self._loop(feed) for feed in self.feeds))
        finally:
            await self.client.aclose()

    async def poll(self, feed: FeedConfig) -> PollResult:
        """One conditional fetch; new entries go to the intake."""
        state_key = f"{self.namespace}newsflow:poll:{feed.url}"
        stored: dict[bytes, bytes] = await self.redis.hgetall(state_key)  # type: ignore[assignment]
        state = {k.decode(): v.decode() for k, v in stored.items()}
        headers = {}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        response = await self.client.get(str(feed.url), headers=headers, timeout=feed.timeout_s)
        if response.status_code == 304:
            return PollResult(304)
        response.raise_for_status()
        articles = await asyncio.to_thread(
            parse,
            response.content,
            response.headers.get("content-type"),
            provider=feed.source,
            max_bytes=self.max_bytes,
        )
        results = await self.intake.submit(articles) if articles else []
        remembered = {
            k: v
            for k, v in (
                ("etag", response.headers.get("etag")),
                ("last_modified", response.headers.get("last-modified")),
            )
            if v
        }
        if remembered:
            await self.redis.hset(state_key, mapping=remembered)  # type: ignore[arg-type]
        accepted = sum(1 for r in results if r.status == "accepted")
        return PollResult(response.status_code, accepted, len(results) - accepted)

    async def _loop(self, feed: FeedConfig) -> None:
        failures = 0
        while True:
            try:
                result = await self.poll(feed)
                failures = 0
                log.info(
                    "feed.polled",
                    url=str(feed.url),
                    status=result.status,
                    accepted=result.accepted,
                    duplicates=result.duplicates,
                )
                delay = feed.interval_s
            except (httpx.HTTPError, IngestError) as exc:
                failures += 1
                # Full jitter from a short base: a flapping feed is retried soon, a dead one
                # settles at max_backoff_s, and many pollers never retry in step.
                ceiling = min(feed.max_backoff_s, RETRY_BASE_S * 2 ** min(failures, 16))
                delay = max(1.0, random.uniform(0, ceiling))
                log.warning(
                    "feed.failed",
                    url=str(feed.url),
                    failures=failures,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=round(delay, 1),
                )
            await asyncio.sleep(delay)
