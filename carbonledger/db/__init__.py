"""Database access shared by every service: connections, schema migrations, storage policies."""

from carbonledger.db.migrate import Migration, MigrationReport, load_migrations, migrate
from carbonledger.db.timescale import timescaledb_loadable

__all__ = ["Migration", "MigrationReport", "load_migrations", "migrate", "timescaledb_loadable"]
