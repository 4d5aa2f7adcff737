"""Data quality: meters gone silent, quality events, dead letters, coverage and ingest lag."""

from __future__ import annotations

from dashboards._model import Dashboard, stat, table, timeseries
from dashboards._sql import DISTRICT, OFFLINE_MINUTES

# Each meter's newest reading of its booked quantity at the range's end (migration 0012).
_LAST_SEEN = """
SELECT m.id, m.enterprise_code, m.carrier, e.name, e.district, l.last_reading AS last_seen
FROM meter_last_readings($__timeTo()) l
JOIN meters m ON m.id = l.meter_id JOIN enterprises e ON e.code = m.enterprise_code
WHERE e.district IN ($district)"""

_SILENT = (
    "(last_seen IS NULL OR last_seen < $__timeTo()::timestamptz"
    " - make_interval(mins => $offline_minutes))"
)

_OFFLINE_COUNT = stat(
    "Meters offline",
    f"""
        SELECT count(*) FILTER (WHERE {_SILENT}) AS "offline", count(*) AS "meters"
        FROM ({_LAST_SEEN}) AS s
    """,
    description="Meters with no reading in the last $offline_minutes minutes of the range.",
    width=6,
    height=4,
)

_OFFLINE_TABLE = table(
    "Offline meters",
    f"""
        SELECT s.name AS "enterprise", s.enterprise_code AS "code", s.district AS "district",
               s.id AS "meter", s.carrier AS "carrier", s.last_seen AS "last reading",
               extract(epoch FROM $__timeTo()::timestamptz - s.last_seen) AS "silent"
        FROM ({_LAST_SEEN}) AS s
        WHERE {_SILENT}
        ORDER BY s.last_seen NULLS FIRST, s.id
    """,
    unit="s",
    width=18,
)

_EVENTS_SERIES = timeseries(
    "Quality events",
    """
        SELECT $__timeGroupAlias(q.time, $__interval), q.kind AS metric, count(*) AS "events"
        FROM quality_events q JOIN enterprises e ON e.code = q.enterprise_code
        WHERE $__timeFilter(q.time) AND e.district IN ($district)
        GROUP BY 1, 2
        ORDER BY 1
    """,
    min_interval="15m",
    stacked=True,
    width=12,
)

_EVENTS_TABLE = table(
    "Latest quality events",
    """
        SELECT q.time AS "time", e.name AS "enterprise", q.meter_id AS "meter",
               q.kind AS "kind", q.amount AS "amount", q.detail AS "detail"
        FROM quality_events q JOIN enterprises e ON e.code = q.enterprise_code
        WHERE $__timeFilter(q.time) AND e.district IN ($district)
        ORDER BY q.time DESC, q.meter_id
        LIMIT 200
    """,
    width=12,
)

_DEAD_LETTERS = timeseries(
    "Dead letters",
    """
        SELECT $__timeGroupAlias(d.received_at, $__interval), count(*) AS "messages",
               coalesce(sum(d.rejected_readings), 0) AS "readings rejected"
        FROM dead_letters d
        WHERE $__timeFilter(d.received_at)
        GROUP BY 1
        ORDER BY 1
    """,
    description="Messages ingest could not store whole (whole-message failures count no readings).",
    min_interval="1m",
    width=12,
)

_DEAD_LETTER_REASONS = table(
    "Dead letters by topic and reason",
    """
        SELECT d.topic AS "topic", left(d.reason, 120) AS "reason", count(*) AS "messages",
               coalesce(sum(d.rejected_readings), 0) AS "readings rejected",
               max(d.received_at) AS "last"
        FROM dead_letters d
        WHERE $__timeFilter(d.received_at)
        GROUP BY 1, 2
        ORDER BY 3 DESC, 1, 2
        LIMIT 100
    """,
    width=12,
)

_COVERAGE = table(
    "Coverage by enterprise",
    """
        SELECT e.name AS "enterprise", e.district AS "district",
               sum(r.covered_ms)::numeric / (900000 * count(*)) AS "covered",
               sum(r.estimated_ms)::numeric / (900000 * count(*)) AS "estimated",
               sum(r.readings_bad) AS "bad readings"
        FROM booked_rollups r JOIN enterprises e ON e.code = r.enterprise_code
        WHERE $__timeFilter(r.bucket) AND e.district IN ($district)
        GROUP BY e.code
        ORDER BY 3, 1
    """,
    description="Share of meter-buckets in the range covered by readings, and estimated.",
    unit="percentunit",
    width=12,
)

_INGEST_LAG = timeseries(
    "Ingest lag",
    """
        SELECT $__timeGroupAlias(x.time, $__interval),
               avg(extract(epoch FROM x.received_at - x.time)) AS "mean",
               max(extract(epoch FROM x.received_at - x.time)) AS "max"
        FROM readings x
        WHERE $__timeFilter(x.time)
        GROUP BY 1
        ORDER BY 1
    """,
    description="Reading time to ingest's receipt (gateway buffering, network, broker queue).",
    unit="s",
    min_interval="1m",
    width=12,
)

QUALITY = Dashboard(
    uid="carbonledger-quality",
    title="Data quality",
    description="Is every meter reporting, and is what it reports usable?",
    variables=(DISTRICT, OFFLINE_MINUTES),
    time_from="now-24h",
    panels=(
        _OFFLINE_COUNT,
        _OFFLINE_TABLE,
        _EVENTS_SERIES,
        _EVENTS_TABLE,
        _DEAD_LETTERS,
        _DEAD_LETTER_REASONS,
        _COVERAGE,
        _INGEST_LAG,
    ),
)
