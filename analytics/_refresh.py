"""Refresh windows of buckets from raw readings: the one code path behind streaming and recompute.

Streaming and ``aggregate recompute`` both end in :func:`refresh_windows`. A recomputed bucket's
value is a function of the readings around it only (see :mod:`analytics._kernels`); an appended
window adds the intervals of readings no bucket has booked yet (after the series' frontier), and
integer sums do not depend on the order of their terms, so the two give the same rows by
construction; the tests check it anyway.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TextIO

import psycopg

from analytics import _series, _store, _stuck
from analytics._series import Window
from analytics._store import Change, MeterCache
from carbonledger.config import AggregateSettings
from carbonledger.tz import SHANGHAI


@dataclass(frozen=True)
class RefreshStats:
    windows: int = 0
    buckets: int = 0
    readings: int = 0
    events: int = 0


def refresh_windows(
    conn: psycopg.Connection,
    windows: Sequence[Window],
    settings: AggregateSettings,
    meters: MeterCache | None = None,
) -> RefreshStats:
    """Load, compute and write the windows' rollups, in the caller's transaction."""
    if not windows:
        return RefreshStats()
    _store.load(conn, windows, settings)
    params = (meters or MeterCache(settings)).get(conn, (w.meter_id for w in windows))
    known = [w for w in windows if w.meter_id in params]  # readings of unregistered meters: none
    rows, events = _series.compute(known, params, settings)
    flipped = _store.write(conn, known, rows, events)
    # appended buckets that stayed as flat (or not) as they were cannot move a stuck event
    judged = [w for w in known if not w.appends or (w.meter_id, w.quantity) in flipped]
    stuck = _stuck.refresh(conn, judged, params, settings)
    readings = sum(len(w.times) for w in known)
    return RefreshStats(len(known), len(rows), readings, len(events) + stuck)


def refresh_changes(
    conn: psycopg.Connection,
    changes: Iterable[Change],
    settings: AggregateSettings,
    meters: MeterCache | None = None,
) -> RefreshStats:
    """Update just the buckets that the changed series' new readings touch."""
    return refresh_windows(conn, _store.plan(conn, changes, settings), settings, meters)


# --- recompute over history ---------------------------------------------------------------------

_SERIES = """
SELECT DISTINCT r.meter_id, r.quantity FROM readings r JOIN meters m ON m.id = r.meter_id
WHERE r.time >= %s AND r.time < %s AND (%s::text IS NULL OR m.enterprise_code = %s)
ORDER BY 1, 2
"""


def days(first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
    """Local (Asia/Shanghai) days from ``first`` to ``last`` inclusive, as [start, end)."""
    day = first
    while day <= last:
        start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
        yield start, start + timedelta(days=1)
        day += timedelta(days=1)


def recompute(
    conninfo: str,
    first: date,
    last: date,
    settings: AggregateSettings,
    *,
    enterprise: str | None = None,
    progress: TextIO | None = None,
    batch: int = 500,
) -> RefreshStats:
    """Rebuild the rollups of local days ``first``..``last`` from raw readings, a day at a time.

    Each (day, batch of series) commits on its own, so a long rebuild makes steady progress and
    a crash loses at most one batch; running it again gives the same rows.
    """
    total = RefreshStats()
    periods = list(days(first, last))
    bar = Progress(len(periods), progress or sys.stderr)
    meters = MeterCache(settings)
    with psycopg.connect(conninfo, application_name="carbonledger-recompute") as conn:
        for start, end in periods:
            series = conn.execute(_SERIES, (start, end, enterprise, enterprise)).fetchall()
            conn.commit()
            for i in range(0, len(series), batch):
                windows = _day_windows(series[i : i + batch], start, end)
                with conn.transaction():
                    _store.clip_to_frontiers(conn, windows)
                    stats = refresh_windows(conn, windows, settings, meters)
                total = RefreshStats(*(a + b for a, b in zip(_tuple(total), _tuple(stats),
                                                             strict=True)))  # fmt: skip
            bar.step(f"{start.date()} {len(series)} series, {total.buckets} buckets")
    bar.done()
    return total


def _tuple(stats: RefreshStats) -> tuple[int, int, int, int]:
    return stats.windows, stats.buckets, stats.readings, stats.events


def _day_windows(series: Sequence[tuple[str, str]], start: datetime, end: datetime) -> list[Window]:
    lo, hi = _store.to_ms(start), _store.to_ms(end)
    windows: dict[tuple[str, str], Window] = {}
    for meter_id, quantity in series:
        target = _series.rolled_up(quantity)
        if target is not None and (meter_id, target[0]) not in windows:
            windows[(meter_id, target[0])] = Window(meter_id, target[0], target[1], lo, hi)
    return list(windows.values())


class Progress:
    """A progress bar on a terminal, a line every 10 % (or 10 s) in a log file or pipe."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.done_steps = max(total, 1), out, 0
        self.tty = out.isatty()
        self.began = self.last_line = time.monotonic()
        self.last_tenth = -1

    def step(self, note: str) -> None:
        self.done_steps += 1
        fraction = self.done_steps / self.total
        elapsed = time.monotonic() - self.began
        if self.tty:
            bar = "#" * int(fraction * 30)
            self.out.write(f"\r[{bar:<30}] {self.done_steps}/{self.total} {note} {elapsed:.0f}s")
        elif int(fraction * 10) > self.last_tenth or time.monotonic() - self.last_line > 10:
            self.last_tenth, self.last_line = int(fraction * 10), time.monotonic()
            self.out.write(f"recompute {self.done_steps}/{self.total} ({fraction:.0%}) {note}\n")
        self.out.flush()

    def done(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()
