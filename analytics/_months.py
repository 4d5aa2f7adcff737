"""Sealing months: storing the month sums of ``rollups_15m`` that the ledger reads for past months.

A closed year of a province is about 5 billion 15-minute rollups; its sums per (enterprise,
meter, quantity, local month) are 1.7 million rows carrying the same integers. Months ended more
than a grace ago are *sealed*: their sums go to ``rollup_months`` and row triggers on
``rollups_15m`` (migration 0018) keep them exact under any later write. The current month is
never sealed: it is read from the buckets.

:func:`seal` moves the bounds in three transactions so that no write is lost and no writer is
blocked while the sums are computed:

1. under a SHARE lock (no rollup write in flight), ``tracked_before`` moves: from then on a write
   into the months being sealed marks its series-month dirty;
2. the sums of those months are computed from a snapshot, without a lock;
3. under a SHARE lock again, the dirty series-months are recomputed from the buckets as they
   stand, and ``sealed_before`` moves: from then on a write adjusts the stored sums.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
from psycopg import sql

from carbonledger.errors import CarbonLedgerError
from carbonledger.tz import SHANGHAI

_BOUNDS = "SELECT sealed_before, tracked_before FROM rollup_seal"
_LOCK = "LOCK TABLE rollups_15m IN SHARE MODE"
_BOUND_FUNCTION = """
CREATE OR REPLACE FUNCTION {name}() RETURNS timestamptz LANGUAGE sql STABLE
AS $$ SELECT timestamptz {at} $$
"""
_MONTH = "(date_trunc('month', bucket AT TIME ZONE 'Asia/Shanghai'))::date"
_SUMS = f"""
SELECT {_MONTH} AS month, enterprise_code, meter_id, quantity, sum(activity_fp),
       sum(covered_ms), sum(estimated_ms), count(*), max(bucket)
FROM rollups_15m
"""
_GROUP = " GROUP BY enterprise_code, meter_id, quantity, month"
_INSERT = (
    "INSERT INTO rollup_months (month, enterprise_code, meter_id, quantity, activity_fp,"
    " covered_ms, estimated_ms, buckets, last_bucket) "
)
_LOCAL = "(%s::date::timestamp AT TIME ZONE 'Asia/Shanghai')"
_STORE_MONTHS = _INSERT + _SUMS + f" WHERE bucket >= {_LOCAL} AND bucket < {_LOCAL}" + _GROUP
_DROP_DIRTY = """
DELETE FROM rollup_months m USING rollup_months_dirty d
WHERE (m.month, m.meter_id, m.quantity) = (d.month, d.meter_id, d.quantity)
"""
_DROP_MONTHS = "DELETE FROM rollup_months WHERE month >= %s AND month < %s"  # an interrupted seal's
_REDO_DIRTY = f"""
{_INSERT}
SELECT {_MONTH} AS month, r.enterprise_code, r.meter_id, r.quantity, sum(r.activity_fp),
       sum(r.covered_ms), sum(r.estimated_ms), count(*), max(r.bucket)
FROM rollup_months_dirty d JOIN rollups_15m r ON r.meter_id = d.meter_id
    AND r.quantity = d.quantity
    AND r.bucket >= (d.month::timestamp AT TIME ZONE 'Asia/Shanghai')
    AND r.bucket < ((d.month + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai')
GROUP BY 1, 2, 3, 4
"""


class SealError(CarbonLedgerError):
    """A seal bound that is not a month start, or that would unseal months."""


def seal_due(now: datetime, grace_days: int) -> date:
    """The bound of the months that ended more than ``grace_days`` before ``now`` (local)."""
    day = (now.astimezone(SHANGHAI) - timedelta(days=grace_days)).date()
    return day.replace(day=1)


def sealed_before(conn: psycopg.Connection) -> date:
    """The first local month whose sums are not stored, as ``conn``'s snapshot sees it."""
    row = conn.execute(_BOUNDS).fetchone()
    assert row is not None  # noqa: S101 - migration 0018 inserts the one row
    return row[0]  # type: ignore[no-any-return]


def seal(conn: psycopg.Connection, before: date) -> date:
    """Store the sums of every local month before ``before`` (a month start); returns the
    previous bound. Sealing to a bound at or before the current one does nothing; a seal that
    was interrupted is finished by sealing to its bound again."""
    if before.day != 1:
        raise SealError(f"months are sealed up to a month start, not {before}")
    with conn.transaction():
        previous, tracked = conn.execute(_BOUNDS).fetchone() or (before, before)
    if before <= previous:
        return previous  # type: ignore[no-any-return]
    if tracked not in (previous, before):
        raise SealError(f"a seal to {tracked} did not finish: seal to it first")
    if tracked != before:
        with conn.transaction():
            conn.execute(_LOCK)
            _move(conn, "tracked_before", before)
    with conn.transaction():
        conn.execute(_DROP_MONTHS, (previous, before))
        conn.execute(_STORE_MONTHS, (previous, before))
    with conn.transaction():
        conn.execute(_LOCK)
        conn.execute(_DROP_DIRTY)
        conn.execute(_REDO_DIRTY)
        conn.execute("DELETE FROM rollup_months_dirty")
        _move(conn, "sealed_before", before)
    return previous  # type: ignore[no-any-return]


def _move(conn: psycopg.Connection, bound: str, to: date) -> None:
    """The bound in ``rollup_seal`` (what snapshots see) and in its function (what the
    triggers' WHEN sees), in the caller's transaction."""
    conn.execute(sql.SQL("UPDATE rollup_seal SET {} = %s").format(sql.Identifier(bound)), (to,))
    at = sql.Literal(f"{to.isoformat()} 00:00:00+08")
    conn.execute(
        sql.SQL(_BOUND_FUNCTION).format(name=sql.Identifier(f"rollup_months_{bound}"), at=at)
    )
