"""SQL of the analytics: plan windows around changes, load their readings, write rollups.

Times cross the boundary as integer milliseconds since the epoch (``'epoch' + ms * 1 ms`` on the
way in, ``floor(extract(epoch ...) * 1000)`` on the way out), never as floats, so a bucket edge is
exact on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg

from analytics._series import (
    BUCKET_MS,
    CEMS_INPUTS,
    EventRow,
    Kind,
    MeterParams,
    RollupRow,
    Window,
    floor_bucket,
    rolled_up,
)
from carbonledger.config import AggregateSettings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = "floor(extract(epoch FROM {}) * 1000)::bigint"
_TS = "('epoch'::timestamptz + {} * interval '1 millisecond')"


def to_ms(value: datetime) -> int:
    return (value - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


@dataclass(frozen=True)
class Change:
    """Readings of one stored series were added between ``first_ms`` and ``last_ms``."""

    meter_id: str
    quantity: str
    first_ms: int
    last_ms: int


_NEIGHBOURS = f"""
SELECT w.n,
  (SELECT {_MS.format("r.time")} FROM readings r WHERE r.meter_id = w.meter_id
     AND r.quantity = w.quantity AND r.time < {_TS.format("w.f")} AND r.quality <> 'bad'
     ORDER BY r.time DESC LIMIT 1),
  (SELECT {_MS.format("r.time")} FROM readings r WHERE r.meter_id = w.meter_id
     AND r.quantity = w.quantity AND r.time > {_TS.format("w.l")} AND r.quality <> 'bad'
     ORDER BY r.time LIMIT 1)
