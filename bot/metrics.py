"""Prometheus metrics, in a registry owned by the application (no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "advocacy_deliveries",
            "Delivery attempts by outcome: sent, retried or dead (dead-lettered).",
            ["platform", "status"],
            registry=self.registry,
        )
        self.feedback_recorded = Counter(
            "advocacy_feedback_recorded",
            "Feedback actually recorded; a repeat that is ignored does not count.",
            ["platform", "kind"],
            registry=self.registry,
        )
        self.share_clicks = Counter(
            "advocacy_share_clicks",
            "Clicks on tracked share links, by the platform the link was sent on.",
            ["platform", "network"],
            registry=self.registry,
        )
        self.suggestions = Counter(
            "advocacy_suggestions",
            "Suggestions filed.",
            ["platform"],
            registry=self.registry,
        )
        self.events = Counter(
            "advocacy_events",
            "Inbound events handled, by type; duplicates are events a platform retried.",
            ["platform", "type", "outcome"],
            registry=self.registry,
        )
        self.inbox = Counter(
            "advocacy_inbox_events",
            "Inbound events by outcome: accepted (written before the platform's ack), duplicate "
            "(a platform's retry), handled, retried, failed (set aside after every attempt).",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.inbox_depth = Gauge(
            "advocacy_inbox_depth",
            "Inbound events acknowledged and waiting to be handled, or set aside (failed).",
            ["status"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "advocacy_outbox_depth",
            "Deliveries waiting or in flight in the outbox.",
            ["platform", "status"],
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "advocacy_dead_letters",
            "Deliveries that failed for good and wait for an admin (advocacy deliveries failed).",
            ["platform"],
            registry=self.registry,
        )
        self.scheduler_leader = Gauge(
            "advocacy_scheduler_leader",
            "1 when this instance runs the digest scheduler, else 0.",
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "advocacy_delivery_latency_seconds",
            "Time from queueing a delivery to the platform accepting it.",
            ["platform"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )

    def set_outbox_depth(self, depth: dict[tuple[str, str], int]) -> None:
        self.outbox_depth.clear()
        self.dead_letters.clear()
        for (platform, status), count in depth.items():
            if status in ("pending", "sending"):
                self.outbox_depth.labels(platform=platform, status=status).set(count)
            elif status == "dead":
                self.dead_letters.labels(platform=platform).set(count)

    def set_inbox_depth(self, depth: dict[str, int]) -> None:
        self.inbox_depth.clear()
        for status, count in depth.items():
            self.inbox_depth.labels(status=status).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
