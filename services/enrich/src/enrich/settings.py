"""Enrich settings (``NEWSFLOW_...`` variables)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class EnrichSettings(Settings):
    http_port: int = 8002
    # Worker processes running the NLP models; 0 runs them in a thread of this process.
    workers: int | None = Field(default=None, ge=0)
    # A batch is seconds of NER: small enough that replicas share a burst instead of one
    # holding it all (a replica holds at most this many entries, see shared.streams).
    batch_size: int = Field(default=32, ge=1, le=1000)
    # How long a dead replica's entries wait before another takes them over (a live replica
    # keeps the entries it works on, however long that takes).
    reclaim_idle_ms: int = Field(default=120_000, ge=100)
    # Seconds of one story's NLP work after which it is published with the steps done so far
    # (its edNote names the steps skipped).
    story_budget_s: float = Field(default=5.0, gt=0)
    # Two batches in flight keep the workers busy while this process decodes and emits.
    concurrent_batches: int = Field(default=2, ge=1, le=16)
