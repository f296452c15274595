"""Prometheus metrics and the /healthz, /readyz, /metrics endpoints every service exposes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

ReadinessCheck = Callable[[], Awaitable[object]]


class Metrics:
    """The stream metrics every service shares, in a registry of its own (one per app)."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "newsflow_events_in_total", "Stream entries read", ["stream"], registry=r)
        self.events_out = Counter(
            "newsflow_events_out_total", "Events emitted", ["stream"], registry=r)
        self.events_failed = Counter(
            "newsflow_events_failed_total", "Entries that failed", ["stream", "reason"],
            registry=r)
        self.dead_letters = Counter(
            "newsflow_dead_letters_total", "Entries moved to the dead-letter stream", ["stream"],
            registry=r)
        self.reclaimed = Counter(
            "newsflow_reclaimed_total", "Pending entries claimed from idle consumers", ["stream"],
            registry=r)
        self.batch_latency = Histogram(
            "newsflow_batch_seconds", "Time to handle one batch", ["stream"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.group_lag = Gauge(
            "newsflow_group_lag", "Entries not yet delivered to the group", ["stream", "group"],
            registry=r)
        self.group_pending = Gauge(
            "newsflow_group_pending", "Entries delivered but not acknowledged",
            ["stream", "group"], registry=r)
        self.http_requests = Counter(
            "newsflow_http_requests_total", "HTTP requests answered", ["route", "status"],
            registry=r)


def health_router(metrics: Metrics, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    """/healthz (the process answers), /readyz (its dependencies answer), /metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": metrics.service}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=2.0)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
