"""The agent over TLS: a throw-away CA and server certificate, a private Mosquitto with a TLS
listener (and a plain one for the test's own subscriber), readings verified on arrival."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonledger import wire
from carbonledger.mqtt import MqttEndpoint
from edge.agent import load_gateway_config
from launcher.embedded import LOOPBACK, MosquittoBroker, find_mosquitto, free_port
from tests.edge.agent_helpers import (
    AgentThread,
    expected,
    gateway_toml,
    pick_enterprise,
    sim_device,
    world_readable_dir,
)
from tests.helpers import wait_for

pytestmark = pytest.mark.skipif(
    find_mosquitto() is None or shutil.which("openssl") is None,
    reason="needs mosquitto and openssl",
)


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    path = world_readable_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_certs(directory: Path) -> None:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext",
            "-out", "server.pem")  # fmt: skip
    for name in ("server.key", "server.pem", "ca.pem"):
        (directory / name).chmod(0o644)


class TlsBroker(MosquittoBroker):
    """The private Mosquitto plus a TLS listener on ``tls_port``."""

    def __init__(self, state_dir: Path, certs: Path) -> None:
        super().__init__(state_dir, port=free_port())
        self.certs = certs
        self.tls_port = free_port()

    def command(self) -> list[str]:
        argv = super().command()
        with self.config_path.open("a", encoding="utf-8") as conf:
            conf.write(
                f"listener {self.tls_port} {LOOPBACK}\n"
                f"cafile {self.certs / 'ca.pem'}\ncertfile {self.certs / 'server.pem'}\n"
                f"keyfile {self.certs / 'server.key'}\n"
            )
        return argv


def test_publishes_over_tls_with_a_private_ca(
    tmp_path: Path, broker_dir: Path, topic_root: str
) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certs(certs)
    shutil.copytree(certs, broker_dir / "certs")  # where Mosquitto (dropping root) can read
    (broker_dir / "certs").chmod(0o755)
    broker = TlsBroker(broker_dir, broker_dir / "certs")
    url = broker.start()
    try:
        enterprise = pick_enterprise()
        config_path = gateway_toml(
            tmp_path,
            f"mqtts://127.0.0.1:{broker.tls_port}",
            topic_root,
            enterprise=enterprise,
            device=sim_device(enterprise, ticks=20),
            mqtt={"ca_file": "certs/ca.pem"},
        )
        config = load_gateway_config(config_path)
        got: list[wire.Reading] = []
        endpoint = MqttEndpoint.from_url(url)
        watcher = endpoint.client(f"tls-watch-{topic_root}")
        watcher.on_message = lambda _c, _u, msg: got.extend(wire.decode(msg.payload).readings)
        watcher.connect(endpoint.host, endpoint.port)
        watcher.subscribe(wire.readings_subscription(topic_root), qos=1)
        watcher.loop_start()
        try:
            want = expected(config_path)
            with AgentThread(config) as agent:
                assert wait_for(lambda: len(got) >= len(want), 20)
                assert agent.agent is not None
                assert wait_for(
                    lambda: agent.agent is not None and agent.agent.outbox.box.depth == 0
                )
            assert sorted(got) == sorted(want)
        finally:
            watcher.loop_stop()
            watcher.disconnect()
    finally:
        broker.stop()
