"""The agent end to end: simulator driver → outbox → broker → ingest → database.

Every reading the (deterministic) simulator produced must be stored exactly once, whatever
happened on the way: the broker stopped and restarted, the agent killed with SIGKILL mid-stream.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from carbonledger import wire
from carbonledger.config import load_settings
from carbonledger.mqtt import MqttEndpoint
from edge.agent import load_gateway_config
from launcher.embedded import MosquittoBroker, find_mosquitto, free_port
from tests.edge.agent_helpers import (
    AgentThread,
    as_rows,
    expected,
    gateway_toml,
    pick_enterprise,
    register,
    sim_device,
    stored,
    world_readable_dir,
)
from tests.helpers import MQTT_URL, RunningIngest, count, make_settings, wait_for

ROOT = Path(__file__).parents[2]


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    path = world_readable_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


class SamePortBroker(MosquittoBroker):
    """Restarts on the port it had: our closed connections linger in TIME_WAIT on it, which
    makes the embedded broker's free-port check refuse; Mosquitto binds with SO_REUSEADDR."""

    def _choose_port(self) -> int:
        return self._requested_port or super()._choose_port()


def assert_exactly_once(db_url: str, config: Path, timeout: float = 40) -> None:
    want = sorted(as_rows(expected(config)))
    assert wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= len(want), timeout)
    time.sleep(0.3)  # anything extra (a duplicate) would have arrived by now
    assert sorted(stored(db_url)) == want
    assert count(db_url, "SELECT count(*) FROM dead_letters") == 0


def agent_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "launcher", "edge", "run", "--config", str(config)]


def start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(agent_command(config), cwd=ROOT, stdout=out, stderr=out)


def subscribe_statuses_and_readings(
    watcher: paho.Client, endpoint: MqttEndpoint, status_topic: str, topic_root: str
) -> None:
    """Subscribe ``watcher`` to the status and to the readings, and wait for the SUBACK.

    Readings nobody subscribes to are discarded by the broker (PUBACK "no matching subscribers"),
    so the agent keeps them and reconnects after a backoff: a test that only watches the status
    needs a subscriber for the readings to see the agent connected and draining.
    """
    subscribed = threading.Event()
    watcher.on_subscribe = lambda *_: subscribed.set()
    watcher.connect(endpoint.host, endpoint.port)
    watcher.subscribe([(status_topic, 1), (wire.readings_subscription(topic_root), 1)])
    watcher.loop_start()
    assert subscribed.wait(10)


def test_sigkill_while_publishing_then_restart(
    db_url: str, topic_root: str, tmp_path: Path
) -> None:
    enterprise = pick_enterprise()
    config = gateway_toml(
        tmp_path,
        MQTT_URL,
        topic_root,
        enterprise=enterprise,
        device=sim_device(enterprise, ticks=600),
        publish={"batch_size": 50, "replay_rate": 1500},  # slow enough to be killed mid-stream
    )
    register(db_url, config)
    total = len(expected(config))
    with RunningIngest(make_settings(db_url, topic_root)):
        proc = start_agent(config, tmp_path / "agent.log")
        stored_before = 0
        assert wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") >= 200, 30)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stored_before = count(db_url, "SELECT count(*) FROM readings")
        assert 0 < stored_before < total, "the kill must land mid-stream"
        proc = start_agent(config, tmp_path / "agent.log")
        try:
            assert_exactly_once(db_url, config)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0, (tmp_path / "agent.log").read_text()
    log = (tmp_path / "agent.log").read_text()
    assert "re-sending unacknowledged batch" in log or "edge agent starting" in log


@pytest.mark.skipif(find_mosquitto() is None, reason="needs a mosquitto binary")
def test_broker_stopped_and_restarted(
    db_url: str, topic_root: str, tmp_path: Path, broker_dir: Path
) -> None:
    broker = MosquittoBroker(broker_dir, port=free_port())
    url = broker.start()
    enterprise = pick_enterprise()
    # 40 ticks/s for 12 s: still producing when the broker stops, even on a loaded machine
    device = sim_device(enterprise, ticks=480, mode="live", speed=15 * 40)
    config_path = gateway_toml(tmp_path, url, topic_root, enterprise=enterprise, device=device)
    register(db_url, config_path)
    settings = make_settings(db_url, topic_root)
    settings = load_settings(
        database_url=db_url,
        mqtt_url=url,
        topic_root=topic_root,
        ingest=settings.ingest.model_dump(),
    )
    try:
        with RunningIngest(settings), AgentThread(load_gateway_config(config_path)) as agent:
            assert wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") > 0, 15)
            broker.stop()
            assert agent.agent is not None
            counters = agent.agent.counters
            written = counters.readings_written
            assert wait_for(lambda: counters.readings_written > written + 100, 10)
            assert agent.agent.outbox.box.depth > 0  # the outbox holds them meanwhile
            broker = SamePortBroker(broker_dir, port=broker.port)
            broker.start()
            assert_exactly_once(db_url, config_path)
            assert counters.disconnects >= 1 and counters.connects >= 2
            assert wait_for(lambda: agent.agent is not None and agent.agent.outbox.box.depth == 0)
    finally:
        broker.stop()


