"""``carbonledger ingest`` (run or supervise workers), ``carbonledger broker`` (device access)."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from carbonledger.config import Settings, require_database_url
from carbonledger.errors import InvalidImportError
from carbonledger.metrics import serve_metrics
from carbonledger.mqtt import MqttEndpoint
from carbonledger.signals import stop_on_signals
from carbonledger.supervisor import PopenWorker, supervise
from ingest import broker_auth
from ingest.backfill import import_readings
from ingest.service import IngestService

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest", help="consume readings from MQTT and store them (acknowledged after commit)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the subscription (default 1)",
    )
    parser.set_defaults(func=_run)

    readings = subparsers.add_parser("readings", help="historical meter readings")
    rsub = readings.add_subparsers(dest="readings_command", metavar="ACTION", required=True)
    rimp = rsub.add_parser(
        "import",
        help="backfill readings from a CSV file through ingest's validation and dedup",
        description="Columns: meter_id, quantity, time (ISO 8601 with offset), value, quality. "
        "Every line is validated first; a file with a bad line stores nothing.",
    )
    rimp.add_argument("file", type=Path, metavar="FILE.csv")
    rimp.add_argument(
        "--batch-size", type=int, default=None, help="rows per transaction (default: ingest's)"
    )
    rimp.set_defaults(func=_readings_import)

    broker = subparsers.add_parser("broker", help="broker credentials and ACLs from the registry")
    actions = broker.add_subparsers(dest="broker_command", metavar="ACTION", required=True)
    config = actions.add_parser("config", help="write Mosquitto passwd and acl files")
    config.add_argument("--out", type=Path, required=True, help="folder for passwd and acl")
    config.add_argument(
        "--publisher-url",
        default=None,
        metavar="URL",
        help="mqtt://user:password@… of an account that may publish for every gateway (the "
        "simulator's); left out when the URL has no password",
    )
    config.set_defaults(func=_broker_config)
    create = actions.add_parser("credential", help="create a gateway's secret (printed once)")
    create.add_argument("gateway")
    create.set_defaults(func=_credential)
    revoke = actions.add_parser("revoke", help="revoke a gateway's credential")
    revoke.add_argument("gateway")
    revoke.set_defaults(func=_revoke)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers < 1:
        raise SystemExit("carbonledger ingest: --workers must be at least 1")
    if args.workers == 1:
        return run_worker(settings)
    return _supervise(args.workers, settings)


def run_worker(settings: Settings) -> int:
    """Run one worker until SIGINT or SIGTERM, then finish the batch in hand and exit 0."""
    stop = stop_on_signals()
    service = IngestService(settings)
    serve_metrics(service.metrics.registry, settings.ingest.metrics_port, settings.metrics_host)
    log.info(
        "ingest worker starting",
        extra={
            "client_id": settings.ingest.client_id,
            "metrics_port": settings.ingest.metrics_port,
            "batch_size": settings.ingest.batch_size,
        },
    )
    service.run(stop)
    log.info("ingest worker stopped")
    return 0


def _supervise(workers: int, settings: Settings) -> int:
    """Keep ``workers`` processes running, each with its own client id and metrics port."""

    def start(index: int) -> PopenWorker:
        env = dict(os.environ)
        env["CARBONLEDGER_INGEST__CLIENT_ID"] = f"{settings.ingest.client_id}-w{index}"
        if settings.ingest.metrics_port:
            env["CARBONLEDGER_INGEST__METRICS_PORT"] = str(settings.ingest.metrics_port + index - 1)
        argv = [sys.executable, "-m", "launcher", "ingest"]
        return PopenWorker(subprocess.Popen(argv, env=env))  # noqa: S603 - our own interpreter

    return supervise("ingest", start, workers, stop_on_signals())


def _readings_import(args: argparse.Namespace, settings: Settings) -> int:
    batch = args.batch_size or settings.ingest.batch_size
    try:
        report = import_readings(
            require_database_url(settings), args.file, batch_size=batch, progress=sys.stderr
        )
    except InvalidImportError as exc:
        return _refused(exc)
    for line in report.conflicts:
        _out(f"  conflict {line}")
    if report.conflict_count > len(report.conflicts):
        _out(f"  ... and {report.conflict_count - len(report.conflicts)} more conflicts")
    _out(report.summary())
    return 0


def _refused(exc: InvalidImportError) -> int:
    print(exc, file=sys.stderr)  # noqa: T201 - the clerk's list of problems, whole and plain
    return 1


def _out(text: str) -> None:
    print(text)  # noqa: T201 - a command's output


def _broker_config(args: argparse.Namespace, settings: Settings) -> int:
    services = {}
    endpoint = MqttEndpoint.from_url(settings.mqtt_url)
    if endpoint.username and endpoint.password:  # the ingest account is the one in MQTT_URL
        services[endpoint.username] = broker_auth.hash_password(endpoint.password)
    writers = {}
    if args.publisher_url:
        publisher = MqttEndpoint.from_url(args.publisher_url)
        if publisher.username and publisher.password:
            writers[publisher.username] = broker_auth.hash_password(publisher.password)
    with psycopg.connect(require_database_url(settings)) as conn:
        passwd, acl, gateways = broker_auth.write_broker_files(
            conn, args.out, settings.topic_root, services, writers
        )
    print(  # noqa: T201
        f"wrote {passwd} and {acl}: {gateways} gateways, service accounts"
        f" {sorted(services)}, publishers {sorted(writers)}"
        " (reload Mosquitto with SIGHUP)"
    )
    return 0


def _credential(args: argparse.Namespace, settings: Settings) -> int:
    with psycopg.connect(require_database_url(settings)) as conn:
        secret = broker_auth.create_credential(conn, args.gateway)
    print(f"gateway {args.gateway} password (shown once): {secret}")  # noqa: T201
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    with psycopg.connect(require_database_url(settings)) as conn:
        broker_auth.revoke_credential(conn, args.gateway)
    print(f"gateway {args.gateway} revoked; run `carbonledger broker config` and reload")  # noqa: T201
    return 0
