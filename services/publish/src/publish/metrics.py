"""Metrics of publish's outbound channels (webhooks, SSE, feeds), in the service's registry.

/metrics answers without authentication, so no label carries a subscription id (nor any other
subscriber's detail): webhook metrics are labelled by outcome only. Per-subscription figures are
in the admin API (``GET /v1/deliveries?subscription=``), behind the admin key.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.observability import Metrics


class ChannelMetrics:
    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.webhook_attempts = Counter(
            "newsflow_webhook_attempts_total",
            "Webhook delivery attempts by outcome (delivered, http_error, timeout, network_error,"
            " refused, gone)", ["outcome"], registry=r)
        self.webhook_final = Counter(
            "newsflow_webhook_deliveries_total",
            "Webhook deliveries finished, by result (delivered, dead_lettered, dropped_by_kill)",
            ["result"], registry=r)
        self.webhook_latency = Histogram(
            "newsflow_webhook_delivery_latency_seconds",
            "From the event on news.published to its successful delivery", registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600))
        self.webhook_queue_depth = Gauge(
            "newsflow_webhook_queue_depth",
            "Deliveries queued or in flight, all subscriptions together", registry=r)
        self.sse_clients = Gauge(
            "newsflow_sse_clients", "Server-Sent Events clients connected", registry=r)
        self.sse_dropped = Counter(
            "newsflow_sse_slow_disconnects_total",
            "SSE clients disconnected because they could not keep up", registry=r)
        self.sse_gaps = Counter(
            "newsflow_sse_gaps_total",
            "SSE resumes from an id older than the oldest entry kept (told with a gap event)",
            registry=r)
        self.topic_codes_migrated = Counter(
            "newsflow_topic_codes_migrated_total",
            "Topic codes of the former table moved to IPTC's codes at start-up, by what held"
            " them (story, subscription)", ["kind"], registry=r)
        self.feed_requests = Counter(
            "newsflow_feed_requests_total", "Feed requests by format and status",
            ["format", "status"], registry=r)
