"""``carbonledger aggregate`` follows new readings into rollups; ``recompute`` rebuilds them."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime
from typing import Any

from carbonledger.config import Settings, require_database_url
from carbonledger.db.connect import connect
from carbonledger.errors import ConfigError
from carbonledger.metrics import serve_metrics
from carbonledger.signals import stop_on_signals
from carbonledger.tz import SHANGHAI

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "aggregate",
        help="keep 15-minute/hour/day/month rollups up to date as readings arrive",
        description="Follow reading_changes and refresh the rollups they touch (Ctrl-C stops).",
    )
    parser.add_argument(
        "--partition",
        default="0/1",
        metavar="I/N",
        help="take the enterprises whose code hashes to I modulo N (default 0/1: all)",
    )
    parser.set_defaults(func=_run)
    sub = parser.add_subparsers(dest="aggregate_command", metavar="SUBCOMMAND")
    rebuild = sub.add_parser(
        "recompute",
        help="rebuild rollups of a date range from raw readings",
        description="Rebuild rollups and quality events of local (Asia/Shanghai) days "
        "FROM..TO inclusive from raw readings; the result equals what streaming produces.",
    )
    rebuild.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    rebuild.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    rebuild.add_argument("--enterprise", metavar="CODE", default=None)
    rebuild.set_defaults(func=_recompute)
    sealer = sub.add_parser(
        "seal",
        help="store the month sums of past months (what the ledger reads for them)",
        description="Store the sums of every local month before --before (default: the months "
        "that ended more than --grace-days ago); later writes into them keep the sums exact.",
    )
    sealer.add_argument("--before", type=date.fromisoformat, default=None, metavar="YYYY-MM-01")
    sealer.add_argument("--grace-days", type=int, default=7, metavar="DAYS")
    sealer.set_defaults(func=_seal)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.aggregator import Aggregator, Partition  # noqa: PLC0415 - numba loads lazily

    try:
        partition = Partition.parse(args.partition)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    stop = stop_on_signals()
    aggregator = Aggregator(require_database_url(settings), settings.aggregate, partition)
    serve_metrics(
        aggregator.metrics.registry, settings.aggregate.metrics_port, settings.metrics_host
    )
    aggregator.run(stop)
    log.info("aggregator stopped", extra={"partition": str(partition)})
    return 0


def _seal(args: argparse.Namespace, settings: Settings) -> int:
    from analytics._months import seal, seal_due  # noqa: PLC0415 - numba loads lazily

    before = args.before or seal_due(datetime.now(SHANGHAI), args.grace_days)
    with connect(require_database_url(settings), application_name="carbonledger-seal") as conn:
        previous = seal(conn, before)
    log.info("months sealed", extra={"from": str(previous), "before": str(before)})
    return 0


def _recompute(args: argparse.Namespace, settings: Settings) -> int:
    from analytics._refresh import recompute  # noqa: PLC0415 - numba loads lazily

    if args.last < args.first:
        raise ConfigError("--to is before --from")
    stats = recompute(
        require_database_url(settings),
        args.first,
        args.last,
        settings.aggregate,
        enterprise=args.enterprise,
        progress=sys.stderr,
    )
    log.info(
        "recompute done",
        extra={"buckets": stats.buckets, "readings": stats.readings, "events": stats.events},
    )
    return 0
