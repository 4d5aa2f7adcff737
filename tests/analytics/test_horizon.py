"""The aggregator's horizon: a writing transaction holds the watermark only in its own database.

A transaction that holds an id in another database of the server (a neighbour's bulk load)
cannot write this database's change rows, so the aggregator books the changes committed after
it; one in this database may still write change rows below them, so it holds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest

from analytics import Aggregator, Partition
from carbonledger.config import AggregateSettings
from ingest.writer import BatchWriter, Message
from tests.accounts.ledger.helpers import PARTS, register
from tests.helpers import admin_connection

T0 = datetime.fromisoformat("2026-11-20T09:00:00+08:00")


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        register(conn, [PARTS])
    yield db_url


def _write(url: str) -> None:
    """Eight readings of prt-el1 15 s apart: one change row, one bucket."""
    rows = [
        (T0 + timedelta(seconds=15 * i), "prt-el1", "energy_import", 100.0 + i, "good", T0)
        for i in range(8)
    ]
    writer = BatchWriter(url)
    writer.write([Message("t", b"", rows=rows, row_indexes=list(range(len(rows))))])
    writer.close()


def _booked(url: str) -> tuple[int, bool, int]:
    """One aggregator cycle: (changes taken, more left, buckets in the rollups)."""
    aggregator = Aggregator(url, AggregateSettings(), Partition())
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        result = aggregator.cycle(conn)
        row = conn.execute("SELECT count(*) FROM rollups_15m").fetchone()
    assert row is not None
    return result.changes, result.more, row[0]


def _holding(conn: psycopg.Connection) -> None:
    """An open transaction with an id, as a writer has from its first write."""
    conn.execute("SELECT pg_current_xact_id()")


def test_a_writer_in_another_database_does_not_hold_the_watermark(url: str) -> None:
    with admin_connection() as other:  # the server's maintenance database
        other.autocommit = False
        _holding(other)
        _write(url)
        assert _booked(url) == (1, False, 1)
        other.rollback()


def test_a_writer_in_the_same_database_holds_the_watermark(url: str) -> None:
    with psycopg.connect(url) as same:
        _holding(same)
        _write(url)
        assert _booked(url) == (0, True, 0)  # its change rows could still come below ours
        same.rollback()
    assert _booked(url) == (1, False, 1)
