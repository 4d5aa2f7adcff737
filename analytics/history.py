"""Rollup history written directly (COPY), for benchmarks and province-sized simulations.

Replaying months of readings through MQTT, ingest and the aggregator to get a province's history
takes longer than the history itself is worth to a benchmark, and the rollups are what the ledger
reads. So a caller that *knows* what each series counted (the simulator's deterministic profiles)
hands :func:`write_history` one function per local day and series, and the 15-minute buckets go
into ``rollups_15m`` with psycopg's ``cursor.copy()``, one transaction per local day.

The table keeps one writer (analytics): this module owns the SQL, callers own the numbers. A
re-run over the same days deletes those days' buckets of the same series first, so it is
idempotent. Each series' ``rollup_frontiers`` row moves to the end of the history (its rollups
are the booking of everything before), so a later live stream is appended, not recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg

from analytics._months import seal
from carbonledger.errors import CarbonLedgerError
from carbonledger.tz import SHANGHAI

BUCKETS_PER_DAY = 96
BUCKET = timedelta(minutes=15)
_COPY = (
    "COPY rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp, covered_ms,"
    " estimated_ms, readings_good) FROM STDIN"
)
_DELETE = """
DELETE FROM rollups_15m r USING unnest(%s::text[]) AS s(meter_id)
WHERE r.meter_id = s.meter_id AND r.bucket >= %s AND r.bucket < %s
"""
_FRONTIERS = """
INSERT INTO rollup_frontiers (meter_id, quantity, time)
SELECT s.meter_id, s.quantity, %s FROM unnest(%s::text[], %s::text[]) AS s(meter_id, quantity)
ON CONFLICT (meter_id, quantity) DO UPDATE SET time = greatest(rollup_frontiers.time,
    excluded.time), updated_at = now()
"""
_CHUNK = 2_000  # series per write to the COPY stream: big writes, bounded memory
_COPY_MONTHS = (
    "COPY rollup_months (month, enterprise_code, meter_id, quantity, activity_fp, covered_ms,"
    " estimated_ms, buckets, last_bucket) FROM STDIN"
)


class HistoryError(CarbonLedgerError):
    """A profile returned something that is not one day of 15-minute buckets."""


@dataclass(frozen=True, slots=True)
class Series:
    """One rolled-up series: a meter's quantity as ``rollups_15m`` keys it."""

    meter_id: str
    enterprise_code: str
    quantity: str
    cumulative: bool = True  # a register series gets a frontier; CEMS mass does not


# activity_fp of the 96 buckets of a local day (00:00 +08:00 onwards) of a series
DayProfile = Callable[[Series, date], Sequence[int]]
Progress = Callable[[date, int], None]  # a day written, rows so far
MonthProfile = Callable[[Series, date], int]  # activity_fp of a local month (its first day)


@dataclass(frozen=True)
class HistoryReport:
    days: int
    series: int
    rows: int


def local_days(start: date, end: date) -> Iterator[date]:
    """The local days start..end (end excluded)."""
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def write_history(
    conn: psycopg.Connection,
    series: Sequence[Series],
    first: date,
    end: date,
    profile: DayProfile,
    *,
    readings_per_bucket: int = 60,
    progress: Progress | None = None,
) -> HistoryReport:
    """Write the buckets of local days ``first``..``end`` (end excluded) of ``series``.

    Every bucket is fully covered (``covered_ms`` 900,000) with ``readings_per_bucket`` good
    readings (60: one every 15 s). One transaction per day; ``progress`` is called after each.
    """
    rows = 0
    days = 0
    ids = [s.meter_id for s in series]
    for day in local_days(first, end):
        with conn.transaction():
            conn.execute(_DELETE, (ids, day_start(day), day_start(day + timedelta(days=1))))
            rows += _copy_day(conn, series, day, profile, readings_per_bucket)
        days += 1
        if progress is not None:
            progress(day, rows)
    if days:
        _move_frontiers(conn, series, day_start(end))
        # a bulk load outruns autovacuum: plans chosen on an empty table's statistics (an index
        # of one column filtered row by row) would read every row of a province per lookup
        with conn.transaction():
            conn.execute("ANALYZE rollups_15m, rollup_frontiers")
    return HistoryReport(days, len(series), rows)


def _stamps(day: date) -> list[str]:
    start = day_start(day)
    return [(start + i * BUCKET).isoformat() for i in range(BUCKETS_PER_DAY)]


def _copy_day(
    conn: psycopg.Connection,
    series: Sequence[Series],
    day: date,
    profile: DayProfile,
    readings: int,
) -> int:
    texts = _stamps(day)
    tail = f"\t900000\t0\t{readings}\n"
    rows = 0
    with conn.cursor() as cur, cur.copy(_COPY) as copy:
        for at in range(0, len(series), _CHUNK):
            lines: list[str] = []
            for s in series[at : at + _CHUNK]:
                values = profile(s, day)
                if len(values) != BUCKETS_PER_DAY:
                    raise HistoryError(
                        f"profile of {s.meter_id} on {day} has {len(values)} buckets, not 96"
                    )
                head = f"\t{s.enterprise_code}\t{s.meter_id}\t{s.quantity}\t"
                lines.extend(f"{t}{head}{int(v)}{tail}" for t, v in zip(texts, values, strict=True))
            copy.write("".join(lines))
            rows += len(lines)
    return rows


def _move_frontiers(conn: psycopg.Connection, series: Sequence[Series], until: datetime) -> None:
    registers = [s for s in series if s.cumulative]
    with conn.transaction():
        conn.execute(
            _FRONTIERS,
            (until, [s.meter_id for s in registers], [s.quantity for s in registers]),
        )


def write_month_sums(
    conn: psycopg.Connection,
    series: Sequence[Series],
    first: date,
    end: date,
    profile: MonthProfile,
) -> int:
    """Sealed month sums of local months ``first``..``end`` (month starts, end excluded) of
    ``series``, written directly without their buckets; returns the rows written.

    For benchmarks only: a province's closed year is 1.7 million month sums but 5 billion
    buckets, more than this disk holds. The months are sealed first (series that have buckets
    get their true sums); a series given here must have no bucket in them (the key is taken).
    Every month is written as fully covered (``covered_ms`` 900,000 per bucket), all good.
    """
    seal(conn, end)
    rows = 0
    with conn.transaction():
        conn.execute("LOCK TABLE rollups_15m IN SHARE MODE")  # what a seal holds: no writer
        with conn.cursor() as cur, cur.copy(_COPY_MONTHS) as copy:
            for month in _months(first, end):
                after = _next_month(month)
                buckets = (after - month).days * BUCKETS_PER_DAY
                last = (day_start(after) - BUCKET).isoformat()
                for s in series:
                    sums = (profile(s, month), buckets * 900_000, 0, buckets, last)
                    copy.write_row((month, s.enterprise_code, s.meter_id, s.quantity, *sums))
                    rows += 1
    return rows


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _months(first: date, end: date) -> Iterator[date]:
    month = first
    while month < end:
        yield month
        month = _next_month(month)
