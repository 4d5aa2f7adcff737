"""The current month's activity of the live service, read once up to a frontier.

Re-reading the month to date on every cycle costs a month of rollups per enterprise (a province:
hundreds of millions of rows every few seconds). The sums of [month start, F) are kept instead,
F being the 15-minute bucket boundary :data:`LAG` before now, and each cycle reads only [F, now)
and adds the kept sums: every figure is a sum of integers (fixed-point activity, milliseconds,
bucket counts) or a maximum, so the result equals one read of the whole month.

A change can alter buckets before F only when its interval starts before F: when the series has
no usable reading in [F, first time) or the change is in the hour after F (the CEMS and power
integration gap, as for months). The service asks :func:`reaches_back_sql` for that per
enterprise and drops the kept sums of one that does (:meth:`MonthToDate.drop`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import psycopg

from accounts.ledger._inputs import MonthActivity
from accounts.ledger._period import local_midnight
from accounts.ledger._read import read_activities

LAG = timedelta(minutes=75)  # F: an hour of integration gap and a quarter for late commits
_BUCKET_S = 900
# one row per changed enterprise: does any change reach back before the frontier?
REACHES_BACK = """
bool_or(NOT (c.first_time >= %(frontier)s + interval '1 hour' AND EXISTS (
    SELECT 1 FROM readings r WHERE r.meter_id = c.meter_id AND r.quantity = c.quantity
      AND r.time >= %(frontier)s AND r.time < c.first_time AND r.quality <> 'bad')))
"""


def frontier(now: datetime, month: date) -> datetime:
    """The bucket boundary :data:`LAG` before ``now``, not before the month's start."""
    start = local_midnight(month)
    seconds = (now - LAG - start).total_seconds()
    if seconds <= 0:
        return start
    return start + timedelta(seconds=int(seconds) // _BUCKET_S * _BUCKET_S)


@dataclass
class _Kept:
    month: date
    through: datetime  # the sums cover [month start, through)
    rows: list[MonthActivity]


def combine(*parts: Iterable[MonthActivity]) -> list[MonthActivity]:
    """Month activity of adjacent time ranges as one range's: sums added, last bucket the
    latest (rows of the same meter, quantity, role and month)."""
    out: dict[tuple[str, str, str, date], MonthActivity] = {}
    for rows in parts:
        for a in rows:
            key = (a.meter_id, a.quantity, a.role, a.month)
            seen = out.get(key)
            out[key] = a if seen is None else _add(seen, a)
    return list(out.values())


def _add(a: MonthActivity, b: MonthActivity) -> MonthActivity:
    return replace(
        a,
        activity_fp=a.activity_fp + b.activity_fp,
        covered_ms=a.covered_ms + b.covered_ms,
        estimated_ms=a.estimated_ms + b.estimated_ms,
        buckets=a.buckets + b.buckets,
        last_bucket=max(a.last_bucket, b.last_bucket),
    )


class MonthToDate:
    """Kept sums of the current month per enterprise (see the module docstring)."""

    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}

    def drop(self, code: str) -> None:
        self._kept.pop(code, None)

    def clear(self) -> None:
        self._kept.clear()

    def activity(
        self,
        conn: psycopg.Connection,
        codes: Sequence[str],
        now: datetime,
        month: date,
        *,
        work_mem: str,
    ) -> dict[str, list[MonthActivity]]:
        """The month's activity of ``codes`` in [month start, now)."""
        edge = frontier(now, month)
        start = local_midnight(month)
        behind: dict[datetime, list[str]] = defaultdict(list)
        for code in codes:
            kept = self._kept.get(code)
            if kept is None or kept.month != month or kept.through > edge:
                kept = self._kept[code] = _Kept(month, start, [])
            if kept.through < edge:
                behind[kept.through].append(code)
        for through, stale in behind.items():  # move the kept sums up to the frontier
            more = read_activities(conn, stale, through, edge, work_mem=work_mem)
            for code in stale:
                kept = self._kept[code]
                kept.rows, kept.through = combine(kept.rows, more[code]), edge
        recent = read_activities(conn, codes, edge, now, work_mem=work_mem) if now > edge else {}
        return {code: combine(self._kept[code].rows, recent.get(code, ())) for code in codes}
