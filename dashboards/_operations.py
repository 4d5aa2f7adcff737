"""Platform operations from the database: ingest rate and latency, aggregator backlog, storage.

``reading_changes`` has one row per series per committed batch (migration 0004), so rates and
commit latency come from it without scanning ``readings``.
"""

from __future__ import annotations

from dashboards._model import Dashboard, stat, table, timeseries

_RATE = timeseries(
    "Ingest rate",
    """
        SELECT $__timeGroupAlias(c.committed_at, $__interval),
               sum(c.readings) / ($__interval_ms / 1000.0) AS "readings/s"
        FROM reading_changes c
        WHERE $__timeFilter(c.committed_at)
        GROUP BY 1
        ORDER BY 1
    """,
    description="New readings committed per second (duplicates are not counted).",
    unit="short",
    min_interval="1m",
    width=12,
)

_LATENCY = timeseries(
    "Commit latency",
    """
        SELECT $__timeGroupAlias(c.committed_at, $__interval),
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM c.committed_at - c.last_time)) AS "p50",
               percentile_cont(0.99) WITHIN GROUP (
                   ORDER BY extract(epoch FROM c.committed_at - c.last_time)) AS "p99",
               max(extract(epoch FROM c.committed_at - c.last_time)) AS "max"
        FROM reading_changes c
        WHERE $__timeFilter(c.committed_at)
        GROUP BY 1
        ORDER BY 1
    """,
    description="Newest reading of a series in a batch to the batch's commit.",
    unit="s",
    min_interval="1m",
    width=12,
)

_TOTALS = stat(
    "Ingested in range",
    """
        SELECT coalesce(sum(c.readings), 0) AS "readings",
               count(DISTINCT c.txid::text) AS "transactions",
               count(DISTINCT c.meter_id) AS "meters"
        FROM reading_changes c
        WHERE $__timeFilter(c.committed_at)
    """,
    width=8,
    height=4,
)

_BACKLOG = stat(
    "Aggregator backlog",
    """
        SELECT count(*) AS "changes pending",
               coalesce(extract(epoch FROM now() - min(c.committed_at)), 0) AS "oldest (s)"
        FROM reading_changes c
        WHERE c.txid >= coalesce((SELECT min(w.txid) FROM aggregator_watermarks w), '0'::xid8)
    """,
    description="Changes at or above the lowest partition watermark: not yet in every rollup.",
    width=8,
    height=4,
)

_STORAGE = stat(
    "Storage",
    """
        SELECT pg_database_size(current_database()) AS "database",
               pg_total_relation_size('readings') AS "readings table",
               pg_total_relation_size('rollups_15m') AS "rollups"
    """,
    description="On TimescaleDB the hypertables' chunks are counted under the database only.",
    unit="bytes",
    width=8,
    height=4,
)

_WATERMARKS = table(
    "Aggregator partitions",
    """
        SELECT w.partition || '/' || w.partitions AS "partition", w.txid::text AS "watermark",
               w.updated_at AS "updated", extract(epoch FROM now() - w.updated_at) AS "age (s)"
        FROM aggregator_watermarks w
        ORDER BY w.partitions, w.partition
    """,
    description="Each aggregator partition's watermark and when it last moved.",
    width=12,
)

_FRESHNESS = timeseries(
    "Rollup freshness",
    """
        SELECT $__timeGroupAlias(r.updated_at, $__interval),
               count(*) AS "buckets rewritten",
               max(extract(epoch FROM r.updated_at - r.bucket)) AS "max bucket age (s)"
        FROM booked_rollups r
        WHERE $__timeFilter(r.updated_at)
        GROUP BY 1
        ORDER BY 1
    """,
    description="15-minute buckets the aggregator last rewrote per interval (late data rewrites).",
    min_interval="1m",
    width=12,
)

OPERATIONS = Dashboard(
    uid="carbonledger-operations",
    title="Platform operations",
    description="Ingest throughput and latency, aggregator progress and storage, from PostgreSQL.",
    time_from="now-6h",
    refresh="30s",
    panels=(_TOTALS, _BACKLOG, _STORAGE, _RATE, _LATENCY, _WATERMARKS, _FRESHNESS),
)
