"""Prometheus metrics of one ingest worker, on a registry of its own (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BATCH_BUCKETS = (1, 10, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        p = "carbonledger_ingest_"
        self.messages_received = Counter(f"{p}messages_received", "MQTT messages taken", registry=r)
        self.readings_received = Counter(f"{p}readings_received", "readings decoded", registry=r)
        self.readings_stored = Counter(f"{p}readings_stored", "readings newly stored", registry=r)
        self.readings_duplicate = Counter(
            f"{p}readings_duplicate", "readings already stored (redelivery, replay)", registry=r
        )
        self.readings_rejected = Counter(
            f"{p}readings_rejected", "readings refused (invalid, unknown meter...)", registry=r
        )
        self.messages_dead_lettered = Counter(
            f"{p}messages_dead_lettered", "messages recorded in dead_letters", registry=r
        )
        self.batch_readings = Histogram(
            f"{p}batch_readings", "readings per committed batch", buckets=_BATCH_BUCKETS, registry=r
        )
        self.commit_seconds = Histogram(
            f"{p}commit_seconds",
            "time to write and commit one batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.receive_to_commit_seconds = Histogram(
            f"{p}receive_to_commit_seconds",
            "oldest message's wait from receipt to commit",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.sent_to_commit_seconds = Histogram(
            f"{p}sent_to_commit_seconds",
            "gateway's sent_at to commit, per message (includes gateway clock skew)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            f"{p}queue_depth", "messages received but not yet committed (consumer lag)", registry=r
        )
        self.database_errors = Counter(
            f"{p}database_errors", "failed batch writes (retried)", registry=r
        )
