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
    """Readings of one stored series were added between ``first`` and ``last`` (inclusive)."""

    meter_id: str
    quantity: str
    first: datetime
    last: datetime

    @property
    def first_ms(self) -> int:
        return to_ms(self.first)

    @property
    def last_ms(self) -> int:
        return to_ms(self.last)


_FRONTIERS = """
SELECT f.meter_id, f.quantity, f.time FROM rollup_frontiers f
JOIN unnest(%b::text[], %b::text[]) AS w(meter_id, quantity) USING (meter_id, quantity)
"""
# Around a late change: the last usable reading before it, the first usable one after it (up to
# the window's bound u) and the bound itself: no frontier yet (u NULL), the series' last reading.
_NEIGHBOURS = f"""
SELECT w.n,
  (SELECT {_MS.format("r.time")} FROM readings r WHERE r.meter_id = w.meter_id
     AND r.quantity = w.quantity AND r.time < {_TS.format("w.f")} AND r.quality <> 'bad'
     ORDER BY r.time DESC LIMIT 1),
  (SELECT {_MS.format("r.time")} FROM readings r WHERE r.meter_id = w.meter_id
     AND r.quantity = w.quantity AND r.time > {_TS.format("w.l")} AND r.time <= b.u
     AND r.quality <> 'bad' ORDER BY r.time LIMIT 1),
  b.u
FROM unnest(%b::int[], %b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::timestamptz[])
     AS w(n, meter_id, quantity, f, l, u)
CROSS JOIN LATERAL (SELECT coalesce(w.u, (SELECT max(r.time) FROM readings r
     WHERE r.meter_id = w.meter_id AND r.quantity = w.quantity)) AS u) b
"""


@dataclass
class _Span:
    kind: Kind
    first: datetime
    last: datetime


def plan(
    conn: psycopg.Connection, changes: Iterable[Change], settings: AggregateSettings
) -> list[Window]:
    """The windows that the changes touch, one per (meter, rolled-up quantity).

    A register or power series has a frontier (``rollup_frontiers``): its rollups are the booking
    of exactly its readings up to that time. Changes all after it are appended: a window from the
    last booked usable reading to the last new one, whose intervals are added to the buckets.
    Otherwise (a late reading, or no frontier yet) the window is recomputed: from the bucket of
    the last usable reading before the first new one to the bucket of the first usable reading
    after the last, taking in readings up to the later of the frontier and the last new reading
    (no frontier: the series' last reading). CEMS: always recomputed, from all readings, widened
    by the integration gap limit, since intervals longer than it book nothing.
    """
    spans: dict[tuple[str, str, str], _Span] = {}
    for c in changes:
        target = rolled_up(c.quantity)
        if target is None:
            continue
        quantity, kind = target
        source = c.quantity if kind is not Kind.CEMS else ""
        key = (c.meter_id, quantity, source)
        old = spans.get(key)
        if old is None:
            spans[key] = _Span(kind, c.first, c.last)
        else:
            old.first, old.last = min(old.first, c.first), max(old.last, c.last)
    series = [key for key, span in spans.items() if span.kind is not Kind.CEMS]
    frontiers = _frontiers(conn, [key[:2] for key in series])
    windows: list[Window] = []
    late: list[tuple[tuple[str, str, str], datetime | None]] = []
    for key in series:
        span, frontier = spans[key], frontiers.get(key[:2])
        if frontier is not None and span.first > frontier:
            windows.append(Window(key[0], key[1], span.kind, 0, 0, upto=span.last,
                                  after=frontier, frontier=span.last))  # fmt: skip
        else:
            late.append((key, None if frontier is None else max(frontier, span.last)))
    windows += _recomputed(conn, late, spans)
    gap = settings.instantaneous_max_gap_s * 1000
    stacks: dict[tuple[str, str], Window] = {}
    for key, span in spans.items():
        if span.kind is Kind.CEMS:
            lo = floor_bucket(to_ms(span.first) - gap)
            hi = floor_bucket(to_ms(span.last) + gap) + BUCKET_MS
            w = stacks.setdefault(key[:2], Window(key[0], key[1], span.kind, lo, hi))
            w.lo_ms, w.hi_ms = min(w.lo_ms, lo), max(w.hi_ms, hi)
    return windows + list(stacks.values())


def _frontiers(
    conn: psycopg.Connection, series: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], datetime]:
    if not series:
        return {}
    rows = conn.execute(_FRONTIERS, ([m for m, _ in series], [q for _, q in series]))
    return {(m, q): t for m, q, t in rows}


