"""Publish settings (``NEWSFLOW_...`` variables)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

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

    # Admin key of publish's operator endpoints (publish.auth); the subscriptions and
    # deliveries API is the deliver service's. Empty counts as unset: those endpoints answer 503.
    admin_key: SecretStr | None = None

    # Server-Sent Events and feeds.
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    sse_client_queue: int = Field(default=1000, ge=1)
    # Operations dashboard: a stage with work waiting and nothing consumed this long is stuck.
    ops_stuck_after_s: float = Field(default=300.0, gt=0)
    # How often the dashboard rereads the webhook subscriptions (deliver's) from MongoDB.
    ops_subscriptions_refresh_s: float = Field(default=5.0, gt=0)
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
