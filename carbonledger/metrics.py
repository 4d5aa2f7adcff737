"""Serving a service's Prometheus metrics: one way for ingest, the aggregator and live accounts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server


def serve_metrics(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
    """Expose ``registry`` as ``/metrics`` on ``host:port`` from a daemon thread (port 0: none)."""
    if port:
        start_http_server(port, addr=host, registry=registry)
