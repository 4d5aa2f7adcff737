"""Publishing over a real MQTT broker (MQTT_URL, default the local Mosquitto) and the CLI flags."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from carbonledger.mqtt import MqttEndpoint
from carbonledger.wire import decode, parse_topic, readings_subscription
from launcher.cli import build_parser
from simulator import Fault, FaultRates, FleetPublisher, Simulation, build_city, publish_ticks

START = datetime.fromisoformat("2026-03-04T09:00:00+08:00")


class Collector:
    """A plain paho subscriber that keeps every payload it receives under one topic root."""

    def __init__(self, endpoint: MqttEndpoint, root: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = endpoint.client(f"test-sub-{uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        self.root = root

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(readings_subscription(self.root), qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload))

    def wait_for(self, count: int, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.05)
        time.sleep(0.2)  # anything beyond the expected count would show up now
        return len(self.messages)


@pytest.fixture
def endpoint() -> MqttEndpoint:
    endpoint = MqttEndpoint.from_url(os.environ.get("MQTT_URL"))
    probe = endpoint.client(f"test-probe-{uuid4().hex[:8]}")
    try:
        probe.connect(endpoint.host, endpoint.port)
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {endpoint.host}:{endpoint.port}: {exc}")
    probe.disconnect()
    return endpoint


def test_fast_forward_hour_arrives_complete(endpoint: MqttEndpoint) -> None:
    root = f"test-{uuid4().hex[:8]}"
    collector = Collector(endpoint, root)
    collector.client.connect(endpoint.host, endpoint.port)
    collector.client.loop_start()
    try:
        assert collector.ready.wait(10)
        city = build_city(3, 2026)
        faults = {Fault.DUPLICATE, Fault.LATE}
        sim = Simulation(city, START, faults=faults, rates=FaultRates().scaled(50))
        with FleetPublisher(endpoint, root=root, max_inflight=50) as publisher:
            stats = publish_ticks(sim, publisher, end=START + timedelta(hours=1))
        assert publisher.inflight == 0  # leaving waited for every PUBACK
        assert stats.ticks == 241
        assert stats.readings >= 240 * city.readings_per_tick()
        assert collector.wait_for(stats.messages) == stats.messages
    finally:
        collector.client.loop_stop()
        collector.client.disconnect()
    readings = 0
    seen: set[tuple[str, int]] = set()
    for topic, payload in collector.messages:
        parsed = parse_topic(topic)
        assert parsed.root == root
        batch = decode(payload)
        assert not batch.rejected
        readings += len(batch.readings)
        seen.add((parsed.gateway, batch.seq))
    assert readings == stats.readings
    assert len(seen) == stats.messages - stats.duplicates


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "yesterday"], "not an ISO 8601 time"),
        (["--faults", "offline,flood"], "unknown fault 'flood'"),
        (["--interval", "7"], "does not divide an hour"),
        (["--speed", "0"], "positive"),
        (["--enterprises", "-3"], "at least 1"),
    ],
)
def test_bad_flags_are_argparse_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["simulate", "run", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
