"""Publish settings (``NEWSFLOW_...`` variables)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import Settings


class PublishSettings(Settings):
    http_port: int = 8003
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_db: str = "newsflow"
    # How long news.published keeps entries for late readers and SSE resume.
    published_retention_s: int = Field(default=7 * 24 * 3600, ge=0)
    page_limit_max: int = Field(default=100, ge=1)
    # How often held (embargoed) stories are checked for release.
    embargo_poll_s: float = Field(default=1.0, gt=0)

    # Admin API (subscriptions, deliveries): no default; unset, that API answers 503.
    admin_key: SecretStr | None = None  # empty counts as unset: the admin API stays off

    # Webhooks. The schedule is the backoff ceiling before each retry (full jitter below it);
    # attempts = 1 + its length.
    webhook_retry_schedule_s: str = "5,30,120,600,3600"
    webhook_retry_after_max_s: float = Field(default=3600.0, ge=0)
    webhook_connect_timeout_s: float = Field(default=5.0, gt=0)
    webhook_read_timeout_s: float = Field(default=15.0, gt=0)
    webhook_max_in_flight: int = Field(default=4, ge=1, le=256)  # per subscription, per replica
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    webhook_claim_lease_s: float = Field(default=120.0, gt=0)  # a crashed replica's sends retry
    webhook_secret_overlap_s: int = Field(default=24 * 3600, ge=0)
    webhook_allow_hosts: str = ""  # e.g. "127.0.0.1,localhost,hooks.internal": SSRF exceptions
    webhook_story_memory_s: int = Field(default=30 * 24 * 3600, ge=60)  # who got which story
    subscription_refresh_s: float = Field(default=5.0, gt=0)
    # Server-Sent Events and feeds.
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    sse_client_queue: int = Field(default=1000, ge=1)
    # Operations dashboard: a stage with work waiting and nothing consumed this long is stuck.
    ops_stuck_after_s: float = Field(default=300.0, gt=0)
    feed_size: int = Field(default=50, ge=1, le=500)
    # Where readers reach publish, e.g. https://news.example.com: absolute links in feeds and
    # story pages start with it (never with a request's Host). Unset: the bound address.
    public_url: str = ""

    @field_validator("admin_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_absolute(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment or parts.username or parts.password:
            raise ValueError("public_url must be an absolute http(s) URL with no query, such as "
                             "https://news.example.com")
        return value

    @field_validator("webhook_retry_schedule_s")
    @classmethod
    def _schedule_is_numbers(cls, value: str) -> str:
        retry_schedule(value)
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> PublishSettings:
        needed = self.webhook_connect_timeout_s + self.webhook_read_timeout_s + 1.0
        if self.webhook_claim_lease_s <= needed:
            raise ValueError(f"webhook_claim_lease_s must exceed connect + read timeouts + 1s "
                             f"({needed:g}s), or a slow send would be sent twice")
        return self

    @property
    def base_url(self) -> str:
        """``public_url``, else the address publish listens on (all interfaces: localhost)."""
        if self.public_url:
            return self.public_url
        host = self.http_host
        if host in ("", "0.0.0.0", "::"):
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.http_port}"

    @property
    def retry_schedule(self) -> list[float]:
        return retry_schedule(self.webhook_retry_schedule_s)

    @property
    def allow_hosts(self) -> list[str]:
        return [h.strip() for h in self.webhook_allow_hosts.split(",") if h.strip()]


def retry_schedule(value: str) -> list[float]:
    """"5,30,120" -> [5.0, 30.0, 120.0]; empty means no retries."""
    try:
        delays = [float(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"not a comma-separated list of seconds: {value!r}") from exc
    if any(d < 0 for d in delays):
        raise ValueError("retry delays must not be negative")
    return delays
