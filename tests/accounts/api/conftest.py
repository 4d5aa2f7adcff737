"""Fixtures of the API tests: a database with enterprises, keys of every role and consents in
every state, and the app served in-process (Starlette's TestClient runs its lifespan).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from accounts.api import create_app
from launcher.embedded import free_port
from tests.accounts.api.helpers import (
    Server,
    World,
    api_settings,
    populate,
)
from tests.helpers import clone_database, wait_for


@pytest.fixture(scope="module")
def world(plain_template: str) -> Iterator[World]:
    """One database per test module (the cases only read it, or write what no case reads)."""
    for url in clone_database(plain_template):
        yield World(url, populate(url), api_settings(url))


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def server(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``carbonledger api --workers 2`` in its own processes on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": world.url,
        "CARBONLEDGER_API__RATE_PER_S": "100000",
        "CARBONLEDGER_API__BURST": "100000",
        "CARBONLEDGER_TRUST__KEY_DIR": str(world.settings.trust.key_dir),  # not the checkout's
    }
    log_path = tmp_path_factory.mktemp("api") / "api.log"
    log = log_path.open("wb")
    command = ["api", "--port", str(port), "--workers", "2", "--no-watch"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", *command],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # each worker logs once it listens (a /healthz answer only says that one of them does)
        assert wait_for(
            lambda: log_path.read_text().count("api worker listening") == 2, timeout=30
        ), "the API did not start"
        yield Server(url, proc)
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
