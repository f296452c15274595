"""Ingest settings (``NEWSFLOW_...`` variables)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class IngestSettings(Settings):
    http_port: int = 8001
    # Source name -> SHA-256 hex digest of its API key, as JSON:
    # NEWSFLOW_INGEST_KEYS='{"dpa": "3b1f..."}'. `newsflow hash-key` prints a digest.
    ingest_keys: dict[str, str] = Field(default_factory=dict)
    max_request_bytes: int = Field(default=10_000_000, ge=1024)
    max_items_per_request: int = Field(default=1000, ge=1)
    dedupe_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    # Redis 7.2+: wait until the accepted events are fsynced to the AOF before answering 202.
    waitaof: bool = False
    # Feeds to poll, as JSON: [{"url": "...", "source": "bbc", "interval_s": 300}]
    feeds: list[dict[str, object]] = Field(default_factory=list)
    # Feed hosts allowed although private or loopback (intranet feeds, tests), comma-separated:
    # exact host names, IP literals or CIDRs, matched against each URL's own host.
    feed_allow_hosts: str = ""

    @property
    def feed_allowed(self) -> list[str]:
        return [h.strip() for h in self.feed_allow_hosts.split(",") if h.strip()]