@pytest.mark.skipif(find_mosquitto() is None, reason="needs a mosquitto binary")
def test_restarted_broker_without_subscriber_keeps_readings_in_the_outbox(
    db_url: str, topic_root: str, tmp_path: Path, broker_dir: Path
) -> None:
    """Mosquitto 2.0 persists a session but not its shared subscriptions: after a restart, until
    ingest has reconnected and subscribed again, it acknowledges readings and discards them
    (MQTT 5 PUBACK reason 0x10, no matching subscribers). The agent must keep them."""
    broker = MosquittoBroker(broker_dir, port=free_port())
    url = broker.start()
    enterprise = pick_enterprise()
    device = sim_device(enterprise, ticks=40)
    config_path = gateway_toml(tmp_path, url, topic_root, enterprise=enterprise, device=device)
    register(db_url, config_path)
    settings = make_settings(db_url, topic_root, mqtt_url=url)
    total = len(expected(config_path))
    try:
        with RunningIngest(settings):
            pass  # ingest's persistent session and its shared subscription exist, it is away
        broker.stop()
        broker = SamePortBroker(broker_dir, port=broker.port)
        broker.start()  # the session is back, its shared subscription is not
        with AgentThread(load_gateway_config(config_path)) as agent:
            assert agent.agent is not None
            counters, box = agent.agent.counters, agent.agent.outbox.box
            assert wait_for(
                lambda: (
                    counters.readings_written == total
                    and (counters.readings_published == total or counters.publish_failures > 0)
                ),
                20,
            )
            assert counters.readings_published == 0
            assert box.depth == total  # nobody would have stored them: all still in the outbox
            with RunningIngest(settings):  # subscribes again; the agent's next attempt lands
                assert_exactly_once(db_url, config_path)
                assert wait_for(lambda: box.depth == 0)
    finally:
        broker.stop()


def test_status_online_heartbeat_and_quota(topic_root: str, tmp_path: Path) -> None:
    """Retained status with counters; a tiny quota with refuse-new is applied and counted."""
    enterprise = pick_enterprise()
    config_path = gateway_toml(
        tmp_path,
        MQTT_URL,
        topic_root,
        enterprise=enterprise,
        device=sim_device(enterprise, ticks=3000),
        outbox={"quota_mb": 0.1, "when_full": "refuse-new"},
        publish={"replay_rate": 200},  # the outbox fills faster than it drains
        heartbeat_s=0.2,
    )
    config = load_gateway_config(config_path)
    statuses: list[dict[str, object]] = []
    endpoint = MqttEndpoint.from_url(MQTT_URL)
    watcher = endpoint.client(f"watch-{topic_root}")
    watcher.on_message = lambda _c, _u, msg: (
        statuses.append(json.loads(msg.payload)) if msg.topic == config.status_topic else None
    )
    subscribe_statuses_and_readings(watcher, endpoint, config.status_topic, topic_root)
    try:
        with AgentThread(config) as agent:
            assert wait_for(lambda: any(s.get("dropped_by_quota", 0) for s in statuses), 20)
            assert agent.agent is not None
            assert agent.agent.outbox.box.used_bytes() <= 0.1 * (1 << 20) * 1.1
        last = statuses[-1]
        assert last["state"] == "offline" and last["reason"] == "shutdown"
        online = [s for s in statuses if s["state"] == "online"]
        assert online and {
            "outbox_depth",
            "oldest_reading_age_s",
            "readings_published",
            "dropped_by_quota",
            "uptime_s",
        } <= set(online[-1])
        assert online[-1]["quota_policy"] == "refuse-new"
        assert wire.parse_topic(config.status_topic).kind == "status"
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def test_last_will_is_offline_when_the_agent_dies(topic_root: str, tmp_path: Path) -> None:
    enterprise = pick_enterprise()
    device = sim_device(enterprise, ticks=40, mode="live", speed=15)
    config_path = gateway_toml(
        tmp_path,
        MQTT_URL,
        topic_root,
        enterprise=enterprise,
        device=device,
        mqtt={"keepalive_s": 5},
    )
    status_topic = load_gateway_config(config_path).status_topic
    endpoint = MqttEndpoint.from_url(MQTT_URL)
    seen: list[dict[str, object]] = []
    watcher = endpoint.client(f"will-{topic_root}")
    watcher.on_message = lambda _c, _u, msg: (
        seen.append(json.loads(msg.payload)) if msg.topic == status_topic else None
    )
    subscribe_statuses_and_readings(watcher, endpoint, status_topic, topic_root)
    proc = start_agent(config_path, tmp_path / "agent.log")
    try:
        assert wait_for(lambda: any(s["state"] == "online" for s in seen), 15)
        os.kill(proc.pid, signal.SIGKILL)  # the TCP connection drops: the broker sends the will
        proc.wait()
        assert wait_for(lambda: seen[-1]["state"] == "offline", 15)
        assert seen[-1]["reason"] == "connection lost"
    finally:
        watcher.loop_stop()
        watcher.disconnect()
        if proc.poll() is None:
            proc.kill()
