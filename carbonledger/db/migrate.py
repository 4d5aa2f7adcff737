"""Ordered, transactional, recorded schema migrations.

Migrations are the numbered ``migrations/NNNN_name.sql`` files shipped with the package. Each one
runs in its own transaction and is recorded in ``schema_migrations`` with a checksum, under an
advisory lock so two processes starting together do not race. Running ``migrate`` again applies
nothing new. A file whose first line is ``-- requires: timescaledb`` is applied only when the
TimescaleDB path is on; where it is off the file stays pending, so installing the extension later
and migrating again converts the existing tables.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

import psycopg

from carbonledger.db.connect import connect
from carbonledger.db.timescale import apply_policies, timescaledb_loadable
from carbonledger.errors import MigrationError

log = logging.getLogger(__name__)

_LOCK_KEY = 0x63_61_72_62  # "carb": one advisory lock for all migrators of a database
_REQUIRES_TIMESCALEDB = "-- requires: timescaledb"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def needs_timescaledb(self) -> bool:
        return self.sql.startswith(_REQUIRES_TIMESCALEDB)


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    pending_without_timescaledb: list[str] = field(default_factory=list)
    timescaledb: bool = False


def load_migrations() -> list[Migration]:
    """The packaged migrations, in version order."""
    folder = resources.files("carbonledger.db") / "migrations"
    migrations = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        migrations.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {versions}")
    return migrations


def migrate(
    conninfo: str,
    timescaledb: Literal["auto", "on", "off"] = "auto",
    compress_after: str = "7 days",
    retention: str | None = None,
) -> MigrationReport:
    """Bring the database at ``conninfo`` to the current schema; safe to run any number of times."""
    conn = connect(conninfo, autocommit=True)
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            return _migrate_locked(conn, timescaledb, compress_after, retention)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _migrate_locked(
    conn: psycopg.Connection,
    timescaledb: Literal["auto", "on", "off"],
    compress_after: str,
    retention: str | None,
) -> MigrationReport:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")}
    migrations = load_migrations()
    known = {m.version for m in migrations}
    if unknown := sorted(set(applied) - known):
        raise MigrationError(f"database has migrations {unknown} that this version does not know")

    use_timescaledb = _resolve_timescaledb(conn, timescaledb)
    report = MigrationReport(timescaledb=use_timescaledb)
    for migration in migrations:
        label = f"{migration.version:04d}_{migration.name}"
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(f"migration {label} was changed after it was applied")
            continue
        if migration.needs_timescaledb and not use_timescaledb:
            report.pending_without_timescaledb.append(label)
            continue
        try:
            with conn.transaction():
                if migration.needs_timescaledb:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"migration {label} failed: {exc}") from exc
        log.info("migration applied", extra={"migration": label})
        report.applied.append(label)
    if use_timescaledb:
        with conn.transaction():
            apply_policies(conn, compress_after, retention)
    return report


def _resolve_timescaledb(conn: psycopg.Connection, mode: Literal["auto", "on", "off"]) -> bool:
    if mode == "off":
        return False
    loadable = timescaledb_loadable(conn)
    if mode == "on" and not loadable:
        raise MigrationError(
            "CARBONLEDGER_TIMESCALEDB=on but the server cannot load the timescaledb extension"
            " (install it and add it to shared_preload_libraries)"
        )
    return loadable