FROM unnest(%s::int[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
     AS w(n, meter_id, quantity, f, l)
"""


def plan(
    conn: psycopg.Connection, changes: Iterable[Change], settings: AggregateSettings
) -> list[Window]:
    """The bucket windows that the changes touch, one per (meter, rolled-up quantity).

    A register or power series: from the bucket of the last usable reading before the first new
    one to the bucket of the first usable reading after the last (their intervals changed). CEMS:
    widened by the integration gap limit, since intervals longer than it book nothing.
    """
    spans: dict[tuple[str, str, str], tuple[Kind, int, int]] = {}
    for c in changes:
        target = rolled_up(c.quantity)
        if target is None:
            continue
        quantity, kind = target
        source = c.quantity if kind is not Kind.CEMS else ""
        key = (c.meter_id, quantity, source)
        old = spans.get(key)
        f, last = (c.first_ms, c.last_ms) if old is None else (min(old[1], c.first_ms),
                                                                max(old[2], c.last_ms))  # fmt: skip
        spans[key] = (kind, f, last)
    merged: dict[tuple[str, str], Window] = {}
    keys = [key for key, span in spans.items() if span[0] is not Kind.CEMS]
    rows = _neighbours(conn, keys, spans)
    gap = settings.instantaneous_max_gap_s * 1000
    for key, (kind, f, last) in spans.items():
        a, b = rows.get(key, (f, last)) if kind is not Kind.CEMS else (f - gap, last + gap)
        lo, hi = floor_bucket(a), floor_bucket(b) + BUCKET_MS
        w = merged.get(key[:2])
        if w is None:
            merged[key[:2]] = Window(key[0], key[1], kind, lo, hi)
        else:
            w.lo_ms, w.hi_ms = min(w.lo_ms, lo), max(w.hi_ms, hi)
    return list(merged.values())


def _neighbours(
    conn: psycopg.Connection,
    keys: Sequence[tuple[str, str, str]],
    spans: Mapping[tuple[str, str, str], tuple[Kind, int, int]],
) -> dict[tuple[str, str, str], tuple[int, int]]:
    if not keys:
        return {}
    params = (
        list(range(len(keys))),
        [k[0] for k in keys],
        [k[2] for k in keys],
        [spans[k][1] for k in keys],
        [spans[k][2] for k in keys],
    )
    out = {}
    for n, before, after in conn.execute(_NEIGHBOURS, params):
        key = keys[n]
        _, f, last = spans[key]
        out[key] = (f if before is None else before, last if after is None else after)
    return out


_LOAD = f"""
SELECT w.n, x.times, x.vals, x.quals, x.recv
FROM unnest(%s::int[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
     AS w(n, meter_id, quantity, lo, hi)
CROSS JOIN LATERAL (SELECT
  coalesce((SELECT max(x.time) FROM readings x WHERE x.meter_id = w.meter_id
     AND x.quantity = w.quantity AND x.time < {_TS.format("w.lo")} AND x.quality <> 'bad'),
     {_TS.format("w.lo")}) AS a,
  coalesce((SELECT min(x.time) FROM readings x WHERE x.meter_id = w.meter_id
     AND x.quantity = w.quantity AND x.time >= {_TS.format("w.hi")} AND x.quality <> 'bad'),
     {_TS.format("w.hi")}) AS z) e
CROSS JOIN LATERAL (
  SELECT array_agg(date_part('epoch', r.time)) AS times, array_agg(r.value) AS vals,
         array_agg(CASE r.quality WHEN 'good' THEN 0 WHEN 'estimated' THEN 1 ELSE 2 END) AS quals,
         array_agg(date_part('epoch', r.received_at)) AS recv
  FROM (SELECT * FROM readings r WHERE r.meter_id = w.meter_id AND r.quantity = w.quantity
        AND r.time >= e.a AND r.time <= e.z ORDER BY r.time) r
) x
WHERE x.times IS NOT NULL
"""
_LOAD_CEMS = f"""
SELECT w.n, {_MS.format("r.time")},
  max(r.value) FILTER (WHERE r.quantity = 'co2_concentration'),
  max(r.value) FILTER (WHERE r.quantity = 'flue_gas_flow'),
  max(r.value) FILTER (WHERE r.quantity = 'flue_gas_temperature'),
  max(r.value) FILTER (WHERE r.quantity = 'flue_gas_pressure'),
  max(r.value) FILTER (WHERE r.quantity = 'flue_gas_moisture'),
  max(CASE r.quality WHEN 'bad' THEN 2 WHEN 'estimated' THEN 1 ELSE 0 END)
FROM unnest(%s::int[], %s::text[], %s::bigint[], %s::bigint[]) AS w(n, meter_id, lo, hi)
JOIN readings r ON r.meter_id = w.meter_id AND r.quantity = ANY(%s::text[])
     AND r.time >= {_TS.format("(w.lo - %s)")} AND r.time <= {_TS.format("(w.hi + %s)")}
GROUP BY w.n, r.time
ORDER BY w.n, r.time
"""


def load(conn: psycopg.Connection, windows: Sequence[Window], settings: AggregateSettings) -> None:
    """Fill each window with its readings (and the usable reading either side of it)."""
    series = [(n, w) for n, w in enumerate(windows) if w.kind is not Kind.CEMS]
    if series:
        params = (
            [n for n, _ in series],
            [w.meter_id for _, w in series],
            [w.quantity for _, w in series],
            [w.lo_ms for _, w in series],
            [w.hi_ms for _, w in series],
        )
        # one row of arrays per window: no per-reading Python objects on the hot path
        with conn.cursor(binary=True) as cur:
            for n, times, values, qualities, received in cur.execute(_LOAD, params):
                w = windows[n]
                w.times, w.values, w.qualities = _ms(times), values, qualities
                w.received = _ms(received)
    stacks = [(n, w) for n, w in enumerate(windows) if w.kind is Kind.CEMS]
    if stacks:
        gap = settings.instantaneous_max_gap_s * 1000
        params2 = (
            [n for n, _ in stacks],
            [w.meter_id for _, w in stacks],
            [w.lo_ms for _, w in stacks],
            [w.hi_ms for _, w in stacks],
            list(CEMS_INPUTS),
            gap,
            gap,
        )
        nan = float("nan")
        for n, t, *values, quality in conn.execute(_LOAD_CEMS, params2):
            w = windows[n]
            w.times.append(t)
            w.values.append(tuple(nan if v is None else v for v in values))
            w.qualities.append(quality)
            w.received.append(-1)


def _ms(seconds: list[float]) -> list[int]:
    """Epoch seconds (float8, from ``date_part``: exact to well below a millisecond) to whole ms.

    date_part is float8 arithmetic on the server, much cheaper than numeric ``extract`` per
    reading; readings are kept at millisecond resolution (nearest).
    """
    return np.rint(np.asarray(seconds, np.float64) * 1000).astype(np.int64).tolist()  # type: ignore[no-any-return]


def meters(
    conn: psycopg.Connection, ids: Iterable[str], settings: AggregateSettings
) -> dict[str, MeterParams]:
    rows = conn.execute(
        "SELECT id, enterprise_code, carrier, multiplier, register_max, max_rate"
        " FROM meters WHERE id = ANY(%s)",
        (sorted(set(ids)),),
    )
    return {
        meter_id: MeterParams.from_registry(
            enterprise_code=code,
            carrier=carrier,
            multiplier=mult,
            register_max=top,
            max_rate=rate,
            settings=settings,
        )
        for meter_id, code, carrier, mult, top, rate in rows
    }


_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS rollup_in (
    bucket timestamptz, enterprise_code text, meter_id text, quantity text,
    activity_fp bigint, covered_ms integer, estimated_ms integer,
    readings_good integer, readings_estimated integer, readings_bad integer
) ON COMMIT DELETE ROWS
"""
_COLUMNS = (
    "bucket, enterprise_code, meter_id, quantity, activity_fp, covered_ms, estimated_ms,"
    " readings_good, readings_estimated, readings_bad"
)
_TYPES = ["timestamptz", "text", "text", "text", "int8", "int4", "int4", "int4", "int4", "int4"]
_WINDOWS = f"""unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[])
     AS w(meter_id, quantity, lo, hi)
WHERE t.meter_id = w.meter_id AND t.quantity = w.quantity
  AND t.{{col}} >= {_TS.format("w.lo")} AND t.{{col}} < {_TS.format("w.hi")}"""
_UPSERT = f"""
INSERT INTO rollups_15m ({_COLUMNS}) SELECT {_COLUMNS} FROM rollup_in
ON CONFLICT (meter_id, quantity, bucket) DO UPDATE SET
    activity_fp = excluded.activity_fp, covered_ms = excluded.covered_ms,
    estimated_ms = excluded.estimated_ms, readings_good = excluded.readings_good,
    readings_estimated = excluded.readings_estimated, readings_bad = excluded.readings_bad,
    updated_at = now()
"""
_EVENTS = """
INSERT INTO quality_events (meter_id, quantity, kind, time, enterprise_code, amount, detail)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[],
                     %s::numeric[], %s::text[])
ON CONFLICT (meter_id, quantity, kind, time) DO UPDATE SET
    amount = excluded.amount, detail = excluded.detail
"""


def write(
    conn: psycopg.Connection,
    windows: Sequence[Window],
    rows: Sequence[RollupRow],
    events: Sequence[EventRow],
) -> None:
    """Replace the windows' buckets and events with ``rows`` and ``events`` (in the caller's
    transaction): the windows are recomputed as a whole, so what is not in ``rows`` is gone."""
    conn.execute(_STAGE)
    keys = (
        [w.meter_id for w in windows],
        [w.quantity for w in windows],
        [w.lo_ms for w in windows],
        [w.hi_ms for w in windows],
    )
    conn.execute("DELETE FROM rollups_15m t USING " + _WINDOWS.format(col="bucket"), keys)
    conn.execute(
        "DELETE FROM quality_events t USING "
        + _WINDOWS.format(col="time")
        + " AND kind <> 'stuck'",
        keys,
    )
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY rollup_in ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(_TYPES)
        for r in rows:
            copy.write_row((from_ms(r.bucket_ms), r.enterprise_code, r.meter_id, r.quantity,
                            r.activity_fp, r.covered_ms, r.estimated_ms, r.good, r.estimated,
                            r.bad))  # fmt: skip
    conn.execute(_UPSERT)
    if events:
        columns: list[list[object]] = [[] for _ in range(7)]
        for e in events:
            values = (e.meter_id, e.quantity, e.kind, from_ms(e.time_ms), e.enterprise_code,
                      e.amount, e.detail)  # fmt: skip
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        conn.execute(_EVENTS, tuple(columns))


def decimal_activity(activity_fp: int, scale: int) -> Decimal:
    return Decimal(activity_fp).scaleb(-scale)
