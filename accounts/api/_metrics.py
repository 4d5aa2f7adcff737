"""Prometheus metrics of the API: requests by route and status, latency, pool and audit stats."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "carbonledger_api_requests_total",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "carbonledger_api_request_seconds",
            "Time from request to response start",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )

    def watch(self, name: str, stats: Callable[[], dict[str, Any]]) -> None:
        """Export ``stats()`` (e.g. a pool's get_stats) as gauges ``carbonledger_api_<name>_*``."""
        self.registry.register(_StatsCollector(name, stats))


class _StatsCollector(Collector):
    def __init__(self, name: str, stats: Callable[[], dict[str, Any]]) -> None:
        self._name = name
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for key, value in self._stats().items():
            if isinstance(value, int | float):
                yield GaugeMetricFamily(f"carbonledger_api_{self._name}_{key}", key, value=value)


class MetricsMiddleware:
    """Pure ASGI (no per-request task), counting by route template, not by raw path."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.latency.labels(route).observe(time.perf_counter() - began)
                self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            await send(message)

        await self.app(scope, receive, record)