def _recomputed(
    conn: psycopg.Connection,
    late: Sequence[tuple[tuple[str, str, str], datetime | None]],
    spans: Mapping[tuple[str, str, str], _Span],
) -> list[Window]:
    if not late:
        return []
    params = (
        list(range(len(late))),
        [key[0] for key, _ in late],
        [key[2] for key, _ in late],
        [to_ms(spans[key].first) for key, _ in late],
        [to_ms(spans[key].last) for key, _ in late],
        [upto for _, upto in late],
    )
    windows = []
    for n, before, after, upto in conn.execute(_NEIGHBOURS, params):
        key = late[n][0]
        span = spans[key]
        lo = floor_bucket(to_ms(span.first) if before is None else before)
        hi = floor_bucket(to_ms(span.last) if after is None else after) + BUCKET_MS
        windows.append(Window(key[0], key[1], span.kind, lo, hi, upto=upto, frontier=upto))
    return windows


def clip_to_frontiers(conn: psycopg.Connection, windows: Sequence[Window]) -> None:
    """Recompute takes in what streaming has: each series' readings up to its frontier."""
    series = [w for w in windows if w.kind is not Kind.CEMS]
    frontiers = _frontiers(conn, [(w.meter_id, w.quantity) for w in series])
    for w in series:
        w.upto = frontiers.get((w.meter_id, w.quantity))


_ARRAYS = """array_agg(date_part('epoch', r.time)) AS times, array_agg(r.value) AS vals,
  array_agg(CASE r.quality WHEN 'good' THEN 0 WHEN 'estimated' THEN 1 ELSE 2 END) AS quals,
  array_agg(date_part('epoch', r.received_at)) AS recv"""
_SAME = "r.meter_id = w.meter_id AND r.quantity = w.quantity"
# A recomputed window: its readings, with the usable one either side, none after w.u.
_LOAD = f"""
SELECT w.n, x.times, x.vals, x.quals, x.recv
FROM unnest(%b::int[], %b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::timestamptz[])
     AS w(n, meter_id, quantity, lo, hi, u)
CROSS JOIN LATERAL (SELECT
  coalesce((SELECT max(r.time) FROM readings r WHERE {_SAME}
     AND r.time < {_TS.format("w.lo")} AND r.quality <> 'bad'),
     {_TS.format("w.lo")}) AS a,
  coalesce((SELECT min(r.time) FROM readings r WHERE {_SAME}
     AND r.time >= {_TS.format("w.hi")} AND (w.u IS NULL OR r.time <= w.u)
     AND r.quality <> 'bad'),
     {_TS.format("w.hi")}) AS z) e
CROSS JOIN LATERAL (
  SELECT {_ARRAYS} FROM (SELECT * FROM readings r WHERE {_SAME} AND r.time >= e.a
    AND r.time <= e.z AND (w.u IS NULL OR r.time <= w.u) ORDER BY r.time) r
) x
WHERE x.times IS NOT NULL
"""
# An appended window: the last usable reading at or before w.a (booked: the first new interval
# starts there), then the new ones, (w.a, w.u].
_LOAD_NEW = f"""
SELECT w.n, x.times, x.vals, x.quals, x.recv, x.carried
FROM unnest(%b::int[], %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[])
     AS w(n, meter_id, quantity, a, u)
CROSS JOIN LATERAL (
  SELECT {_ARRAYS}, bool_or(r.time <= w.a) AS carried FROM (
    (SELECT * FROM readings r WHERE {_SAME} AND r.time <= w.a AND r.quality <> 'bad'
     ORDER BY r.time DESC LIMIT 1)
    UNION ALL
    (SELECT * FROM readings r WHERE {_SAME} AND r.time > w.a AND r.time <= w.u)
    ORDER BY time
  ) r
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
FROM unnest(%b::int[], %b::text[], %b::bigint[], %b::bigint[]) AS w(n, meter_id, lo, hi)
JOIN readings r ON r.meter_id = w.meter_id AND r.quantity = ANY(%b::text[])
     AND r.time >= {_TS.format("(w.lo - %s)")} AND r.time <= {_TS.format("(w.hi + %s)")}
GROUP BY w.n, r.time
ORDER BY w.n, r.time
"""


