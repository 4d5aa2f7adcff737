"""Helpers shared by the tests: databases cloned from a migrated template, a small registry, MQTT
publishers, services run in threads, waiting. Fixtures that use them live in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import paho.mqtt.client as paho
import psycopg
from psycopg import sql

from accounts.ledger import load_factors
from carbonledger import wire
from carbonledger.config import Settings, load_settings
from carbonledger.db import migrate
from carbonledger.mqtt import MqttEndpoint
from ingest.service import IngestService
from launcher.embedded import free_port

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


MQTT_URL = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")


RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connection() -> psycopg.Connection:
    return psycopg.connect(ADMIN_URL, autocommit=True)


def create_template(name: str, timescaledb: str) -> str:
    with admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate(database_url(name), timescaledb=timescaledb)  # type: ignore[arg-type]
    with psycopg.connect(database_url(name)) as conn:  # what `carbonledger db migrate` loads
        load_factors(conn)
    with admin_connection() as conn:
        # Nobody may connect to a template (TimescaleDB's job scheduler would, and a database
        # with a session on it cannot be cloned).
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
    return name


def drop_database(name: str) -> None:
    with admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def clone_database(template: str) -> Iterator[str]:
    name = f"cltest_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )
    with admin_connection() as conn:
        for attempt in range(50):  # a terminated session may take a moment to leave
            try:
                conn.execute(create)
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    yield database_url(name)
    drop_database(name)


def make_settings(
    db_url: str, topic_root: str, mqtt_url: str = MQTT_URL, **ingest: object
) -> Settings:
    values = {
        "batch_size": 2_000,
        "max_delay_ms": 100,
        "receive_maximum": 500,
        "shared_group": f"g-{topic_root}",
        "client_id": f"ingest-{topic_root}",
        "metrics_port": 0,
        **ingest,
    }
    return load_settings(
        database_url=db_url, mqtt_url=mqtt_url, topic_root=topic_root, ingest=values
    )


ENTERPRISE_A = "91331102MA2A00001X"


ENTERPRISE_B = "91331181MA2B00002Y"


@dataclass(frozen=True)
class Site:
    enterprise: str
    gateway: str
    meters: tuple[str, ...]


SITES = (
    Site(ENTERPRISE_A, "gw-a", tuple(f"a-m{i:02d}" for i in range(10))),
    Site(ENTERPRISE_B, "gw-b", tuple(f"b-m{i:02d}" for i in range(10))),
)


def register_sites(url: str, sites: Sequence[Site] = SITES) -> None:
    with psycopg.connect(url) as conn:
        for index, site in enumerate(sites):
            conn.execute(
                "INSERT INTO enterprises (code, name, industry_code, district)"
                " VALUES (%s, %s, '3011', '莲都区')",
                (site.enterprise, f"测试企业{index}"),
            )
            conn.execute(
                "INSERT INTO gateways (id, enterprise_code) VALUES (%s, %s)",
                (site.gateway, site.enterprise),
            )
            for meter in site.meters:
                conn.execute(
                    "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                    " VALUES (%s, %s, %s, 'electricity', 'energy_import', 'kWh')",
                    (meter, site.enterprise, site.gateway),
                )


class Publisher:
    """A gateway-like QoS 1 publisher that waits for every PUBACK."""

    def __init__(self, url: str = MQTT_URL) -> None:
        self.client = MqttEndpoint.from_url(url).client(f"pub-{uuid.uuid4().hex[:10]}")
        self.client.max_inflight_messages_set(1000)
        self.client.connect(MqttEndpoint.from_url(url).host, MqttEndpoint.from_url(url).port)
        self.client.loop_start()
        self._infos: list[paho.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self._infos.append(self.client.publish(topic, payload, qos=1))

    def close(self) -> None:
        """Wait for every PUBACK, then disconnect (idempotent)."""
        for info in self._infos:
            info.wait_for_publish(timeout=30)
            assert info.is_published()
        self._infos.clear()
        if self.client.is_connected():
            self.client.disconnect()
        self.client.loop_stop()


def readings_for(
    meters: Sequence[str], start: datetime, count: int, step_s: int = 15
) -> list[wire.Reading]:
    """``count`` cumulative readings per meter, 15 s apart, values derived from meter and time."""
    out = []
    for m_index, meter in enumerate(meters):
        for i in range(count):
            value = 1000.0 * m_index + 0.25 * i
            out.append(
                wire.Reading(meter, "energy_import", start + timedelta(seconds=step_s * i), value)
            )
    return out


class InThread:
    """A service's ``run(stop)`` in a thread of the test process.

    Entering waits until the service says it is ready; leaving stops it, and an error the
    service raised is raised in the test.
    """

    def __init__(self, run: Callable[[threading.Event], None], ready: threading.Event) -> None:
        self._service_run = run
        self._ready = ready
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._service_run(self.stop)
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test by __exit__
            self.error = exc

    def __enter__(self) -> Self:
        self.thread.start()
        assert self._ready.wait(15), f"{type(self).__name__}: the service did not get ready"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error


class RunningIngest(InThread):
    """IngestService in a thread, ready once it has subscribed."""

    def __init__(self, settings: Settings) -> None:
        self.service = IngestService(settings)
        super().__init__(self.service.run, self.service.ready)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def count(url: str, query: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
        return int(row[0]) if row else 0


MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class PrivateMosquitto:
    """A Mosquitto of the test's own on a free port (never the shared one on 1883).

    ``restart`` keeps the port and the persistence folder, as a broker restarted by an operator
    would; ``reload`` is SIGHUP (re-reads password and ACL files).
    """

    def __init__(self, folder: Path, extra_config: str = "") -> None:
        self.folder = folder
        self.port = free_port()
        if "allow_anonymous" not in extra_config:
            extra_config += "allow_anonymous true\n"
        (folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "max_queued_messages 1000000\n"
            "log_dest stderr\n" + extra_config
        )
        self._log = (folder / "mosquitto.log").open("ab")
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        for path in self.folder.iterdir():
            path.chmod(0o644 if path.is_file() else 0o777)  # Mosquitto drops root for its user
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.folder / "mosquitto.conf")], stderr=self._log
        )
        assert wait_for(self._listening, timeout=10), self.log()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # Mosquitto saves its persistence file on SIGTERM
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def reload(self) -> None:
        for path in self.folder.iterdir():
            path.chmod(0o644 if path.is_file() else 0o777)
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)

    def log(self) -> str:
        return (self.folder / "mosquitto.log").read_text(errors="replace")

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def close(self) -> None:
        self.stop()
        self._log.close()
