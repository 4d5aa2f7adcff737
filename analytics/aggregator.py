"""The streaming aggregator: follows ``reading_changes`` by transaction id and refreshes rollups.

Watermark algorithm (per partition ``i/N``, stored in ``aggregator_watermarks``):

1. Open a REPEATABLE READ transaction and take its horizon X: the lowest transaction id of the
   snapshot's running ones (``pg_snapshot_xip``) that may write this database, or the
   snapshot's ``xmax`` if none. Every transaction below X has finished or is held by a backend
   of another database (``pg_stat_activity``: its ``backend_xid`` and database, read together),
   which cannot write this database's change rows; so every committed change row with
   ``txid < X`` is visible in this snapshot and no new one can appear later. A running id whose
   backend is not found (it ended since the snapshot, or a prepared transaction) is kept: its
   rows, if any, are not in this snapshot. The snapshot's ``xmin`` would be held by any writer
   on the server (a neighbour's bulk load), not only by this database's.
2. Take this partition's change rows with ``W <= txid < X`` (W: the stored watermark), at most
   ``max_changes`` of them, cut at a transaction boundary.
3. Recompute the buckets they touch from the raw readings (same snapshot), replace the rollups,
   and store the new watermark, all in the same transaction: a crash before commit redoes the
   work, a commit records both. Recomputing a window is idempotent, so seeing a row twice, or a
   reading newer than its change row, changes nothing.

Partitions are ``hashtextextended(enterprise_code, 0) mod N``: a series belongs to exactly one
partition, so N processes never write the same bucket. A session advisory lock per partition
keeps two processes off the same one.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from analytics._refresh import RefreshStats, refresh_changes
from analytics._store import Change, MeterCache
from carbonledger.config import AggregateSettings
from carbonledger.db import READINGS_CHANNEL
from carbonledger.db.connect import connect
from carbonledger.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

_LOCK_BASE = 0x61_67_67_00  # "agg\0" + partition number
_PART = "(hashtextextended(enterprise_code, 0) %% %(n)s + %(n)s) %% %(n)s = %(i)s"
_WATERMARK = """
INSERT INTO aggregator_watermarks (partitions, partition, txid) VALUES (%s, %s, '0')
ON CONFLICT DO NOTHING
"""
_CUTOFF = f"""
SELECT txid FROM reading_changes
WHERE txid >= %(w)s AND txid < %(x)s AND {_PART}
ORDER BY txid OFFSET %(limit)s LIMIT 1
"""
_CHANGES = f"""
SELECT meter_id, quantity, min(first_time), max(last_time), min(committed_at), sum(readings)
FROM reading_changes
WHERE txid >= %(w)s AND txid < %(c)s AND {_PART}
GROUP BY meter_id, quantity
"""
# the horizon (module docstring, step 1): the first statement, so it fixes the snapshot
_HORIZON = """
SELECT coalesce((
    SELECT min(x) FROM pg_snapshot_xip(s) AS x WHERE NOT EXISTS (
        SELECT 1 FROM pg_stat_activity a
        WHERE a.backend_xid = xid(x) AND a.datid IS NOT NULL
          AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))
), pg_snapshot_xmax(s))
FROM (SELECT pg_current_snapshot() AS s) AS snap
"""
_PENDING = f"SELECT min(committed_at) FROM reading_changes WHERE txid >= %(w)s AND {_PART}"


@dataclass(frozen=True)
class Partition:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``"i/N"`` with 0 <= i < N."""
        left, _, right = text.partition("/")
        try:
            index, count = int(left), int(right)
        except ValueError:
            raise ValueError(f"partition {text!r} is not i/N") from None
        if not 0 <= index < count:
            raise ValueError(f"partition {text!r}: need 0 <= i < N")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class AggregatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r, p = self.registry, "carbonledger_aggregate_"
        self.cycles = Counter(f"{p}cycles", "refresh cycles run", registry=r)
        self.changes = Counter(f"{p}changes", "reading_changes rows processed", registry=r)
        self.readings = Counter(f"{p}readings_loaded", "readings read to recompute", registry=r)
        self.buckets = Counter(f"{p}buckets_updated", "15-minute buckets rewritten", registry=r)
        self.events = Counter(f"{p}quality_events", "data-quality events written", registry=r)
        self.lag = Gauge(
            f"{p}lag_seconds",
            "age of the oldest change not yet reflected (0: caught up)",
            registry=r,
        )
        self.freshness = Histogram(
            f"{p}freshness_seconds",
            "reading committed -> its rollup committed",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )


@dataclass(frozen=True)
class CycleResult:
    changes: int
    stats: RefreshStats
    more: bool  # rows left behind (limit, or above the snapshot's xmin)


