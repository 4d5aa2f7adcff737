"""Fixtures against the real servers: PostgreSQL at DATABASE_URL, an MQTT broker at MQTT_URL.

Each test gets its own database, cloned from a template that was migrated once per session, and
its own MQTT topic root and client ids, so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from carbonledger.config import Settings
from carbonledger.db import timescaledb_loadable
from tests.helpers import (
    MOSQUITTO,
    RUN_ID,
    SITES,
    PrivateMosquitto,
    Publisher,
    Site,
    admin_connection,
    clone_database,
    create_template,
    drop_database,
    make_settings,
    register_sites,
)


@pytest.fixture(scope="session")
def plain_template() -> Iterator[str]:
    name = create_template(f"cltest_tpl_plain_{RUN_ID}", "off")
    yield name
    drop_database(name)


@pytest.fixture(scope="session")
def timescale_available() -> bool:
    with admin_connection() as conn:
        return timescaledb_loadable(conn)


@pytest.fixture(scope="session")
def timescale_template(timescale_available: bool) -> Iterator[str]:
    if not timescale_available:
        pytest.skip("the TimescaleDB extension is not installed and preloaded on this server")
    name = create_template(f"cltest_tpl_ts_{RUN_ID}", "on")
    yield name
    drop_database(name)


@pytest.fixture
def db_url(plain_template: str) -> Iterator[str]:
    """A fresh, migrated database on the plain-PostgreSQL path."""
    yield from clone_database(plain_template)


@pytest.fixture
def ts_db_url(timescale_template: str) -> Iterator[str]:
    """A fresh, migrated database on the TimescaleDB path (skipped without the extension)."""
    yield from clone_database(timescale_template)


@pytest.fixture(params=["plain", pytest.param("timescaledb", marks=pytest.mark.timescaledb)])
def storage_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on each storage path in turn (TimescaleDB skipped where absent)."""
    template = request.getfixturevalue(
        "plain_template" if request.param == "plain" else "timescale_template"
    )
    yield from clone_database(template)


@pytest.fixture
def topic_root() -> str:
    return f"cltest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(db_url: str, topic_root: str) -> Settings:
    return make_settings(db_url, topic_root)


@pytest.fixture
def registered(db_url: str) -> Sequence[Site]:
    register_sites(db_url)
    return SITES


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    pub = Publisher()
    yield pub
    pub.close()


@pytest.fixture
def roomy_broker(broker_folder: Path) -> Iterator[PrivateMosquitto]:
    """A broker of the test's own that queues a whole burst for a slow subscriber.

    The shared Mosquitto on 1883 runs with the package's defaults: ``max_queued_messages 1000``
    drops QoS 1 messages for a session more than 1,000 behind ("Outgoing messages are being
    dropped" in its log). A test that publishes thousands of batches at once to an ingest slowed
    by a loaded machine would then wait for readings that never come. Deployments raise the
    limit (deploy/mosquitto.conf); so does this broker.
    """
    broker = PrivateMosquitto(broker_folder)
    yield broker
    broker.stop()


@pytest.fixture
def broker_folder() -> Iterator[Path]:
    """A folder the broker's unprivileged user can read (pytest's tmp_path is private)."""
    if not os.path.exists(MOSQUITTO):
        pytest.skip("mosquitto is not installed")
    path = Path(tempfile.mkdtemp(prefix="cl-broker-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)
