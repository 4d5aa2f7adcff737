"""Faults in the middle of a stream: nothing lost, nothing stored twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from carbonledger import wire
from carbonledger.config import Settings
from carbonledger.db import migrate
from launcher.embedded import EmbeddedPostgres
from tests.helpers import (
    MQTT_URL,
    SITES,
    PrivateMosquitto,
    Publisher,
    RunningIngest,
    Site,
    count,
    make_settings,
    readings_for,
    register_sites,
    wait_for,
)

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
READINGS_PER_METER = 1000  # 20 meters -> 20,000 readings in 80 messages of 250


def stream(sites: Sequence[Site], root: str) -> list[tuple[str, bytes]]:
    messages = []
    for site in sites:
        topic = wire.readings_topic(site.enterprise, site.gateway, root)
        readings = readings_for(site.meters, T0, READINGS_PER_METER)
        readings.sort(key=lambda r: r.time)  # a gateway sends in time order, all meters per tick
        for seq, i in enumerate(range(0, len(readings), 250)):
            messages.append((topic, wire.encode(seq, readings[i : i + 250], T0)))
    return messages


def publish_slowly(
    messages: list[tuple[str, bytes]], pause: float, url: str = MQTT_URL
) -> threading.Thread:
    def run() -> None:
        publisher = Publisher(url)
        for topic, payload in messages:
            publisher.publish(topic, payload)
            time.sleep(pause)
        publisher.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def readings_count(url: str) -> int:
    return count(url, "SELECT count(*) FROM readings")


def assert_exactly_once(url: str, sites: Sequence[Site]) -> None:
    total = len(sites) * len(sites[0].meters) * READINGS_PER_METER
    assert wait_for(lambda: readings_count(url) >= total, timeout=120)
    with psycopg.connect(url) as conn:
        rows, identities = conn.execute(
            "SELECT count(*), count(DISTINCT (meter_id, quantity, time)) FROM readings"
        ).fetchone() or (0, 0)
    assert rows == identities == total
    assert count(url, "SELECT count(*) FROM dead_letters") == 0


class IngestProcess:
    """``carbonledger ingest`` as a real process, configured through the environment."""

    def __init__(self, settings: Settings) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url or "",
            "MQTT_URL": MQTT_URL,
            "CARBONLEDGER_TOPIC_ROOT": settings.topic_root,
            "CARBONLEDGER_INGEST__SHARED_GROUP": settings.ingest.shared_group,
            "CARBONLEDGER_INGEST__CLIENT_ID": settings.ingest.client_id,
            "CARBONLEDGER_INGEST__BATCH_SIZE": "500",
            "CARBONLEDGER_INGEST__METRICS_PORT": "0",
            "CARBONLEDGER_LOG_FORMAT": "text",  # _relay reads the lines
        }
        self.proc: subprocess.Popen[str] | None = None
        self.subscribed = threading.Event()

    def start(self) -> None:
        """Start the process; ``subscribed`` is set once it logs its subscription."""
        self.subscribed.clear()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "ingest"],
            env=self.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._relay, args=(self.proc,), daemon=True).start()

    def _relay(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            sys.stderr.write(line)
            if "ingest.consumer: subscribed" in line:
                self.subscribed.set()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


@pytest.fixture
def ingest_process(storage_db_url: str, topic_root: str) -> Iterator[IngestProcess]:
    register_sites(storage_db_url)
    process = IngestProcess(make_settings(storage_db_url, topic_root))
    yield process
    if process.proc and process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


def test_sigkill_mid_stream_loses_nothing_and_doubles_nothing(
    ingest_process: IngestProcess, topic_root: str
) -> None:
    url = ingest_process.env["DATABASE_URL"]
    registered = SITES
    ingest_process.start()
    # until the worker has subscribed, the broker has no session to keep messages for: a
    # fixed sleep here lost the first messages whenever startup took longer
    assert ingest_process.subscribed.wait(60), "ingest did not subscribe"
    publishing = publish_slowly(stream(registered, topic_root), pause=0.02)
    assert wait_for(lambda: readings_count(url) >= 3_000, timeout=30)
    ingest_process.kill()
    killed_at = readings_count(url)
    assert killed_at < 20_000, "the stream ended before the kill: nothing was tested"
    publishing.join(60)  # the rest is published while no worker runs: the broker keeps it
    ingest_process.start()
    assert_exactly_once(url, registered)
    assert ingest_process.stop() == 0


def test_database_connections_killed_mid_stream(
    settings: Settings, registered: Sequence[Site], topic_root: str
) -> None:
    url = settings.database_url
    assert url
    dbname = url.rsplit("/", 1)[1]
    with RunningIngest(settings) as ingest:
        publishing = publish_slowly(stream(registered, topic_root), pause=0.02)
        for threshold in (2_000, 8_000, 14_000):
            assert wait_for(lambda t=threshold: readings_count(url) >= t, timeout=30)
            with psycopg.connect(url, autocommit=True) as conn:
                killed = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = 'carbonledger-ingest'",
                    (dbname,),
                ).fetchone()
            assert killed == (1,)
        publishing.join(60)
        assert_exactly_once(url, registered)
        assert ingest.service.metrics.database_errors._value.get() >= 1


def test_broker_restart_mid_stream(
    db_url: str, registered: Sequence[Site], topic_root: str, broker_folder: Path
) -> None:
    broker = PrivateMosquitto(broker_folder)
    try:
        settings = make_settings(db_url, topic_root, mqtt_url=broker.url)
        messages = stream(registered, topic_root)
        with RunningIngest(settings) as ingest:
            publish_slowly(messages[:40], pause=0.01, url=broker.url).join(60)
            assert wait_for(lambda: readings_count(db_url) >= 2_000, timeout=30)
            broker.restart()  # whatever ingest had not acknowledged is in the broker's file
            assert ingest.service.ready.wait(30), "ingest did not resubscribe"
            publish_slowly(messages[40:], pause=0.0, url=broker.url).join(60)
            assert_exactly_once(db_url, registered)
    finally:
        broker.close()


def test_database_server_restart_mid_stream(topic_root: str, tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "state")
    url = server.start()
    try:
        migrate(url, timescaledb="off")
        register_sites(url)
        settings = make_settings(url, topic_root)
        with RunningIngest(settings) as ingest:
            publishing = publish_slowly(stream(SITES, topic_root), pause=0.02)
            assert wait_for(lambda: readings_count(url) >= 3_000, timeout=30)
            server.stop()  # ingest keeps its batch, acknowledges nothing, and retries
            assert wait_for(lambda: ingest.service.metrics.database_errors._value.get() >= 1)
            server.start()
            publishing.join(60)
            assert_exactly_once(url, SITES)
    finally:
        server.stop()
