"""``carbonledger api --workers N``: one listening socket per worker (SO_REUSEPORT), so that the
kernel spreads a client's keep-alive connections over every worker; a dead worker is replaced;
a port already taken is an error that names it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import httpx

from launcher.embedded import free_port
from tests.accounts.api.helpers import Server, World
from tests.helpers import wait_for


def pids_over_connections(url: str, connections: int) -> list[int]:
    """The worker answering on each of ``connections`` connections, all opened before the first
    request (as a client's connection pool does)."""
    address = httpx.URL(url)
    sockets = [socket.create_connection((address.host, address.port), timeout=5)
               for _ in range(connections)]  # fmt: skip
    try:
        pids = []
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
            with sock.makefile("rb") as answer:
                _, _, body = answer.read().partition(b"\r\n\r\n")
            pids.append(int(json.loads(body)["pid"]))
        return pids
    finally:
        for sock in sockets:
            sock.close()


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
            [sys.executable, "-m", "launcher", "api", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2", "--no-watch"],
            env={**os.environ, "DATABASE_URL": world.url},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
