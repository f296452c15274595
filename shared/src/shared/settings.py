"""Settings every service needs, read from ``NEWSFLOW_...`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Shared settings; each service extends this class with its own."""

    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", env_file=None, extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    http_host: str = "0.0.0.0"
    http_port: int = 8000
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON unless stdout is a terminal
    # Consumer groups (see shared.streams).
    batch_size: int = Field(default=100, ge=1, le=1000)
    # Below redis-py's default socket timeout (5 s), which a longer blocking read would hit.
    block_ms: int = Field(default=1000, ge=10, le=4000)
    reclaim_idle_ms: int = Field(default=60_000, ge=100)
    reclaim_interval_ms: int = Field(default=5_000, ge=50)
    max_attempts: int = Field(default=5, ge=1)
    dlq_maxlen: int = Field(default=100_000, ge=0)  # newest dead letters kept; 0: all
    concurrent_batches: int = Field(default=1, ge=1, le=16)
    graceful_timeout_s: float = Field(default=30.0, ge=0)
    trim_interval_s: float = Field(default=60.0, gt=0)
    # Consumers idle this long with nothing pending are removed from their group; 0: never.
    forget_consumers_after_s: float = Field(default=86_400.0, ge=0)
    stream_prefix: str = ""