def load(conn: psycopg.Connection, windows: Sequence[Window], settings: AggregateSettings) -> None:
    """Fill each window with its readings; an appended window gets its buckets here."""
    full = [(n, w) for n, w in enumerate(windows) if w.kind is not Kind.CEMS and not w.appends]
    new = [(n, w) for n, w in enumerate(windows) if w.appends]
    # one row of arrays per window: no per-reading Python objects on the hot path
    with conn.cursor(binary=True) as cur:
        if full:
            keys = _keys(full)
            bounds = ([w.lo_ms for _, w in full], [w.hi_ms for _, w in full],
                      [w.upto for _, w in full])  # fmt: skip
            for n, times, values, qualities, received in cur.execute(_LOAD, (*keys, *bounds)):
                _fill(windows[n], times, values, qualities, received)
        if new:
            params = (*_keys(new), [w.after for _, w in new], [w.upto for _, w in new])
            for n, times, values, qualities, received, carried in cur.execute(_LOAD_NEW, params):
                w = windows[n]
                _fill(w, times, values, qualities, received)
                w.carried = carried
                w.lo_ms = floor_bucket(w.times[0])
                w.hi_ms = floor_bucket(w.times[-1]) + BUCKET_MS
    stacks = [(n, w) for n, w in enumerate(windows) if w.kind is Kind.CEMS]
    if stacks:
        _load_cems(conn, windows, stacks, settings)


def _keys(part: Sequence[tuple[int, Window]]) -> tuple[list[int], list[str], list[str]]:
    return [n for n, _ in part], [w.meter_id for _, w in part], [w.quantity for _, w in part]


def _fill(
    w: Window, times: list[float], values: list[float], qualities: list[int], received: list[float]
) -> None:
    w.times, w.values, w.qualities, w.received = _ms(times), values, qualities, _ms(received)


def _load_cems(
    conn: psycopg.Connection,
    windows: Sequence[Window],
    stacks: Sequence[tuple[int, Window]],
    settings: AggregateSettings,
) -> None:
    gap = settings.instantaneous_max_gap_s * 1000
    params = (
        [n for n, _ in stacks],
        [w.meter_id for _, w in stacks],
        [w.lo_ms for _, w in stacks],
        [w.hi_ms for _, w in stacks],
        list(CEMS_INPUTS),
        gap,
        gap,
    )
    nan = float("nan")
    for n, t, *values, quality in conn.execute(_LOAD_CEMS, params):
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


_METER_VERSIONS = (
    "SELECT id, m.xmin::text FROM meters m JOIN unnest(%b::text[]) AS w(id) USING (id)"
)
_METERS = """
SELECT id, m.xmin::text, enterprise_code, carrier, multiplier, register_max, max_rate
FROM meters m JOIN unnest(%b::text[]) AS w(id) USING (id)
"""


class MeterCache:
    """Meters' kernel parameters, kept per row version (``xmin``): an edited meter is reread."""

    def __init__(self, settings: AggregateSettings) -> None:
        self.settings = settings
        self._known: dict[str, tuple[str, MeterParams]] = {}

    def get(self, conn: psycopg.Connection, ids: Iterable[str]) -> dict[str, MeterParams]:
        """The registered ones of ``ids``, as the registry stands in ``conn``'s snapshot."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        versions: dict[str, str] = dict(conn.execute(_METER_VERSIONS, (wanted,)).fetchall())
        stale = [m for m, v in versions.items() if self._known.get(m, ("",))[0] != v]
        if stale:
            for meter_id, version, code, carrier, mult, top, rate in conn.execute(
                _METERS, (stale,)
            ):
                params = MeterParams.from_registry(
                    enterprise_code=code,
                    carrier=carrier,
                    multiplier=mult,
                    register_max=top,
                    max_rate=rate,
                    settings=self.settings,
                )
                self._known[meter_id] = (version, params)
        return {m: self._known[m][1] for m in versions if self._known[m][0] == versions[m]}


_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS rollup_in (
    bucket timestamptz, enterprise_code text, meter_id text, quantity text,
    activity_fp bigint, covered_ms integer, estimated_ms integer,
    readings_good integer, readings_estimated integer, readings_bad integer, added boolean
) ON COMMIT DELETE ROWS
"""
_COLUMNS = (
    "bucket, enterprise_code, meter_id, quantity, activity_fp, covered_ms, estimated_ms,"
    " readings_good, readings_estimated, readings_bad"
)
_TYPES = ["timestamptz", "text", "text", "text", "int8", "int4", "int4", "int4", "int4", "int4",
          "bool"]  # fmt: skip
_WINDOWS = f"""unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[])
     AS w(meter_id, quantity, lo, hi)
WHERE t.meter_id = w.meter_id AND t.quantity = w.quantity
  AND t.{{col}} >= {_TS.format("w.lo")} AND t.{{col}} < {_TS.format("w.hi")}"""
