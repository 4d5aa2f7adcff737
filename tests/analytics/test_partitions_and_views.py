"""Partitions split the work without double counting; hour/day/month views follow Asia/Shanghai."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from analytics import Aggregator, Partition
from carbonledger.config import AggregateSettings
from carbonledger.tz import SHANGHAI
from ingest.writer import BatchWriter, Message
from launcher.cli import main
from tests.helpers import SITES, register_sites

CONFIG = AggregateSettings()
# 23:00 to 01:00 local on 2026-03-31/04-01: crosses a day and a month boundary at +08:00
START = datetime(2026, 3, 31, 23, 0, tzinfo=SHANGHAI)


@pytest.fixture
def loaded(storage_db_url: str) -> Iterator[str]:
    """Every meter of both sites counts 0.25 kWh per 15 s for two hours (2 kWh per 2 min)."""
    register_sites(storage_db_url)
    rows = []
    for site in SITES:
        for meter in site.meters:
            for i in range(481):
                t = START + timedelta(seconds=15 * i)
                rows.append((t, meter, "energy_import", 100 + 0.25 * i, "good", t))
    writer = BatchWriter(storage_db_url)
    for at in range(0, len(rows), 3_000):
        chunk = rows[at : at + 3_000]
        writer.write([Message("t", b"", rows=chunk, row_indexes=list(range(len(chunk))))])
    writer.close()
    yield storage_db_url


def _drain(url: str, partition: Partition) -> int:
    aggregator = Aggregator(url, CONFIG, partition)
    changes = 0
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        while (result := aggregator.cycle(conn)).changes or result.more:
            changes += result.changes
    return changes


def test_two_partitions_together_equal_one(loaded: str) -> None:
    assert _drain(loaded, Partition(0, 2)) + _drain(loaded, Partition(1, 2)) == 20
    with psycopg.connect(loaded) as conn:
        split = conn.execute("SELECT * FROM rollups_15m ORDER BY 1, 3").fetchall()
        conn.execute("TRUNCATE rollups_15m")
    assert _drain(loaded, Partition(0, 1)) == 20
    with psycopg.connect(loaded) as conn:
        whole = conn.execute("SELECT * FROM rollups_15m ORDER BY 1, 3").fetchall()
    assert [r[:-1] for r in split] == [r[:-1] for r in whole]  # all but updated_at
    assert {r[1] for r in whole} == {s.enterprise for s in SITES}


def test_day_and_month_views_start_at_local_midnight(loaded: str) -> None:
    _drain(loaded, Partition())
    with psycopg.connect(loaded) as conn:
        days = conn.execute(
            "SELECT day, sum(activity) FROM rollups_day WHERE meter_id = 'a-m00' GROUP BY 1"
            " ORDER BY 1"
        ).fetchall()
        months = conn.execute(
            "SELECT month, sum(activity) FROM rollups_month WHERE meter_id = 'a-m00' GROUP BY 1"
            " ORDER BY 1"
        ).fetchall()
        hours = conn.execute(
            "SELECT count(*), sum(activity) FROM rollups_hour WHERE meter_id = 'a-m00'"
        ).fetchone()
    # 480 intervals x 0.25 kWh = 120 kWh, half before local midnight
    assert [(d.isoformat(), v) for d, v in days] == [
        ("2026-03-31", Decimal(60)),
        ("2026-04-01", Decimal(60)),
    ]
    assert [m.isoformat() for m, _ in months] == ["2026-03-01", "2026-04-01"]
    assert hours == (3, Decimal(120))  # 23:00, 00:00 and the bucket of the 01:00 reading


def test_recompute_command_reports_progress_without_a_tty(
    loaded: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _drain(loaded, Partition())
    with psycopg.connect(loaded) as conn:
        before = conn.execute("SELECT * FROM rollups_15m ORDER BY 1, 3").fetchall()
        conn.execute("DELETE FROM rollups_15m WHERE enterprise_code = %s", (SITES[0].enterprise,))
    monkeypatch.setenv("DATABASE_URL", loaded)
    args = ["aggregate", "recompute", "--from", "2026-03-31", "--to", "2026-04-01"]
    assert main([*args, "--enterprise", SITES[0].enterprise]) == 0
    assert "recompute 2/2 (100%)" in capsys.readouterr().err
    with psycopg.connect(loaded) as conn:
        after = conn.execute("SELECT * FROM rollups_15m ORDER BY 1, 3").fetchall()
    assert [r[:-1] for r in after] == [r[:-1] for r in before]
