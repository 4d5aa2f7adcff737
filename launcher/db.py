"""``carbonledger db …``: schema migrations and a look at the storage path in use."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import psycopg

from accounts.ledger import load_factors
from carbonledger.config import Settings, require_database_url
from carbonledger.db.migrate import migrate
from carbonledger.db.timescale import timescaledb_enabled

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database schema")
    sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    mig = sub.add_parser("migrate", help="apply pending migrations and storage policies")
    mig.set_defaults(func=_migrate)
    status = sub.add_parser("status", help="applied migrations and the storage path")
    status.set_defaults(func=_status)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    report = migrate(
        require_database_url(settings),
        timescaledb=settings.timescaledb,
        compress_after=settings.compress_after,
        retention=settings.retention,
    )
    with psycopg.connect(require_database_url(settings)) as conn:
        loaded = load_factors(conn, settings.accounts.factor_files)
    storage = "TimescaleDB hypertable" if report.timescaledb else "plain PostgreSQL tables"
    applied = ", ".join(report.applied) or "nothing new"
    print(f"migrations applied: {applied}; storage: {storage}")  # noqa: T201
    print(f"factor library: {loaded.added} added, {loaded.unchanged} unchanged")  # noqa: T201
    if report.pending_without_timescaledb:
        pending = ", ".join(report.pending_without_timescaledb)
        print(f"waiting for TimescaleDB: {pending}")  # noqa: T201
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    with psycopg.connect(require_database_url(settings)) as conn:
        rows = conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
        for version, name, applied_at in rows:
            print(f"{version:04d}_{name}  {applied_at:%Y-%m-%d %H:%M:%S%z}")  # noqa: T201
        storage = "timescaledb" if timescaledb_enabled(conn) else "plain"
        print(f"storage: {storage}")  # noqa: T201
    return 0
