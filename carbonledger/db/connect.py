"""The one mapping of "the database is away" to the platform's error, and connecting with it.

psycopg raises :class:`psycopg.OperationalError` when the server cannot be reached or drops the
connection; every stage turns that into :class:`~carbonledger.errors.DatabaseUnavailableError`
(the work can be retried) here, at the boundary, as httpx maps its transport's errors once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from carbonledger.config import Settings, require_database_url
from carbonledger.errors import DatabaseUnavailableError


@contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Raise :class:`DatabaseUnavailableError` ("``doing``: cause") for a lost database."""
    try:
        yield
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"{doing}: {exc}") from exc


def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """:func:`psycopg.connect`, with a server that cannot be reached as the platform's error."""
    with database_errors("cannot connect to the database"):
        return psycopg.connect(conninfo, **kwargs)


def command_connection(settings: Settings) -> psycopg.Connection[Any]:
    """The connection a command-line command works on: the configured database (a
    :class:`~carbonledger.errors.ConfigError` that says how to get one when none is set), in
    autocommit, so that each command opens just the transactions it writes in."""
    return connect(require_database_url(settings), autocommit=True)
