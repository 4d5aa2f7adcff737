"""Sealed months' stored sums (``rollup_months``) equal the sums of their 15-minute rollups after
every kind of write into them: late readings, ``aggregate recompute``, deletes, updates, the
history writer, a write while the seal is under way, and a truncate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import psycopg
import pytest

from analytics import recompute, refresh_changes
from analytics._months import SealError, _move, seal, seal_due, sealed_before
from analytics._store import Change
from analytics.history import Series, write_history
from carbonledger.config import AggregateSettings
from carbonledger.tz import SHANGHAI
from ingest.writer import BatchWriter, Message
from launcher.cli import main
from tests.analytics.test_order_independence import _Null
from tests.helpers import ENTERPRISE_A, ENTERPRISE_B, register_sites

APRIL = date(2026, 4, 1)
CONFIG = AggregateSettings()
Sums = set[tuple[object, ...]]
_SUMMED = """
SELECT (date_trunc('month', bucket AT TIME ZONE 'Asia/Shanghai'))::date, enterprise_code,
       meter_id, quantity, sum(activity_fp), sum(covered_ms), sum(estimated_ms), count(*),
       max(bucket)
FROM rollups_15m WHERE bucket < %s GROUP BY 1, 2, 3, 4
"""
_STORED = """
SELECT month, enterprise_code, meter_id, quantity, activity_fp, covered_ms, estimated_ms,
       buckets, last_bucket
FROM rollup_months
"""


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def url(storage_db_url: str) -> Iterator[str]:
    register_sites(storage_db_url)
    yield storage_db_url


def _read(url: str, start: datetime, count: int, meter: str, *, step_s: int = 300) -> None:
    """``count`` readings of ``meter`` from ``start``, ``step_s`` apart, the register rising
    with time (a reading written late lands between its neighbours)."""
    rows = []
    for i in range(count):
        t = start + timedelta(seconds=step_s * i)
        value = (t - local("2026-03-01 00:00")).total_seconds() / 600
        rows.append((t, meter, "energy_import", value, "good", t))
    writer = BatchWriter(url)
    writer.write([Message("t", b"", rows=rows, row_indexes=list(range(len(rows))))])
    writer.close()
    # the aggregator's cycle without its watermark, which waits for every transaction on the
    # (shared) server: the same refresh of the same change
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        refresh_changes(conn, [Change(meter, "energy_import", rows[0][0], rows[-1][0])], CONFIG)


def _exact(url: str) -> Sums:
    """The stored sums, after asserting that they are the sums of the sealed months' buckets."""
    with psycopg.connect(url) as conn:
        before = datetime.combine(sealed_before(conn), datetime.min.time(), SHANGHAI)
        summed = set(conn.execute(_SUMMED, (before,)).fetchall())
        stored = set(conn.execute(_STORED).fetchall())
    assert stored == summed
    return stored


def _sql(url: str, statement: str, *params: object) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(statement, params)


