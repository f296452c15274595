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
    # Redis socket and connect timeout, and the bound on the whole intake write: past it the
    # sender gets 503 with Retry-After (a stalled Redis never holds a request for long).
    redis_timeout_s: float = Field(default=1.0, gt=0)
    intake_timeout_s: float = Field(default=1.5, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    dedupe_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    # Redis 7.2+: wait until the accepted events are fsynced to the AOF before answering 202.
    waitaof: bool = False
    # Sources that share one uri namespace, as JSON: '{"dpa": ["dpa", "dpa-sport"]}'. A story
    # belongs to the namespace (else the source) that first sent it; other sources are refused.
    shared_namespaces: dict[str, list[str]] = Field(default_factory=dict)
    # Highest version accepted for a new story, and most a version may rise above the highest
    # one taken for its uri (a version near 2^62-1 would otherwise end a chain for good).
    max_version_jump: int = Field(default=10**15, ge=1)
    # Feeds to poll, as JSON: [{"url": "...", "source": "bbc", "interval_s": 300}]
    feeds: list[dict[str, object]] = Field(default_factory=list)
