"""Worker processes of ``carbonledger api --workers N``, each listening on its own socket.

uvicorn's own ``--workers`` hands one listening socket to every process, and whichever process
wakes first accepts every connection that is waiting. A client that opens a pool of keep-alive
connections at once (a bank's export job, a load balancer, ``benchmarks/api.py``) then lands
on a single worker while the others idle: measured, 32 of 32 connections on one of two workers,
which capped the account endpoint at one core. Here every worker binds its own socket to the
same port with ``SO_REUSEPORT`` and the kernel spreads new connections across them by hash.

The supervisor binds the port first without listening on it: that claims the port (so a busy
port fails at once, in the parent, with its address) and resolves port 0 to the one the
workers share. A socket that does not listen receives no connections. Workers that die are
replaced; a worker that cannot start (exit code 3, uvicorn's startup failure) stops them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import sys
import threading
from typing import Any

import uvicorn

from carbonledger.errors import PortUnavailableError
from carbonledger.supervisor import STARTUP_FAILURE, ProcessWorker, supervise

log = logging.getLogger(__name__)

_spawn = multiprocessing.get_context("spawn")
_STOP_S = 20.0


def _bind(host: str, port: int, *, shared: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailableError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def _claim_port(host: str, port: int) -> socket.socket:
    """The supervisor's socket on the workers' port, bound with SO_REUSEPORT, never listening.

    The port is first bound without SO_REUSEPORT, so that a server already on it (another
    ``carbonledger api`` included, which would otherwise silently share its connections) is
    an error rather than a neighbour.
    """
    with _bind(host, port, shared=False) as probe:
        port = probe.getsockname()[1]
    return _bind(host, port, shared=True)


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it listens (uvicorn logs no address for given sockets)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            log.info("api worker listening", extra={"pid": os.getpid()})


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker: its own socket on the shared port, one uvicorn server on it."""
    try:
        sock = _bind(host, port, shared=True)
    except PortUnavailableError as exc:
        log.error("%s", exc)  # before the app configures logging: Python's last resort
        sys.exit(STARTUP_FAILURE)
    _Server(uvicorn.Config(**options)).run(sockets=[sock])


def serve_workers(
    count: int, host: str, port: int, options: dict[str, Any], stop: threading.Event
) -> int:
    """Run ``count`` workers of ``uvicorn.Config(**options)`` until ``stop`` is set; exit code."""
    claim = _claim_port(host, port)
    port = claim.getsockname()[1]

    def start(_index: int) -> ProcessWorker:
        process = _spawn.Process(
            target=_worker, args=(host, port, options), name="carbonledger-api", daemon=False
        )
        process.start()
        return ProcessWorker(process)

    log.info("api workers starting", extra={"workers": count, "host": host, "port": port})
    try:
        return supervise("api", start, count, stop, stop_timeout_s=_STOP_S)
    finally:
        claim.close()
