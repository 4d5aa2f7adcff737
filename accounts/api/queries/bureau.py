"""The bureau's reads: live city totals, quality events and ingest health.

Ingest health reads other rooms' tables as they are: ``readings``, ``dead_letters`` and
``reading_changes`` (ingest's) and ``aggregator_watermarks`` (analytics').
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from accounts.api.queries import Row, fetch_all, fetch_one

CONSUMING = ("purchased", "combustion", "process")  # roles whose activity is energy used

_NOW = "x.bucket >= %(t0)s AND x.bucket < %(t1)s"
_TOTALS = f"""
SELECT GROUPING(e.district) AS by_district, GROUPING(left(e.industry_code, 2)) AS by_industry,
       e.district, left(e.industry_code, 2) AS division, x.carrier, x.unit,
       trim_scale(coalesce(sum(x.activity)
           FILTER (WHERE {_NOW} AND x.role IN {CONSUMING}), 0)) AS energy_now,
       trim_scale(coalesce(sum(x.activity) FILTER (WHERE x.role IN {CONSUMING}), 0))
           AS energy_today,
       trim_scale(coalesce(sum(x.tco2) FILTER (WHERE {_NOW}), 0)) AS tco2_now,
       trim_scale(coalesce(sum(x.tco2), 0)) AS tco2_today,
       trim_scale(coalesce(sum(x.tce_equivalent), 0)) AS tce_today
FROM emissions_15m x JOIN enterprises e ON e.code = x.enterprise_code
WHERE x.bucket >= %(midnight)s AND x.bucket < %(end)s
GROUP BY GROUPING SETS ((x.carrier, x.unit), (e.district, x.carrier, x.unit),
                        (left(e.industry_code, 2), x.carrier, x.unit))
ORDER BY 3, 4, 5
"""

_TOP = """
SELECT trim(e.code) AS enterprise_code, e.name, e.district, e.industry_code,
       trim_scale(sum(x.tco2)) AS tco2_today
FROM emissions_15m x JOIN enterprises e ON e.code = x.enterprise_code
WHERE x.bucket >= %(midnight)s AND x.bucket < %(end)s AND x.tco2 IS NOT NULL
GROUP BY e.code ORDER BY tco2_today DESC, e.code LIMIT %(top)s
"""

_TWO_HIGH = """
SELECT DISTINCT ON (e.code) trim(e.code) AS enterprise_code, e.name, e.district,
       e.industry_code, a.tce_equivalent AS tce,
       'rolling12 ' || to_char(a.period_start, 'YYYY-MM') AS period
FROM enterprises e
JOIN account_periods a ON a.enterprise_code = e.code AND a.period_kind = 'rolling12'
                      AND a.status <> 'superseded'
WHERE left(e.industry_code, 2) = ANY (%(divisions)s)
ORDER BY e.code, a.period_start DESC
"""


async def carrier_totals(
    conn: psycopg.AsyncConnection, *, t0: datetime, t1: datetime, midnight: datetime, end: datetime
) -> list[Row]:
    """Energy and emissions per carrier for the city, each district and each industry division.

    One grouping-sets pass; ``by_district``/``by_industry`` say which grouping a row is (0 for
    the one it belongs to). "now" is ``[t0, t1)``, "today" is ``[midnight, end)``.
    """
    return await fetch_all(conn, _TOTALS, {"t0": t0, "t1": t1, "midnight": midnight, "end": end})


async def top_emitters(
    conn: psycopg.AsyncConnection, *, midnight: datetime, end: datetime, top: int
) -> list[Row]:
    """The ``top`` enterprises by factor emissions since local midnight."""
    return await fetch_all(conn, _TOP, {"midnight": midnight, "end": end, "top": top})


async def two_high_candidates(conn: psycopg.AsyncConnection, divisions: list[str]) -> list[Row]:
    """Each enterprise of the given industry divisions with its latest live rolling-12 energy."""
    return await fetch_all(conn, _TWO_HIGH, {"divisions": divisions})


_QUALITY = (
    "SELECT q.time, trim(q.enterprise_code) AS enterprise_code, e.name AS enterprise_name,"
    " e.district, q.meter_id, q.quantity, q.kind, q.amount, q.detail, q.detected_at"
    " FROM quality_events q JOIN enterprises e ON e.code = q.enterprise_code"
    " WHERE (%(kind)s::text IS NULL OR q.kind = %(kind)s)"
    " AND (%(code)s::text IS NULL OR q.enterprise_code = %(code)s)"
    " AND (%(district)s::text IS NULL OR e.district = %(district)s)"
    " AND (%(since)s::timestamptz IS NULL OR q.time >= %(since)s)"
    " AND (%(after)s::boolean IS NULL OR (q.time, q.meter_id, q.quantity, q.kind)"
    "      < (%(t)s::timestamptz, %(m)s, %(q)s, %(k)s))"
    " ORDER BY q.time DESC, q.meter_id DESC, q.quantity DESC, q.kind DESC LIMIT %(limit)s"
)


async def quality_events(
    conn: psycopg.AsyncConnection,
    *,
    kind: str | None,
    code: str | None,
    district: str | None,
    since: datetime | None,
    before: Sequence[Any] | None,
    limit: int,
) -> list[Row]:
    """Quality events newest first, each filter optional, strictly before the key ``before``
    (time, meter, quantity, kind) when given."""
    return await fetch_all(
        conn,
        _QUALITY,
        {
            "kind": kind,
            "code": code,
            "district": district,
            "since": since,
            "after": True if before else None,
            "t": before[0] if before else None,
            "m": before[1] if before else None,
            "q": before[2] if before else None,
            "k": before[3] if before else None,
            "limit": limit,
        },
    )


async def ingest_recent(conn: psycopg.AsyncConnection) -> Row:
    """Readings of the last five minutes, the latest receipt, dead letters of the hour and day."""
    return await fetch_one(conn, "SELECT * FROM ingest_recent")


async def meter_last_readings(conn: psycopg.AsyncConnection) -> list[Row]:
    """Every meter with its last reading time, never-read meters first, then the oldest."""
    return await fetch_all(
        conn,
        "SELECT meter_id, trim(enterprise_code) AS enterprise_code, last_reading"
        " FROM meter_last_readings() ORDER BY last_reading NULLS FIRST, meter_id",
    )


async def dead_letter_reasons(conn: psycopg.AsyncConnection) -> list[Row]:
    """The ten most frequent reasons of the last day's dead letters (cut to 120 characters)."""
    return await fetch_all(
        conn,
        "SELECT reason, messages FROM dead_letter_reasons_1d"
        " ORDER BY messages DESC, reason LIMIT 10",
    )


async def aggregation_backlog(conn: psycopg.AsyncConnection) -> Row:
    """The oldest aggregator watermark (``watermark_at``) and the changes past it (``changes``)."""
    return await fetch_one(conn, "SELECT watermark_at, changes FROM aggregation_backlog")
