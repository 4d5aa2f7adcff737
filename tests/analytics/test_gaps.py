"""A meter silent for 7.5 hours: its delta is booked in full, and the silence counts as estimated
where the accounts read it (``booked_rollups``), so the month shows an estimated share."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import psycopg

from analytics import recompute
from carbonledger.config import AggregateSettings
from tests.helpers import register_sites

DAY = date(2026, 3, 4)
START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 2026-03-04 00:00 +08:00
GAP = timedelta(hours=7, minutes=30)


def test_a_gap_counts_as_estimated_in_booked_rollups(db_url: str) -> None:
    register_sites(db_url)
    times = [START + timedelta(minutes=15 * i) for i in range(97)]  # a whole local day
    silent = [t for t in times if START + timedelta(hours=8) < t < START + timedelta(hours=8) + GAP]
    assert len(silent) == 29  # 30 quarter hours between the readings either side of the gap
    with psycopg.connect(db_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO readings (time, meter_id, quantity, value, quality)"
            " VALUES (%s, 'a-m00', 'energy_import', %s, 'good')",
            [(t, 1000 + i * 0.5) for i, t in enumerate(times) if t not in silent],
        )
    recompute(db_url, DAY, DAY, AggregateSettings(), progress=io.StringIO())
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT sum(activity), sum(covered_ms), sum(estimated_ms) FROM booked_rollups"
            " WHERE meter_id = 'a-m00'"
        ).fetchone()
        events = conn.execute("SELECT kind, time FROM quality_events").fetchall()
    assert row is not None
    activity, covered, estimated = row
    assert activity == 48  # 96 quarter hours x 0.5 kWh: the gap's energy is real and booked
    assert covered == 24 * 3_600_000  # covered: the delta spans the gap
    assert estimated == GAP // timedelta(milliseconds=1)  # 27,000,000 ms: the spreading is a guess
    assert events == [("offline", START + timedelta(hours=8) + GAP)]
