"""The freshness phase of benchmarks/province.py: a steady reading stream and what it takes to show.

Every register meter of the city reads every 15 minutes, each at its own phase of the quarter
hour (a hash of its id), so the database sees an even stream of ``meters / 900`` readings a
second, as a province's gateways spread over the quarter hours would produce. The stream is
written by ingest's own :class:`ingest.writer.BatchWriter` in a process of its own
(``python benchmarks/province_stream.py``: once a second, the readings that fell due), with
register values from the simulator's profiles, so the aggregator books real deltas.

:class:`Tracker` follows a sample of those readings from the main process: it polls their
buckets in ``rollups_15m`` and their enterprises' month-to-date account, and a reading's
freshness is the first poll at which its enterprise's account was computed as of a time after
its bucket was seen rewritten, minus the reading's commit (``reading_changes.committed_at``).
The poll period (0.5 s) is the resolution; both steps only overstate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.writer import BatchWriter, Message
from simulator.city import Meter, build_city
from simulator.profiles import local_day, steps_until

PERIOD = 900  # seconds between a meter's readings
TICK = 15  # the simulator's register tick
POLL = 0.5
# the longest transaction holding a transaction id anywhere on the server: the snapshot's xmin,
# and so the aggregator's watermark, cannot pass it (read-only snapshots do not hold it)
_WRITER = """
SELECT extract(epoch FROM now() - xact_start), datname || ' ' || coalesce(application_name, '')
FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
ORDER BY xact_start LIMIT 1
"""


def phase(meter_id: str) -> int:
    """The meter's second of the quarter hour (stable across processes and runs)."""
    return int.from_bytes(hashlib.blake2b(meter_id.encode(), digest_size=4).digest()) % PERIOD


def due(meters: list[Meter], start: float, end: float) -> list[tuple[float, Meter]]:
    """(reading time, meter) of every reading with start <= time < end, in time order."""
    out = []
    for m in meters:
        first = start - (start - phase(m.id)) % PERIOD
        t = first if first >= start else first + PERIOD
        while t < end:
            out.append((t, m))
            t += PERIOD
    out.sort(key=lambda item: item[0])
    return out


def register_value(meter: Meter, seed: int, ts: float, anchor_day: int) -> float:
    """The register at ``ts``: its anchor value plus the profile's steps since, rolled over."""
    steps = steps_until(meter, seed, int(ts), TICK, anchor_day)
    value = meter.initial + Decimal(steps).scaleb(-meter.decimals)
    if meter.register_max is not None:
        value %= meter.register_max
    return float(value)


def rows_of(
    readings: list[tuple[float, Meter]], seed: int, anchor_day: int
) -> list[tuple[datetime, str, str, float, str, datetime]]:
    now = datetime.now(UTC)
    return [
        (datetime.fromtimestamp(t, UTC), m.id, m.quantity,
         register_value(m, seed, t, anchor_day), "good", now)
        for t, m in readings
    ]  # fmt: skip


def stream(url: str, meters: list[Meter], seed: int, start: float, seconds: float) -> int:
    """Write each reading once it falls due (one batch a second) until start + seconds."""
    writer = BatchWriter(url)
    anchor = local_day(int(start)) - 1
    pending = due(meters, start, start + seconds)
    written = at = 0
    while at < len(pending):
        now = time.time()
        upto = at
        while upto < len(pending) and pending[upto][0] <= now:
            upto += 1
        if upto > at:
            writer.write([Message("bench/stream", b"", rows_of(pending[at:upto], seed, anchor))])
            written += upto - at
            at = upto
        time.sleep(max(0.0, min(1.0, (pending[at][0] if at < len(pending) else now) - now)))
    writer.close()
    return written


def seed_readings(url: str, meters: list[Meter], seed: int, start: float, seconds: float) -> int:
    """The reading a quarter hour before each of the window's first readings (its interval's
    start), written in one batch before the window opens."""
    firsts: dict[str, tuple[float, Meter]] = {}
    for t, m in due(meters, start, start + seconds):
        firsts.setdefault(m.id, (t - PERIOD, m))
    writer = BatchWriter(url)
    rows = rows_of(sorted(firsts.values(), key=lambda x: x[0]), seed,
                   local_day(int(start)) - 1)  # fmt: skip
    for at in range(0, len(rows), 20_000):
        writer.write([Message("bench/seed", b"", rows[at : at + 20_000])])
    writer.close()
    return len(rows)


