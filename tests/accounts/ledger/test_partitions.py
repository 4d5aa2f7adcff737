"""Several ``accounts run`` processes split the enterprises; a killed one's share is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest

from accounts.ledger._partitions import Partitions
from tests.helpers import wait_for

COUNT = 4
_HELD = """
SELECT l.pid, count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted
  AND l.classid = 0 AND l.objsubid = 1 AND l.objid = ANY(%s)
GROUP BY l.pid
"""


def _held(url: str) -> dict[int, int]:
    """Partitions held per database session."""
    keys = [Partitions(COUNT).key(i) for i in range(COUNT)]
    with psycopg.connect(url, autocommit=True) as conn:
        return {pid: n for pid, n in conn.execute(_HELD, (keys,)).fetchall()}


def _live_accounts(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM account_periods WHERE status = 'live'").fetchone()
        return row[0] if row else 0


def _grades(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM grades").fetchone()
        return row[0] if row else 0


@pytest.fixture
def processes(conn: psycopg.Connection, db_url: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two ``accounts run`` processes with four partitions (the three reference enterprises).

    An aggregator watermark exists, so without change rows a process writes nothing again.
    """
    conn.execute(
        "INSERT INTO aggregator_watermarks (partitions, partition, txid)"
        " VALUES (1, 0, pg_current_xact_id())"
    )
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CARBONLEDGER_ACCOUNTS__PARTITIONS": str(COUNT),
        "CARBONLEDGER_ACCOUNTS__REFRESH_S": "0.2",
        "CARBONLEDGER_ACCOUNTS__METRICS_PORT": "0",
    }
    command = [sys.executable, "-m", "launcher", "accounts", "run"]
    started = [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(2)]
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def _writes(url: str) -> tuple[object, ...]:
    """What changes whenever an account or a grade is written (an upsert gives a new xmin)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT max(xmin::text::bigint) FROM grades),"
            " (SELECT max(xmin::text::bigint) FROM account_periods)"
        ).fetchone()
        return tuple(row) if row else ()


def _settled(url: str, quiet_s: float = 1.0) -> bool:
    """No account or grade written for ``quiet_s``: the start-up cycles (and the regrade a
    process makes after waiting for another's) are over."""
    before = _writes(url)
    time.sleep(quiet_s)
    return _writes(url) == before


def _clear(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM grades")
        conn.execute("DELETE FROM account_periods")


def test_processes_split_the_partitions_and_take_over_a_dead_ones_share(
    processes: list[subprocess.Popen[bytes]], db_url: str
) -> None:
    assert wait_for(lambda: sorted(_held(db_url).values()) == [2, 2], timeout=60), _held(db_url)
    # every enterprise's three live accounts, each written by the process of its partition,
    # and grades over all of them (two models)
    assert wait_for(lambda: _live_accounts(db_url) == 9 and _grades(db_url) == 18, timeout=60)
    assert wait_for(lambda: _settled(db_url), timeout=60)
    before = _held(db_url)
    _clear(db_url)
    time.sleep(1.0)  # five cycles each: nothing changed, so nothing is written again
    assert (_live_accounts(db_url), _grades(db_url)) == (0, 0)
    processes[0].send_signal(signal.SIGKILL)
    processes[0].wait(10)
    # the survivor's session is the one left; it takes the dead process's two partitions and
    # refreshes every enterprise of its new set, graded together
    assert wait_for(lambda: list(_held(db_url).values()) == [COUNT], timeout=60), _held(db_url)
    assert set(_held(db_url)) < set(before)
    assert wait_for(lambda: _live_accounts(db_url) == 9 and _grades(db_url) == 18, timeout=60)
