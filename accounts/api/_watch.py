"""Watched signals: a grade or level that worsens, data quality that falls below the threshold.

For each enterprise on some bank's watchlist, :func:`detect` compares the current value of each
signal with the last one seen (``watch_signals``) and queues an event when it got worse:

- ``grade.worsened``: per period kind and grading model, the latest period's grade (1 best, 5
  worst) or level (低碳 < 中碳 < 高碳) is worse than the last seen one (a new period counts);
- ``quality.below_threshold``: the coverage of the last ``api.quality_window_h`` hours (mean over
  the enterprise's meters of the share of the window their rollups cover) fell below
  ``api.quality_threshold`` (told once; again only after it recovered).

The first look at a grade only records it; a transaction-level advisory lock lets one detector
run at a time however many API processes run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from accounts.api._time import floor_15m
from accounts.api._webhooks import create_event
from carbonledger.config import ApiSettings

_LOCK = 0x636C_6170_6977  # "clapiw": any constant shared by all detectors
_LEVELS = {"低碳": 1, "中碳": 2, "高碳": 3}
_COLOURS = {"深绿": 1, "浅绿": 2, "黄": 3, "红": 4}

_GRADES = """
SELECT DISTINCT ON (trim(enterprise_code), period_kind, model)
       trim(enterprise_code) AS code, period_kind, model, period_start, grade, level, colour
FROM grades WHERE enterprise_code = ANY (%s) AND period_kind = ANY (%s)
ORDER BY trim(enterprise_code), period_kind, model, period_start DESC
"""

_COVERAGE = """
WITH c AS (
    SELECT meter_id, quantity, sum(covered_ms) AS ms FROM booked_rollups
    WHERE enterprise_code = ANY (%(codes)s) AND bucket >= %(start)s AND bucket < %(end)s
    GROUP BY meter_id, quantity
)
SELECT trim(m.enterprise_code) AS code, count(*) AS meters,
       sum(least(coalesce(x.ms, 0), %(window_ms)s)) AS covered_ms
FROM meters m LEFT JOIN LATERAL (SELECT max(ms) AS ms FROM c WHERE c.meter_id = m.id) x ON true
WHERE m.enterprise_code = ANY (%(codes)s)
GROUP BY m.enterprise_code
"""


def _rank(value: dict[str, Any]) -> tuple[int, int]:
    return (
        value.get("grade") or _COLOURS.get(value.get("colour") or "", 0),
        _LEVELS.get(value.get("level") or "", 0),
    )


def worse(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """A higher grade number (or a darker colour), or a worse level."""
    (g0, l0), (g1, l1) = _rank(before), _rank(now)
    return (g1 > g0 > 0) or (l1 > l0 > 0)


async def detect(
    conn: psycopg.AsyncConnection,
    settings: ApiSettings,
    now: datetime,
    period_kinds: tuple[str, ...] = ("year", "rolling12", "month"),
) -> int:
    """One detection pass; returns the number of deliveries queued."""
    async with conn.transaction():
        cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK,))
        row = await cur.fetchone()
        if not row or not row[0]:
            return 0
        cur = await conn.execute("SELECT DISTINCT trim(enterprise_code) FROM watchlist")
        codes = [r[0] for r in await cur.fetchall()]
        if not codes:
            return 0
        seen = await _seen(conn, codes)
        queued = 0
        for signal, code, value, event in await _grade_signals(conn, codes, period_kinds, seen):
            queued += await _record(conn, code, signal, value, event)
        for signal, code, value, event in await _quality_signals(conn, codes, settings, now, seen):
            queued += await _record(conn, code, signal, value, event)
        return queued


async def _seen(conn: psycopg.AsyncConnection, codes: list[str]) -> dict[tuple[str, str], Any]:
    cur = await conn.execute(
        "SELECT trim(enterprise_code), signal, value FROM watch_signals"
        " WHERE enterprise_code = ANY (%s)",
        (codes,),
    )
    return {(code, signal): value for code, signal, value in await cur.fetchall()}


Signal = tuple[str, str, dict[str, Any], tuple[str, dict[str, Any]] | None]


async def _grade_signals(
    conn: psycopg.AsyncConnection,
    codes: list[str],
    kinds: tuple[str, ...],
    seen: dict[tuple[str, str], Any],
) -> list[Signal]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_GRADES, (codes, list(kinds)))
    out: list[Signal] = []
    for row in await cur.fetchall():
        signal = f"grade:{row['period_kind']}:{row['model']}"
        value = {
            "period_kind": row["period_kind"],
            "period_start": row["period_start"].isoformat(),
            "model": row["model"],
            "grade": row["grade"],
            "level": row["level"],
            "colour": row["colour"],
        }
        before = seen.get((row["code"], signal))
        if before == value:
            continue
        event = None
        if before is not None and worse(before, value):
            event = ("grade.worsened", {"previous": before, "current": value})
        out.append((signal, row["code"], value, event))
    return out


async def _quality_signals(
    conn: psycopg.AsyncConnection,
    codes: list[str],
    settings: ApiSettings,
    now: datetime,
    seen: dict[tuple[str, str], Any],
) -> list[Signal]:
    end = floor_15m(now)
    window = timedelta(hours=settings.quality_window_h)
    window_ms = int(window.total_seconds() * 1000)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        _COVERAGE, {"codes": codes, "start": end - window, "end": end, "window_ms": window_ms}
    )
    out: list[Signal] = []
    for row in await cur.fetchall():
        coverage = (Decimal(row["covered_ms"]) / (row["meters"] * window_ms)).quantize(
            Decimal("0.0001")
        )
        below = coverage < settings.quality_threshold
        before = seen.get((row["code"], "quality"))
        if before is not None and before["below"] == below:
            continue
        value = {"below": below, "coverage": str(coverage)}
        event = None
        if below:
            event = (
                "quality.below_threshold",
                {
                    "coverage": str(coverage),
                    "threshold": str(settings.quality_threshold),
                    "window": {"start": (end - window).isoformat(), "end": end.isoformat()},
                    "meters": row["meters"],
                },
            )
        out.append(("quality", row["code"], value, event))
    return out


async def _record(
    conn: psycopg.AsyncConnection,
    code: str,
    signal: str,
    value: dict[str, Any],
    event: tuple[str, dict[str, Any]] | None,
) -> int:
    await conn.execute(
        "INSERT INTO watch_signals (enterprise_code, signal, value) VALUES (%s, %s, %s)"
        " ON CONFLICT (enterprise_code, signal) DO UPDATE SET value = excluded.value,"
        " updated_at = now()",
        (code, signal, orjson.dumps(value).decode()),
    )
    if event is None:
        return 0
    return await create_event(conn, event[0], code, event[1])
