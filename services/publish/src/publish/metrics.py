"""Metrics of publish's outbound channels (SSE, feeds), in the service's registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from shared.observability import Metrics


class ChannelMetrics:
    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
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
