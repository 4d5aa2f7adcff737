"""Stuck registers, judged from the 15-minute buckets rather than from readings.

"Unchanged for ``stuck_after_s``" depends on a run of readings of any length, so judged on readings
a late reading could move an event far outside the window it touched. On buckets it is local: a
bucket is *flat* when it is covered by intervals and booked nothing; a stuck event sits at the
bucket that completes k = ceil(stuck_after_s / 15 min) flat buckets in a row (and whose k-th
predecessor is not flat). That depends only on k + 1 buckets, so refreshing buckets [lo, hi)
rewrites exactly the stuck events in [lo, hi + k buckets), and streaming equals recompute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import psycopg

from analytics._series import BUCKET_MS, Kind, MeterParams, Window
from carbonledger.config import AggregateSettings

_TS = "('epoch'::timestamptz + {} * interval '1 millisecond')"
_WINDOWS = (
    "unnest(%b::int[], %b::text[], %b::text[], %b::bigint[], %b::bigint[])"
    " AS w(n, meter_id, quantity, lo, hi)"
)
_FLAT = f"""
SELECT w.n, floor(extract(epoch FROM r.bucket) * 1000)::bigint
FROM {_WINDOWS}
JOIN rollups_15m r ON r.meter_id = w.meter_id AND r.quantity = w.quantity
     AND r.bucket >= {_TS.format("w.lo")} AND r.bucket < {_TS.format("w.hi")}
     AND r.activity_fp = 0 AND r.covered_ms > 0
"""
_DELETE = f"""
DELETE FROM quality_events t USING {_WINDOWS}
WHERE t.meter_id = w.meter_id AND t.quantity = w.quantity AND t.kind = 'stuck'
  AND t.time >= {_TS.format("w.lo")} AND t.time < {_TS.format("w.hi")}
"""
_INSERT = """
INSERT INTO quality_events (meter_id, quantity, kind, time, enterprise_code, amount, detail)
SELECT m, q, 'stuck', 'epoch'::timestamptz + t * interval '1 millisecond', c, %s, %s
FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[]) AS x(m, q, t, c)
ON CONFLICT (meter_id, quantity, kind, time) DO UPDATE SET amount = excluded.amount
"""


def stuck_buckets(flat: set[int], lo: int, hi: int, k: int) -> list[int]:
    """Buckets b in [lo, hi) where b and the k - 1 before it are flat and the k-th is not."""
    return [
        b
        for b in range(lo, hi, BUCKET_MS)
        if b - k * BUCKET_MS not in flat and all(b - i * BUCKET_MS in flat for i in range(k))
    ]


def refresh(
    conn: psycopg.Connection,
    windows: Sequence[Window],
    meters: Mapping[str, MeterParams],
    settings: AggregateSettings,
) -> int:
    """Rewrite the stuck events the windows' buckets decide (after their rollups are written)."""
    group = [w for w in windows if w.kind is Kind.CUMULATIVE]
    if not group:
        return 0
    k = -(-settings.stuck_after_s * 1000 // BUCKET_MS)
    span = k * BUCKET_MS
    keys = (
        list(range(len(group))),
        [w.meter_id for w in group],
        [w.quantity for w in group],
        [w.lo_ms - span for w in group],
        [w.hi_ms + span for w in group],
    )
    flat: list[set[int]] = [set() for _ in group]
    for n, bucket in conn.execute(_FLAT, keys):
        flat[n].add(bucket)
    found = [
        (w.meter_id, w.quantity, b, meters[w.meter_id].enterprise_code)
        for w, f in zip(group, flat, strict=True)
        for b in stuck_buckets(f, w.lo_ms, w.hi_ms + span, k)
    ]
    conn.execute(_DELETE, (*keys[:3], [w.lo_ms for w in group], keys[4]))
    if found:
        seconds = Decimal(span // 1000)
        columns = [list(c) for c in zip(*found, strict=True)]
        conn.execute(_INSERT, (seconds, f"stuck: no movement for {seconds} s", *columns))
    return len(found)
