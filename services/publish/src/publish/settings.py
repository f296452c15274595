"""Publish settings (``NEWSFLOW_...`` variables)."""

from __future__ import annotations

from pydantic import Field

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
