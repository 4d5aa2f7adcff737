"""``readings import``: a CSV backfill goes through live ingest's validation, dedup and change log.

Live readings arrive over MQTT through the real ingest; a CSV that overlaps them is imported; the
identity rule must store a repeated reading once and turn a repeat with another value into a
conflict dead letter naming its line, and the aggregator must pick the backfill up from
``reading_changes`` so the rollups follow.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from accounts.registry import import_registry
from analytics import Aggregator
from carbonledger import wire
from carbonledger.config import AggregateSettings
from carbonledger.errors import InvalidImportError
from ingest.backfill import import_readings
from launcher.cli import main
from tests.helpers import Publisher, RunningIngest, count, make_settings, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
A = "91331181MA2CX0028R"  # the example registry's auto-parts maker, meter m-cx002-el1 (x60)
METER = "m-cx002-el1"
SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2026, 10, 1, 0, 0, tzinfo=SHANGHAI)
HEADER = "meter_id,quantity,time,value,quality\n"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def line(minutes: int, value: str, quality: str = "good") -> str:
    return f"{METER},energy_import,{at(minutes).isoformat()},{value},{quality}\n"


@pytest.fixture
def registry_url(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        import_registry(conn, EXAMPLES / "registry.toml")
    return db_url


def drain(url: str) -> None:
    aggregator = Aggregator(url, AggregateSettings())
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        while (result := aggregator.cycle(conn)).changes or result.more:
            pass


def buckets(url: str) -> dict[int, Decimal]:
    """kWh per 15-minute bucket, keyed by minutes after T0."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT bucket, activity FROM rollups_15m_activity WHERE meter_id = %s ORDER BY 1",
            (METER,),
        ).fetchall()
    return {int((b - T0).total_seconds()) // 60: a for b, a in rows}


def test_backfill_dedups_against_live_ingest_and_the_rollups_follow(
    registry_url: str, topic_root: str, tmp_path: Path
) -> None:
    live = [wire.Reading(METER, "energy_import", at(m), v) for m, v in
            ((0, 100.0), (15, 101.5), (30, 103.0))]  # fmt: skip
    settings = make_settings(registry_url, topic_root)
    publisher = Publisher()
    with RunningIngest(settings):
        publisher.publish(
            wire.readings_topic(A, "gw-cx002", topic_root), wire.encode(1, live, at(31))
        )
        publisher.close()
        assert wait_for(lambda: count(registry_url, "SELECT count(*) FROM readings") == 3)
    drain(registry_url)
    # register deltas x multiplier 60: (101.5 - 100) x 60 = 90 kWh per quarter hour
    # (the bucket of the last reading holds its count and no activity yet)
    assert buckets(registry_url) == {0: Decimal(90), 15: Decimal(90), 30: Decimal(0)}

    path = tmp_path / "backfill.csv"
    path.write_text(
        HEADER
        + line(-30, "97.0")
        + line(-15, "98.5")
        + line(0, "100.0")  # line 4: the live reading again: stored once
        + line(15, "999")  # line 5: same identity, another value: a conflict
        + line(45, "104.25", "estimated")
        + line(60, "105"),
        encoding="utf-8",
    )
    report = import_readings(registry_url, path, batch_size=4)
    assert (report.lines, report.stored, report.duplicates, report.conflict_count) == (6, 4, 2, 1)
    assert report.conflicts == [
        f"{path}:5: conflicts with the stored reading of {METER} energy_import at"
        f" {at(15).isoformat()}: stored 101.5 (good), received 999.0 (good); the stored value"
        " is kept"
    ]
    with psycopg.connect(registry_url) as conn:
        values = conn.execute(
            "SELECT time, value FROM readings WHERE meter_id = %s ORDER BY time", (METER,)
        ).fetchall()
        dead = conn.execute("SELECT topic, payload, rejected_readings FROM dead_letters").fetchall()
    assert [v for _, v in values] == [97.0, 98.5, 100.0, 101.5, 103.0, 104.25, 105.0]
    assert dead == [("import:backfill.csv:5", line(15, "999").rstrip().encode(), 1)]

    drain(registry_url)
    # (98.5 - 97) x 60 = 90 twice before midnight, the live 90s, (104.25 - 103) x 60 = 75,
    # (105 - 104.25) x 60 = 45; in all (105 - 97) x 60 = 480 kWh
    assert buckets(registry_url) == {
        -30: Decimal(90), -15: Decimal(90), 0: Decimal(90), 15: Decimal(90),
        30: Decimal(75), 45: Decimal(45), 60: Decimal(0),
    }  # fmt: skip

    again = import_readings(registry_url, path)  # idempotent: nothing new, same dead letter
    assert (again.stored, again.duplicates, again.conflict_count) == (0, 6, 1)
    assert count(registry_url, "SELECT count(*) FROM dead_letters") == 1


def test_a_bad_line_stores_nothing_and_every_bad_line_is_named(
    registry_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + line(0, "100.0")
        + f"{METER},energy_import,2026-10-01T00:15:00,101,good\n"
        + f"{METER},energy_imp,{at(30).isoformat()},102,good\n"
        + f"{METER},energy_import,{at(45).isoformat()},abc,good\n"
        + f"{METER},energy_import,{at(60).isoformat()},103,ok\n"
        + f"m-nope,energy_import,{at(60).isoformat()},103,good\n"
        + f"{METER},energy_import,{at(75).isoformat()},nan,good\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidImportError) as raised:
        import_readings(registry_url, path)
    assert [p.removeprefix(f"{path}:") for p in raised.value.problems] == [
        "3: time: '2026-10-01T00:15:00' has no UTC offset (write e.g. +08:00 or Z)",
        "4: quantity: 'energy_imp' is not a known quantity",
        "5: value: 'abc' is not a number",
        "6: quality: 'ok' is not one of ['good', 'estimated', 'bad']",
        "7: meter_id: unknown meter 'm-nope' (register it with carbonledger registry import)",
        "8: value: 'nan' is not a number",
    ]
    assert str(raised.value).startswith(f"{path}: 6 problems on 6 lines; nothing was imported:")
    assert count(registry_url, "SELECT count(*) FROM readings") == 0


def test_cli_backfills_the_example_with_a_progress_line(
    registry_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", registry_url)
    assert main(["readings", "import", str(EXAMPLES / "readings.csv"), "--batch-size", "4"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == (
        f"{EXAMPLES / 'readings.csv'}: 9 readings: 9 stored, 0 already stored,"
        " 0 conflicting with stored readings (dead letters)"
    )
    progress = captured.err.splitlines()
    assert progress[-1].startswith("readings import 9/9 (100%) 9 stored, 0 conflicts")
    # batches of 4 rows: [el1 x4], [el1, gas1 x2, cx002-el1], [cx002-el1]: 1 + 3 + 1 series
    assert count(registry_url, "SELECT count(*) FROM reading_changes") == 5
