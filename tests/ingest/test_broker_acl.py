"""Device authorisation at the broker: a real Mosquitto running the generated passwd and ACL."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from carbonledger import wire
from carbonledger.errors import RegistryError
from ingest import broker_auth
from tests.helpers import ENTERPRISE_A, ENTERPRISE_B, PrivateMosquitto, register_sites, wait_for

ROOT = "acl"
REFUSED = (134, 135)  # bad user name or password / not authorised: Mosquitto answers either


class Client:
    """A paho MQTT 5 client that records CONNACK, PUBACK and SUBACK reason codes."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.connack: int | None = None
        self.pubacks: dict[int, int] = {}
        self.messages: list[str] = []
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{user}-{uuid.uuid4().hex[:6]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, u, f, rc, p: setattr(self, "connack", rc.value)
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, rc.value)
        self.client.on_message = lambda c, u, m: self.messages.append(m.topic)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert wait_for(lambda: self.connack is not None, timeout=5)

    def publish(self, topic: str) -> int:
        info = self.client.publish(topic, b"{}", qos=1)
        assert wait_for(lambda: info.mid in self.pubacks, timeout=5)
        return self.pubacks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_gateways_reach_only_their_own_topics_and_revocation_locks_out(
    db_url: str, broker_folder: Path
) -> None:
    folder = broker_folder
    register_sites(db_url)
    with psycopg.connect(db_url) as conn:
        secret_a = broker_auth.create_credential(conn, "gw-a")
        secret_b = broker_auth.create_credential(conn, "gw-b")
        services = {"ingest": broker_auth.hash_password("ingest-secret")}
        broker_auth.write_broker_files(conn, folder, ROOT, services)
    broker = PrivateMosquitto(
        folder,
        f"allow_anonymous false\npassword_file {folder / 'passwd'}\nacl_file {folder / 'acl'}\n",
    )
    own_a = wire.readings_topic(ENTERPRISE_A, "gw-a", ROOT)
    own_b = wire.readings_topic(ENTERPRISE_B, "gw-b", ROOT)
    try:
        ingest = Client(broker.port, "ingest", "ingest-secret")
        spy = Client(broker.port, "gw-a", secret_a)
        b = Client(broker.port, "gw-b", secret_b)
        assert (ingest.connack, spy.connack, b.connack) == (0, 0, 0)
        ingest.client.subscribe(f"$share/ingest/{ROOT}/v1/+/+/readings", qos=1)
        spy.client.subscribe(f"{ROOT}/#", qos=1)  # gateway A tries to read everyone's data
        spy.client.subscribe(own_b, qos=1)
        time.sleep(0.3)

        assert spy.publish(own_a) == 0  # its own topic: accepted
        assert spy.publish(own_b) == 135  # gateway B's topic: not authorised
        assert spy.publish(wire.readings_topic(ENTERPRISE_B, "gw-a", ROOT)) == 135
        assert b.publish(own_b) == 0
        assert wait_for(lambda: sorted(ingest.messages) == sorted([own_a, own_b]), timeout=5)
        time.sleep(0.3)
        assert spy.messages == []  # A saw nothing, not even B's readings
        assert Client(broker.port, "ingest", "wrong").connack in REFUSED
        for client in (ingest, spy, b):
            client.close()

        with psycopg.connect(db_url) as conn:
            broker_auth.revoke_credential(conn, "gw-b")
            broker_auth.write_broker_files(conn, folder, ROOT, services)
        broker.reload()
        assert Client(broker.port, "gw-b", secret_b).connack in REFUSED  # revoked
        assert Client(broker.port, "gw-a", secret_a).connack == 0
    finally:
        broker.close()


def test_password_hashes_match_mosquitto_passwd(tmp_path: Path) -> None:
    hashed = broker_auth.hash_password("s3cret", iterations=101)
    assert broker_auth.verify_password("s3cret", hashed)
    assert not broker_auth.verify_password("s3cret!", hashed)
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.skip("mosquitto_passwd not installed")
    path = tmp_path / "pw"
    subprocess.run([passwd, "-c", "-b", str(path), "gw", "s3cret"], check=True)
    written = path.read_text().strip().split(":", 1)[1]
    assert broker_auth.verify_password("s3cret", written)  # we read Mosquitto's format


def test_unknown_gateway_credentials_are_refused(db_url: str) -> None:
    with psycopg.connect(db_url) as conn, pytest.raises(RegistryError, match="unknown gateway"):
        broker_auth.create_credential(conn, "gw-nobody")


def test_publisher_account_writes_for_every_gateway_and_reads_nothing(
    db_url: str, broker_folder: Path
) -> None:
    """The simulator's account (``--publisher-url``): it publishes anywhere and reads nothing."""
    folder = broker_folder
    register_sites(db_url)
    with psycopg.connect(db_url) as conn:
        services = {"ingest": broker_auth.hash_password("ingest-secret")}
        writers = {"simulator": broker_auth.hash_password("sim-secret")}
        broker_auth.write_broker_files(conn, folder, ROOT, services, writers)
        with pytest.raises(RegistryError, match="both read and publish"):
            broker_auth.write_broker_files(conn, folder, ROOT, services, {"ingest": "x"})
    broker = PrivateMosquitto(
        folder,
        f"allow_anonymous false\npassword_file {folder / 'passwd'}\nacl_file {folder / 'acl'}\n",
    )
    try:
        ingest = Client(broker.port, "ingest", "ingest-secret")
        simulator = Client(broker.port, "simulator", "sim-secret")
        assert (ingest.connack, simulator.connack) == (0, 0)
        ingest.client.subscribe(f"{ROOT}/v1/+/+/readings", qos=1)
        simulator.client.subscribe(f"{ROOT}/#", qos=1)
        time.sleep(0.3)
        topics = [wire.readings_topic(code, gw, ROOT) for code, gw in
                  ((ENTERPRISE_A, "gw-a"), (ENTERPRISE_B, "gw-b"))]  # fmt: skip
        assert [simulator.publish(t) for t in topics] == [0, 0]
        assert ingest.publish(topics[0]) == 135  # the ingest account only reads
        assert wait_for(lambda: sorted(ingest.messages) == sorted(topics), timeout=5)
        time.sleep(0.3)
        assert simulator.messages == []
        for client in (ingest, simulator):
            client.close()
    finally:
        broker.close()
