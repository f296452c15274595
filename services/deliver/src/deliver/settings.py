"""Deliver settings (``NEWSFLOW_...`` variables)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import Settings


class DeliverSettings(Settings):
    http_port: int = 8004
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_db: str = "newsflow"  # the subscriptions collection lives beside publish's articles

    # Admin API (subscriptions, deliveries): no default; unset, that API answers 503.
    admin_key: SecretStr | None = None  # empty counts as unset: the admin API stays off

    # Webhooks. The schedule is the backoff ceiling before each retry (full jitter below it);
    # attempts = 1 + its length.
    webhook_retry_schedule_s: str = "5,30,120,600,3600"
    webhook_retry_after_max_s: float = Field(default=3600.0, ge=0)
    webhook_connect_timeout_s: float = Field(default=5.0, gt=0)
    webhook_read_timeout_s: float = Field(default=15.0, gt=0)
    webhook_max_in_flight: int = Field(default=4, ge=1, le=256)  # per subscription, per replica
    # HTTP connections of one replica: in all, and to one receiver host (several subscriptions
    # may point at the same host). 0: webhook_max_in_flight (per host) and 1024 (in all).
    webhook_max_connections: int = Field(default=0, ge=0)
    webhook_max_connections_per_host: int = Field(default=0, ge=0)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    webhook_claim_lease_s: float = Field(default=120.0, gt=0)  # a crashed replica's sends retry
    webhook_secret_overlap_s: int = Field(default=24 * 3600, ge=0)
    webhook_allow_hosts: str = ""  # e.g. "127.0.0.1,localhost,hooks.internal": SSRF exceptions
    webhook_story_memory_s: int = Field(default=30 * 24 * 3600, ge=60)  # who got which story
    subscription_refresh_s: float = Field(default=5.0, gt=0)
    # Redis connections of one replica; callers wait for a free one (never an error). 0: sized
    # from webhook_max_in_flight (every in-flight delivery settles with one Redis call).
    redis_max_connections: int = Field(default=0, ge=0)

    @field_validator("admin_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_retry_schedule_s")
    @classmethod
    def _schedule_is_numbers(cls, value: str) -> str:
        retry_schedule(value)
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> DeliverSettings:
        needed = self.webhook_connect_timeout_s + self.webhook_read_timeout_s + 1.0
        if self.webhook_claim_lease_s <= needed:
            raise ValueError(f"webhook_claim_lease_s must exceed connect + read timeouts + 1s "
                             f"({needed:g}s), or a slow send would be sent twice")
        return self

    @property
    def retry_schedule(self) -> list[float]:
        return retry_schedule(self.webhook_retry_schedule_s)

    @property
    def allow_hosts(self) -> list[str]:
        return [h.strip() for h in self.webhook_allow_hosts.split(",") if h.strip()]

    @property
    def connections_per_host(self) -> int:
        return self.webhook_max_connections_per_host or self.webhook_max_in_flight

    @property
    def connections(self) -> int:
        return self.webhook_max_connections or 1024

    @property
    def redis_connections(self) -> int:
        # In flight deliveries settling, plus the fan-out, the claims, the API and the reclaimer.
        return self.redis_max_connections or self.webhook_max_in_flight + 32


def retry_schedule(value: str) -> list[float]:
    """"5,30,120" -> [5.0, 30.0, 120.0]; empty means no retries."""
    try:
        delays = [float(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"not a comma-separated list of seconds: {value!r}") from exc
    if any(d < 0 for d in delays):
        raise ValueError("retry delays must not be negative")
    return delays