class Aggregator:
    """One partition's follower; :meth:`run` loops until ``stop`` is set."""

    def __init__(
        self,
        conninfo: str,
        settings: AggregateSettings,
        partition: Partition = Partition(),
        metrics: AggregatorMetrics | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.settings = settings
        self.partition = partition
        self.metrics = metrics or AggregatorMetrics()
        self.ready = threading.Event()
        self.meters = MeterCache(settings)

    def _connect(self, **kwargs: object) -> psycopg.Connection:
        name = f"carbonledger-aggregate-{self.partition}"
        return connect(self.conninfo, application_name=name, **kwargs)

    def run(self, stop: threading.Event) -> None:
        """Follow changes until ``stop``, reconnecting while the database is away.

        Nothing is lost by a lost connection: the watermark moves only with the rollups.
        """
        while not stop.is_set():
            try:
                self._follow(stop)
            except (DatabaseUnavailableError, psycopg.OperationalError) as exc:
                self.ready.clear()
                log.warning("database unavailable; retrying in 2 s", extra={"error": str(exc)})
                stop.wait(2.0)

    def _follow(self, stop: threading.Event) -> None:
        """NOTIFY wakes the loop, ``poll_s`` is the fallback."""
        with self._connect(autocommit=True) as listener, self._connect() as conn:
            self._lock(listener)
            listener.execute(f"LISTEN {READINGS_CHANNEL}")
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            self.ready.set()
            log.info(
                "aggregator following reading_changes", extra={"partition": str(self.partition)}
            )
            while not stop.is_set():
                result = self.cycle(conn)
                if result.more:
                    stop.wait(0.02)  # a transaction below us is finishing: look again soon
                    continue
                for _ in listener.notifies(timeout=self.settings.poll_s, stop_after=1):
                    pass

    def _lock(self, conn: psycopg.Connection) -> None:
        key = _LOCK_BASE + self.partition.count * 1000 + self.partition.index
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not row or not row[0]:
            raise DatabaseUnavailableError(
                f"another aggregator holds partition {self.partition}; stop it first"
            )

    def cycle(self, conn: psycopg.Connection) -> CycleResult:
        """One transaction: changes below the horizon -> rollups + new watermark."""
        began = time.time()
        part = {"i": self.partition.index, "n": self.partition.count}
        with conn.transaction():
            row = conn.execute(_HORIZON).fetchone()
            assert row is not None  # noqa: S101 - a SELECT of one value returns one row
            xmin = row[0]
            watermark = self._watermark(conn)
            args = {"w": watermark, "x": xmin, "limit": self.settings.max_changes, **part}
            cut = conn.execute(_CUTOFF, args).fetchone()
            cutoff = xmin if cut is None or cut[0] == watermark else cut[0]
            rows = conn.execute(_CHANGES, {**args, "c": cutoff}).fetchall()
            changes = [Change(m, q, f, last) for m, q, f, last, _, _ in rows]
            stats = refresh_changes(conn, changes, self.settings, self.meters)
            conn.execute(
                "UPDATE aggregator_watermarks SET txid = %s, updated_at = now()"
                " WHERE partitions = %s AND partition = %s",
                (cutoff, self.partition.count, self.partition.index),
            )
            pending = conn.execute(_PENDING, {"w": cutoff, **part}).fetchone()
        oldest_pending = pending[0] if pending else None
        more = oldest_pending is not None
        self._observe(rows, stats, oldest_pending, began)
        return CycleResult(len(rows), stats, more)

    def _watermark(self, conn: psycopg.Connection) -> object:
        conn.execute(_WATERMARK, (self.partition.count, self.partition.index))
        row = conn.execute(
            "SELECT txid FROM aggregator_watermarks WHERE partitions = %s AND partition = %s",
            (self.partition.count, self.partition.index),
        ).fetchone()
        assert row is not None  # noqa: S101 - inserted just above
        return row[0]

    def _observe(
        self,
        rows: list[tuple[object, ...]],
        stats: RefreshStats,
        oldest_pending: datetime | None,
        began: float,
    ) -> None:
        m = self.metrics
        m.cycles.inc()
        now = time.time()
        if rows:
            m.changes.inc(len(rows))
            m.readings.inc(stats.readings)
            m.buckets.inc(stats.buckets)
            m.events.inc(stats.events)
            oldest = min(r[4].timestamp() for r in rows)  # type: ignore[attr-defined]
            m.freshness.observe(max(0.0, now - oldest))
            log.info(
                "rollups refreshed",
                extra={"partition": str(self.partition), "changes": len(rows),
                       "buckets": stats.buckets, "readings": stats.readings,
                       "lag_s": round(now - oldest, 3), "seconds": round(now - began, 3)},
            )  # fmt: skip
        lag = 0.0 if oldest_pending is None else max(0.0, now - oldest_pending.timestamp())
        m.lag.set(lag)
