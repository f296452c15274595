"""Deliver's Prometheus metrics, labelled by outcome only.

Per-subscription figures are not labels (one series per subscription would grow without
bound); they are kept in Redis, in the ``webhooks:{sub}:stats`` hash described in ``queue.py``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.observability import Metrics

ATTEMPT_OUTCOMES = ("delivered", "http_error", "gone", "timeout", "network_error", "refused")
RESULTS = ("delivered", "dead_lettered", "dropped_by_kill")


class DeliveryMetrics:
    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.attempts = Counter(
            "newsflow_webhook_attempts_total",
            "Webhook delivery attempts by outcome (delivered, http_error, timeout, network_error,"
            " refused, gone)", ["outcome"], registry=r)
        self.deliveries = Counter(
            "newsflow_webhook_deliveries_total",
            "Webhook deliveries finished, by result (delivered, dead_lettered, dropped_by_kill)",
            ["result"], registry=r)
        self.latency = Histogram(
            "newsflow_webhook_delivery_latency_seconds",
            "From the event on news.published to its successful delivery", registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600))
        self.queue_depth = Gauge(
            "newsflow_webhook_queue_depth",
            "Deliveries queued or in flight, all subscriptions together", registry=r)
        self.subscriptions = Gauge(
            "newsflow_webhook_subscriptions", "Enabled webhook subscriptions", registry=r)
        # Children made once: labels() per call costs more than the send's bookkeeping.
        self._attempts = {o: self.attempts.labels(o) for o in ATTEMPT_OUTCOMES}
        self._results = {r_: self.deliveries.labels(r_) for r_ in RESULTS}

    def attempt(self, outcome: str) -> None:
        self._attempts[outcome].inc()

    def finished(self, result: str, latency_s: float | None = None) -> None:
        self._results[result].inc()
        if latency_s is not None:
            self.latency.observe(max(0.0, latency_s))

    def delivered(self, latencies_s: list[float]) -> None:
        """Deliveries answered 2xx (one attempt each), settled together."""
        self._attempts["delivered"].inc(len(latencies_s))
        self._results["delivered"].inc(len(latencies_s))
        for latency in latencies_s:
            self.latency.observe(max(0.0, latency))

    def set_depth(self, depth: int) -> None:
        self.queue_depth.set(depth)
