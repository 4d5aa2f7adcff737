"""``carbonledger api --workers N``: one listening socket per worker (SO_REUSEPORT), so that the
kernel spreads a client's keep-alive connections over every worker; a dead worker is replaced;
a port already taken is an error that names it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

from carbonledger.embedded import free_port
from tests.api.conftest import Server, World, pids_over_connections
from tests.conftest import wait_for


def test_keep_alive_connections_reach_every_worker(server: Server) -> None:
    # uvicorn's shared socket gave all 32 of the benchmark's connections to one worker; with a
    # socket per worker the chance that 16 connections all hash to one of two is 2**-15
    pids = pids_over_connections(server.url, 16)
    assert len(set(pids)) == 2, pids
    assert server.proc.pid not in pids  # the supervisor binds the port but never accepts


def test_a_dead_worker_is_replaced(server: Server) -> None:
    before = set(pids_over_connections(server.url, 16))
    victim = min(before)
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        try:
            now = set(pids_over_connections(server.url, 16))
        except OSError:
            return False
        return len(now) == 2 and victim not in now

    assert wait_for(replaced, timeout=30), "no worker took the dead one's place"


def test_a_port_in_use_is_an_error_naming_it(world: World) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(
            [sys.executable, "-m", "carbonledger", "api", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2", "--no-watch"],
            env={**os.environ, "DATABASE_URL": world.url},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
