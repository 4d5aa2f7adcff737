"""``carbonledger ingest``: run one worker in this process, or supervise several."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from carbonledger.config import Settings
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


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers < 1:
        raise SystemExit("carbonledger ingest: --workers must be at least 1")
    if args.workers == 1:
        return run_worker(settings)
    return _supervise(args.workers, settings)


def run_worker(settings: Settings) -> int:
    """Run one worker until SIGINT or SIGTERM, then finish the batch in hand and exit 0."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    service = IngestService(settings)
    if settings.ingest.metrics_port:
        service.metrics.serve(settings.ingest.metrics_port)
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
    """Start ``workers`` processes, each with its own client id and metrics port."""
    children = []
    for index in range(1, workers + 1):
        env = dict(os.environ)
        env["CARBONLEDGER_INGEST__CLIENT_ID"] = f"{settings.ingest.client_id}-w{index}"
        if settings.ingest.metrics_port:
            env["CARBONLEDGER_INGEST__METRICS_PORT"] = str(settings.ingest.metrics_port + index - 1)
        children.append(subprocess.Popen([sys.executable, "-m", "carbonledger", "ingest"], env=env))
    stopping = threading.Event()

    def forward(signum: int, _frame: object) -> None:
        stopping.set()
        for child in children:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = [child.wait() for child in children]
    return 0 if stopping.is_set() or not any(codes) else 1
