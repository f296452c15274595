"""Ingest settings (``NEWSFLOW_...`` variables)."""

from __future__ import annotations

from pydantic import Field, field_validator

from shared.identifiers import UNSAFE_IN_ID
from shared.settings import Settings

from ingest.limits import Limits


class IngestSettings(Settings):
    http_port: int = 8001
    # Source name -> SHA-256 hex digest of its API key, as JSON:
    # NEWSFLOW_INGEST_KEYS='{"dpa": "3b1f..."}'. `newsflow hash-key` prints a digest.
    ingest_keys: dict[str, str] = Field(default_factory=dict)
    max_request_bytes: int = Field(default=10_000_000, ge=1024)
    max_items_per_request: int = Field(default=1000, ge=1)
    # Redis connect timeout, and socket timeout of every Redis call but the intake's appends;
    # the bound on the whole intake write (appends and WAITAOF): past it the sender gets 503
    # with Retry-After (a stalled Redis never holds a request for long).
    redis_timeout_s: float = Field(default=1.0, gt=0)
    intake_timeout_s: float = Field(default=1.5, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    # Markup tags (and, in feeds, character references) one request may hold: past it, 413.
    # Bounds the parsing work of a request to well under a second.
    max_markup_tags: int = Field(default=100_000, ge=1_000)
    # Most bytes one story may take as stored (its JSON), leaving room under MongoDB's 16 MiB
    # document limit for what enrichment adds: past it, the HTML rendition is left out, then 413.
    max_stored_bytes: int = Field(default=12 * 1024 * 1024, ge=65_536, le=15 * 1024 * 1024)
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
    # Feed hosts allowed although private or loopback (intranet feeds, tests), comma-separated:
    # exact host names, IP literals or CIDRs, matched against each URL's own host.
    feed_allow_hosts: str = ""

    @property
    def feed_allowed(self) -> list[str]:
        return [h.strip() for h in self.feed_allow_hosts.split(",") if h.strip()]

    @field_validator("ingest_keys", "shared_namespaces")
    @classmethod
    def _printable_names(cls, value: dict[str, object]) -> dict[str, object]:
        """Source names end up in every log line and event: printable text only."""
        names = [*value, *(m for v in value.values() if isinstance(v, list) for m in v)]
        for name in names:
            if not str(name).strip() or UNSAFE_IN_ID.search(str(name)):
                raise ValueError(
                    f"source name {str(name)!r} is empty or holds a control or bidi character"
                )
        return value

    def limits(self) -> Limits:
        return Limits(markup_tags=self.max_markup_tags, stored_bytes=self.max_stored_bytes)
