"""Feed polling: RSS, Atom and JSON Feed URLs fetched on a schedule into the same intake as pushes.

Conditional GETs (ETag / If-Modified-Since, remembered in Redis so a restart does not refetch
everything), a per-feed interval, exponential backoff with jitter on errors, and the intake's
idempotency keys so an entry seen on an earlier poll is never queued twice. Parsing runs in a
thread: polling never blocks the HTTP API. Every fetch goes through the egress policy
(``shared.egress``): the feed URL and each redirect hop must resolve to public addresses unless
allowed (``NEWSFLOW_FEED_ALLOW_HOSTS``), the connection goes to the address checked, and at most
``MAX_REDIRECTS`` hops are followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
import structlog
from pydantic import BaseModel, Field, HttpUrl
from redis.asyncio import Redis

from shared.egress import EgressPolicy, EgressRefused
from shared.http import parse_retry_after
from shared.identifiers import PRINTABLE_ID

from ingest.errors import PayloadTooLarge
from ingest.intake import Intake
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.parsing import parse

log = structlog.get_logger()

USER_AGENT = "Newsflow feed poller"
RETRY_BASE_S = 5.0
MAX_REDIRECTS = 5


class FeedConfig(BaseModel):
    url: HttpUrl
    source: str = Field(min_length=1, pattern=PRINTABLE_ID)
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
        limits: Limits = DEFAULT_LIMITS,
        client: httpx.AsyncClient | None = None,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.feeds = [FeedConfig.model_validate(feed) for feed in feeds]
        self.intake = intake
        self.redis = redis
        self.namespace = namespace
        self.max_bytes = max_bytes
        self.egress = egress or EgressPolicy(setting="NEWSFLOW_FEED_ALLOW_HOSTS")
        self.limits = limits
        self.client = client or httpx.AsyncClient(
            follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
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
        async with self._fetch(str(feed.url), headers, feed.timeout_s) as response:
            if response.status_code == 304:
                return PollResult(304)
            response.raise_for_status()
            content = await self._read(response)
        articles = await asyncio.to_thread(
            parse,
            content,
            response.headers.get("content-type"),
            provider=feed.source,
            max_bytes=self.max_bytes,
            limits=self.limits,
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

    @contextlib.asynccontextmanager
    async def _fetch(self, url: str, headers: dict[str, str],
                     timeout_s: float) -> AsyncIterator[httpx.Response]:
        """GET through the egress policy, following redirects hop by hop, each one checked."""
        for _ in range(MAX_REDIRECTS + 1):
            target = await self.egress.check(url)
            pinned, host, server_name = target.pinned()
            extensions = {"sni_hostname": server_name} if server_name else {}
            request = self.client.build_request("GET", pinned, headers={**headers, **host},
                                                timeout=timeout_s, extensions=extensions)
            response = await self.client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.is_redirect and location:
                    url = urljoin(url, location)
                    continue
                yield response
                return
            finally:
                await response.aclose()
        raise EgressRefused(f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, response: httpx.Response) -> bytes:
        """The body, refused as soon as it passes the size limit (not after reading it all)."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise PayloadTooLarge(f"the feed is over the limit of {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

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
            except Exception as exc:  # network, HTTP status, parsing, Redis: retried the same
                failures += 1
                delay = _retry_delay(feed, failures, exc)
                log.warning(
                    "feed.failed",
                    url=str(feed.url),
                    failures=failures,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=round(delay, 1),
                )
            await asyncio.sleep(delay)


def _retry_delay(feed: FeedConfig, failures: int, error: Exception) -> float:
    """When to try a failing feed again.

    A feed that answered with an error status is up but unwilling: it is not asked again
    sooner than its ``Retry-After`` or half its interval, backing off from there. Anything
    else (a network error, a document that does not parse, Redis) is retried soon with full
    jitter from a short base, settling at ``max_backoff_s``; many pollers never retry in step.
    """
    exponent = min(failures, 16)
    if isinstance(error, httpx.HTTPStatusError):
        ceiling = min(feed.max_backoff_s, max(feed.interval_s, RETRY_BASE_S) * 2 ** (exponent - 1))
        waited = parse_retry_after(error.response.headers.get("retry-after")) or 0.0
        return max(waited, random.uniform(ceiling / 2, ceiling))
    ceiling = min(feed.max_backoff_s, RETRY_BASE_S * 2**exponent)
    return max(1.0, random.uniform(0, ceiling))

