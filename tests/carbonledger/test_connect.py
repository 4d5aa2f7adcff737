"""The connection every command line opens: configured, autocommit, the platform's errors."""

from __future__ import annotations

import pytest

from carbonledger.config import load_settings
from carbonledger.db.connect import command_connection
from carbonledger.errors import ConfigError, DatabaseUnavailableError
from launcher.embedded import free_port


def test_command_connection_is_autocommit_on_the_configured_database(db_url: str) -> None:
    with command_connection(load_settings(database_url=db_url)) as conn:
        assert conn.autocommit
        conn.execute("CREATE TABLE command_connection_probe (x int)")
        conn.rollback()  # autocommit: the table is there already, nothing to roll back
        assert conn.execute("SELECT to_regclass('command_connection_probe')").fetchone() == (
            "command_connection_probe",
        )


def test_command_connection_without_a_database_says_how_to_get_one() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL is not set"):
        command_connection(load_settings(database_url=None))


def test_command_connection_to_a_server_away_is_the_platforms_error() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/x?connect_timeout=2"
    with pytest.raises(DatabaseUnavailableError, match="cannot connect to the database"):
        command_connection(load_settings(database_url=url))
