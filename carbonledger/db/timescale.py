"""Detect TimescaleDB and apply its storage policies; the plain-PostgreSQL path needs none."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


def timescaledb_loadable(conn: psycopg.Connection) -> bool:
    """True when the extension is installed *and* preloaded, so CREATE EXTENSION will work."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " current_setting('shared_preload_libraries')"
    ).fetchone()
    available, preload = row if row else (False, "")
    return bool(available) and "timescaledb" in preload


def timescaledb_enabled(conn: psycopg.Connection) -> bool:
    """True when this database has the extension and readings is a hypertable."""
    row = conn.execute(
        "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL"
    ).fetchone()
    if not row or not row[0]:
        return False
    row = conn.execute(
        "SELECT count(*) FROM timescaledb_information.hypertables"
        " WHERE hypertable_name = 'readings' AND hypertable_schema = current_schema()"
    ).fetchone()
    return bool(row and row[0])


def apply_policies(conn: psycopg.Connection, compress_after: str, retention: str | None) -> None:
    """Set the compression and retention policies of ``readings`` to the configured intervals.

    Idempotent: existing policies are replaced, so changing the configuration and running
    ``carbonledger db migrate`` again is how a policy is changed.
    """
    conn.execute("SELECT remove_compression_policy('readings', if_exists => true)")
    conn.execute("SELECT add_compression_policy('readings', %s::interval)", (compress_after,))
    conn.execute("SELECT remove_retention_policy('readings', if_exists => true)")
    if retention:
        conn.execute(sql.SQL("SELECT add_retention_policy('readings', %s::interval)"), (retention,))
    log.info(
        "timescaledb policies applied",
        extra={"compress_after": compress_after, "retention": retention or "keep forever"},
    )