_LINES = """
SELECT l->>'meter_id', (l->>'last_bucket')::timestamptz
FROM account_periods a CROSS JOIN LATERAL jsonb_array_elements(a.detail->'lines') l
WHERE a.period_kind = 'mtd' AND a.status = 'live' AND a.enterprise_code = ANY(%s)
  AND l->>'meter_id' = ANY(%s) AND l->>'last_bucket' IS NOT NULL
"""


@dataclass
class Tracker:
    """A sample of the stream's readings, followed to their enterprise's month-to-date account."""

    url: str
    sample: list[tuple[float, Meter]]
    rollups: dict[tuple[str, datetime], list[tuple[datetime, float]]] = field(default_factory=dict)
    lines: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    """per meter: the last bucket its line in the month-to-date account books, as polled"""
    writer_s: float = 0.0
    """the longest-open transaction holding a transaction id anywhere on the server during the
    run: the aggregator's watermark (the snapshot's xmin, server-wide) cannot pass it"""
    writer: str = ""  # its database and application

    def poll(self, stop_at: float) -> None:
        ids = sorted({m.id for _, m in self.sample})
        codes = sorted({m.enterprise_code for _, m in self.sample})
        lowest = datetime.fromtimestamp(min(t for t, _ in self.sample) - PERIOD, UTC)
        with psycopg.connect(self.url, autocommit=True) as conn:
            while time.time() < stop_at:
                seen = time.time()
                for mid, bucket, updated in conn.execute(
                    "SELECT meter_id, bucket, updated_at FROM rollups_15m"
                    " WHERE meter_id = ANY(%s) AND bucket >= %s",
                    (ids, lowest),
                ):
                    _note(self.rollups.setdefault((mid, bucket), []), updated, seen)
                for mid, last in conn.execute(_LINES, (codes, ids)):
                    _note(self.lines.setdefault(mid, []), last, seen)
                row = conn.execute(_WRITER).fetchone()
                if row and float(row[0]) > self.writer_s:
                    self.writer_s, self.writer = float(row[0]), str(row[1])
                time.sleep(max(0.0, POLL - (time.time() - seen)))

    def freshness(self) -> list[Followed]:
        """Each sampled reading's seconds from commit to its rollup and to its account."""
        ids = sorted({m.id for _, m in self.sample})
        with psycopg.connect(self.url, autocommit=True) as conn:
            commits = {
                (mid, last): committed
                for mid, last, committed in conn.execute(
                    "SELECT meter_id, last_time, committed_at FROM reading_changes"
                    " WHERE meter_id = ANY(%s)",
                    (ids,),
                )
            }
        out = []
        for t, m in self.sample:
            committed = commits.get((m.id, datetime.fromtimestamp(t, UTC)))
            if committed is None:  # not written (the stream fell behind): never seen
                out.append(Followed(None, None))
                continue
            # the interval (t - 15 min, t] ends in the bucket holding the instant before t
            bucket = datetime.fromtimestamp((int(t) - 1) // PERIOD * PERIOD, UTC)
            seen = _first(self.rollups.get((m.id, bucket), []), committed)
            # that bucket first exists with this reading (the meter's previous interval ends
            # before it): an account whose line books it, or a later one, reflects the reading
            account = _first(self.lines.get(m.id, []), bucket)
            at = committed.timestamp()
            out.append(Followed(None if seen is None else seen - at,
                                None if account is None else account - at))  # fmt: skip
        return out


@dataclass(frozen=True)
class Followed:
    """One reading's way, in seconds from its commit (None: not seen by the end of the run)."""

    rollup_s: float | None  # its bucket rewritten by the aggregator
    account_s: float | None  # its enterprise's month-to-date account booking its bucket


def _note(history: list[tuple[datetime, float]], value: datetime, seen: float) -> None:
    if not history or history[-1][0] != value:
        history.append((value, seen))


def _first(history: list[tuple[datetime, float]], after: datetime) -> float | None:
    """The first poll time at which the value was at or after ``after``."""
    return next((seen for value, seen in history if value >= after), None)


def main() -> None:
    parser = argparse.ArgumentParser(description="write the province's reading stream")
    parser.add_argument("--url", required=True)
    parser.add_argument("--enterprises", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--start", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    city = build_city(args.enterprises, args.seed, args.region)
    meters = [m for m in city.meters if m.cumulative]
    written = stream(args.url, meters, city.seed, args.start, args.seconds)
    print(json.dumps({"written": written}))


if __name__ == "__main__":
    main()
