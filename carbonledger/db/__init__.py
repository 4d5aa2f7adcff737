"""Database access shared by every service: connections, schema migrations, storage policies."""

from carbonledger.db.migrate import Migration, MigrationReport, load_migrations, migrate
from carbonledger.db.timescale import timescaledb_loadable

READINGS_CHANNEL = "carbonledger_readings"
"""NOTIFY channel of committed readings: ingest notifies per batch, the aggregator listens."""

__all__ = [
    "READINGS_CHANNEL",
    "Migration",
    "MigrationReport",
    "load_migrations",
    "migrate",
    "timescaledb_loadable",
]