_REPLACE = f"""
INSERT INTO rollups_15m ({_COLUMNS}) SELECT {_COLUMNS} FROM rollup_in WHERE NOT added
ON CONFLICT (meter_id, quantity, bucket) DO UPDATE SET
    activity_fp = excluded.activity_fp, covered_ms = excluded.covered_ms,
    estimated_ms = excluded.estimated_ms, readings_good = excluded.readings_good,
    readings_estimated = excluded.readings_estimated, readings_bad = excluded.readings_bad,
    updated_at = now()
"""
# Appended intervals add to the buckets as they stand (integers: exact, in any order). Returns the
# series with a bucket that became flat or stopped being flat: only those can change stuck events.
_ADD = f"""
WITH sums AS (
    INSERT INTO rollups_15m AS t ({_COLUMNS}) SELECT {_COLUMNS} FROM rollup_in WHERE added
    ON CONFLICT (meter_id, quantity, bucket) DO UPDATE SET
        activity_fp = t.activity_fp + excluded.activity_fp,
        covered_ms = t.covered_ms + excluded.covered_ms,
        estimated_ms = t.estimated_ms + excluded.estimated_ms,
        readings_good = t.readings_good + excluded.readings_good,
        readings_estimated = t.readings_estimated + excluded.readings_estimated,
        readings_bad = t.readings_bad + excluded.readings_bad,
        updated_at = now()
    RETURNING meter_id, quantity, bucket, activity_fp, covered_ms
)
SELECT DISTINCT s.meter_id, s.quantity FROM sums s
JOIN rollup_in i ON i.added
    AND (i.meter_id, i.quantity, i.bucket) = (s.meter_id, s.quantity, s.bucket)
WHERE (s.activity_fp = 0 AND s.covered_ms > 0)
   <> (s.activity_fp = i.activity_fp AND s.covered_ms > i.covered_ms)
"""
_EVENTS = """
INSERT INTO quality_events (meter_id, quantity, kind, time, enterprise_code, amount, detail)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[],
                     %b::numeric[], %b::text[])
ON CONFLICT (meter_id, quantity, kind, time) DO UPDATE SET
    amount = excluded.amount, detail = excluded.detail
"""
_FRONTIER = """
INSERT INTO rollup_frontiers (meter_id, quantity, time)
SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[])
ON CONFLICT (meter_id, quantity) DO UPDATE SET time = excluded.time, updated_at = now()
"""


def write(
    conn: psycopg.Connection,
    windows: Sequence[Window],
    rows: Sequence[RollupRow],
    events: Sequence[EventRow],
) -> set[tuple[str, str]]:
    """Write the windows' rows and events and move their frontiers, in the caller's transaction.

    A recomputed window is replaced as a whole (what is not in ``rows`` is gone); an appended
    window's rows are increments. Returns the appended series whose flat buckets changed.
    """
    conn.execute(_STAGE)
    replaced = [w for w in windows if not w.appends]
    if replaced:
        keys = (
            [w.meter_id for w in replaced],
            [w.quantity for w in replaced],
            [w.lo_ms for w in replaced],
            [w.hi_ms for w in replaced],
        )
        conn.execute("DELETE FROM rollups_15m t USING " + _WINDOWS.format(col="bucket"), keys)
        conn.execute(
            "DELETE FROM quality_events t USING "
            + _WINDOWS.format(col="time")
            + " AND kind <> 'stuck'",
            keys,
        )
    added = {(w.meter_id, w.quantity) for w in windows if w.appends}
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY rollup_in ({_COLUMNS}, added) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(_TYPES)
        for r in rows:
            copy.write_row((from_ms(r.bucket_ms), r.enterprise_code, r.meter_id, r.quantity,
                            r.activity_fp, r.covered_ms, r.estimated_ms, r.good, r.estimated,
                            r.bad, (r.meter_id, r.quantity) in added))  # fmt: skip
    if replaced:
        conn.execute(_REPLACE)
    flipped: set[tuple[str, str]] = set()
    if added:
        flipped = {(m, q) for m, q in conn.execute(_ADD)}
    if events:
        columns: list[list[object]] = [[] for _ in range(7)]
        for e in events:
            values = (e.meter_id, e.quantity, e.kind, from_ms(e.time_ms), e.enterprise_code,
                      e.amount, e.detail)  # fmt: skip
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        conn.execute(_EVENTS, tuple(columns))
    moved = [w for w in windows if w.frontier is not None]
    if moved:
        conn.execute(_FRONTIER, ([w.meter_id for w in moved], [w.quantity for w in moved],
                                 [w.frontier for w in moved]))  # fmt: skip
    return flipped


def decimal_activity(activity_fp: int, scale: int) -> Decimal:
    return Decimal(activity_fp).scaleb(-scale)