def test_sealed_sums_follow_every_write(url: str) -> None:
    _read(url, local("2026-03-31 20:00"), 60, "a-m00", step_s=600)  # to 2026-04-01 05:50
    _read(url, local("2026-03-15 08:00"), 30, "b-m00")
    _read(url, local("2026-03-31 23:00"), 30, "b-m00")
    with psycopg.connect(url) as conn:
        assert seal(conn, APRIL) == date(1970, 1, 1)
        assert seal(conn, APRIL) == APRIL  # again: nothing to do
    sealed = _exact(url)
    assert {(row[0], row[2]) for row in sealed} == {
        (date(2026, 3, 1), "a-m00"),
        (date(2026, 3, 1), "b-m00"),
    }

    # late readings before and between March's ones: the buckets around them are recomputed
    _read(url, local("2026-03-31 19:05"), 12, "a-m00", step_s=600)
    late = _exact(url)
    assert late != sealed
    # a reading that starts a new March bucket before the month's first one
    _read(url, local("2026-03-15 07:40"), 1, "b-m00")
    assert _exact(url) != late

    recompute(url, date(2026, 3, 15), date(2026, 4, 1), CONFIG, progress=_Null())
    _exact(url)

    # the month's latest bucket deleted: the next latest is its last bucket
    _sql(url, "DELETE FROM rollups_15m WHERE meter_id = 'a-m00' AND bucket = %s",
         local("2026-03-31 23:45"))  # fmt: skip
    assert max(row[8] for row in _exact(url) if row[2] == "a-m00") == local("2026-03-31 23:30")
    _sql(url, "UPDATE rollups_15m SET activity_fp = activity_fp + 7, covered_ms = 1"
         " WHERE meter_id = 'a-m00' AND bucket < %s", local("2026-03-31 21:00"))  # fmt: skip
    _exact(url)
    # March 31's buckets move 6 days on, into April; the rest of March stays (and on TimescaleDB
    # every row stays in its 30-day chunk, migration 0006: a hypertable refuses an UPDATE that
    # moves a row to another chunk)
    _sql(url, "UPDATE rollups_15m SET bucket = bucket + interval '6 days'"
         " WHERE meter_id = 'b-m00' AND bucket >= %s", local("2026-03-31 00:00"))  # fmt: skip
    moved = _exact(url)  # buckets moved from March to April leave March's sums
    assert [(row[0], row[8]) for row in moved if row[2] == "b-m00"] == [
        (date(2026, 3, 1), local("2026-03-30 23:45"))
    ]
    _sql(url, "DELETE FROM rollups_15m WHERE meter_id = 'b-m00'")
    assert {row[2] for row in _exact(url)} == {"a-m00"}

    # the history writer: a delete and a COPY per local day, into a sealed month
    series = [Series("a-m00", ENTERPRISE_A, "energy_import"), Series("b-m00", ENTERPRISE_B,
              "energy_import")]  # fmt: skip
    with psycopg.connect(url) as conn:
        write_history(conn, series, date(2026, 3, 30), date(2026, 4, 2),
                      lambda s, day: [day.day * 1000 + i for i in range(96)])  # fmt: skip
    history = _exact(url)
    assert {row[7] for row in history} == {2 * 96}  # March 30 and 31 of each series

    _sql(url, "TRUNCATE rollups_15m")
    assert _exact(url) == set()


def test_a_write_while_a_seal_is_under_way_is_recomputed(url: str) -> None:
    _read(url, local("2026-03-31 20:00"), 30, "a-m00", step_s=600)
    with psycopg.connect(url) as conn:
        # a seal interrupted after its first step: March is tracked, not sealed
        conn.execute("LOCK TABLE rollups_15m IN SHARE MODE")
        _move(conn, "tracked_before", APRIL)
    _read(url, local("2026-03-31 20:05"), 6, "a-m00", step_s=600)
    with psycopg.connect(url) as conn:
        dirty = conn.execute("SELECT month, meter_id FROM rollup_months_dirty").fetchall()
        assert dirty == [(date(2026, 3, 1), "a-m00")]
        with pytest.raises(SealError):
            seal(conn, date(2026, 5, 1))  # the interrupted seal comes first
        seal(conn, APRIL)
        assert conn.execute("SELECT count(*) FROM rollup_months_dirty").fetchone() == (0,)
    assert len(_exact(url)) == 1


def test_a_snapshot_from_before_a_seal_cannot_write_into_it(url: str) -> None:
    _read(url, local("2026-03-31 22:00"), 4, "a-m00", step_s=600)
    with psycopg.connect(url) as old, psycopg.connect(url, autocommit=True) as sealer:
        old.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        old.execute("SELECT 1 FROM rollup_seal").fetchone()  # the snapshot is taken
        seal(sealer, APRIL)
        with pytest.raises(psycopg.errors.SerializationFailure):
            old.execute("DELETE FROM rollups_15m WHERE meter_id = 'a-m00'")
    _exact(url)


def test_months_are_sealed_to_a_month_start_after_a_grace() -> None:
    assert seal_due(local("2026-04-07 23:00"), 7) == date(2026, 3, 1)
    assert seal_due(local("2026-04-08 00:00"), 7) == APRIL
    with pytest.raises(SealError):
        seal(None, date(2026, 4, 2))  # type: ignore[arg-type]


def test_the_seal_command_seals_the_months_before_its_bound(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _read(url, local("2026-03-31 22:00"), 24, "a-m00", step_s=600)  # to 2026-04-01 01:50
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["aggregate", "seal", "--before", "2026-04-01"]) == 0
    with psycopg.connect(url) as conn:
        assert sealed_before(conn) == APRIL
    assert {row[0] for row in _exact(url)} == {date(2026, 3, 1)}
    assert main(["aggregate", "seal"]) == 0  # months ended a week ago and more: April too
    assert {row[0] for row in _exact(url)} == {date(2026, 3, 1), APRIL}
