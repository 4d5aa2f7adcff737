"""The ecology bureau's views: the live city overview, data-quality alerts and ingest health.

Everything here is computed from the live relations (``emissions_15m`` over the rollups,
``account_periods``, ``quality_events``, ``readings``, ``dead_letters``); days are Asia/Shanghai
days, "now" is the last complete 15-minute bucket.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel

from accounts.api._common import CODE_PATTERN, utcnow
from accounts.api._keys import Role
from accounts.api._pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from accounts.api._time import floor_15m
from accounts.api.deps import DbAccessDep
from carbonledger.tz import SHANGHAI

router = APIRouter(prefix="/bureau", tags=["bureau"])

BUREAU = (Role.BUREAU, Role.ADMIN)
CONSUMING = ("purchased", "combustion", "process")  # roles whose activity is energy used


class CarrierTotal(BaseModel):
    carrier: str
    unit: str
    energy_now: Decimal
    energy_today: Decimal
    tco2_now: Decimal
    tco2_today: Decimal
    tce_today: Decimal


class GroupTotals(BaseModel):
    name: str
    carriers: list[CarrierTotal]


class Emitter(BaseModel):
    enterprise_code: str
    name: str
    district: str
    industry_code: str
    tco2_today: Decimal


class TwoHigh(BaseModel):
    enterprise_code: str
    name: str
    district: str
    industry_code: str
    tce: Decimal
    period: str
    """which account period the energy figure is (the live rolling 12 months)"""


class Window(BaseModel):
    start: datetime
    end: datetime


class Overview(BaseModel):
    as_of: datetime
    now: Window
    today: Window
    city: list[CarrierTotal]
    districts: list[GroupTotals]
    industries: list[GroupTotals]
    """by GB/T 4754 division (two digits)"""
    top_emitters: list[Emitter]
    two_high: list[TwoHigh]
    two_high_threshold_tce: Decimal


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


@router.get("/overview", response_model=Overview, summary="city, district and industry totals")
async def overview(access: DbAccessDep) -> Overview:
    await access.role("bureau.overview", *BUREAU)
    settings = access.state.settings.api
    policy = access.state.settings.accounts
    as_of = utcnow()
    t1 = floor_15m(as_of)
    local = as_of.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    params = {
        "t0": t1 - timedelta(minutes=15),
        "t1": t1,
        "midnight": midnight,
        "end": as_of,
        "top": settings.top_emitters,
        "divisions": list(policy.two_high_divisions),
    }
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(_TOTALS, params)
    city: list[CarrierTotal] = []
    districts: dict[str, list[CarrierTotal]] = {}
    industries: dict[str, list[CarrierTotal]] = {}
    for row in await cur.fetchall():
        total = CarrierTotal.model_validate(row)
        if not row["by_district"]:
            districts.setdefault(row["district"], []).append(total)
        elif not row["by_industry"]:
            industries.setdefault(row["division"], []).append(total)
        else:
            city.append(total)
    await cur.execute(_TOP, params)
    top = [Emitter.model_validate(r) for r in await cur.fetchall()]
    await cur.execute(_TWO_HIGH, params)
    two_high = [
        TwoHigh.model_validate(r) for r in await cur.fetchall() if r["tce"] > policy.two_high_tce
    ]
    two_high.sort(key=lambda t: (-t.tce, t.enterprise_code))
    return Overview(
        as_of=as_of,
        now=Window(start=params["t0"], end=t1),
        today=Window(start=midnight, end=as_of),
        city=city,
        districts=[GroupTotals(name=k, carriers=v) for k, v in sorted(districts.items())],
        industries=[GroupTotals(name=k, carriers=v) for k, v in sorted(industries.items())],
        top_emitters=top,
        two_high=two_high,
        two_high_threshold_tce=policy.two_high_tce,
    )


class QualityAlert(BaseModel):
    time: datetime
    enterprise_code: str
    enterprise_name: str
    district: str
    meter_id: str
    quantity: str
    kind: str
    amount: Decimal
    detail: str
    detected_at: datetime


Kind = Literal["offline", "stuck", "spike", "reset", "negative_delta", "clock_skew"]


@router.get(
    "/quality-alerts",
    response_model=Page[QualityAlert],
    summary="data-quality events (offline, stuck, spike...), newest first",
)
async def quality_alerts(
    access: DbAccessDep,
    kind: Kind | None = None,
    enterprise: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    district: Annotated[str | None, Query(max_length=40)] = None,
    since: AwareDatetime | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[QualityAlert]:
    await access.role("bureau.quality_alerts", *BUREAU)
    after = decode_cursor(cursor, str, str, str, str)
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT q.time, trim(q.enterprise_code) AS enterprise_code, e.name AS enterprise_name,"
        " e.district, q.meter_id, q.quantity, q.kind, q.amount, q.detail, q.detected_at"
        " FROM quality_events q JOIN enterprises e ON e.code = q.enterprise_code"
        " WHERE (%(kind)s::text IS NULL OR q.kind = %(kind)s)"
        " AND (%(code)s::text IS NULL OR q.enterprise_code = %(code)s)"
        " AND (%(district)s::text IS NULL OR e.district = %(district)s)"
        " AND (%(since)s::timestamptz IS NULL OR q.time >= %(since)s)"
        " AND (%(after)s::boolean IS NULL OR (q.time, q.meter_id, q.quantity, q.kind)"
        "      < (%(t)s::timestamptz, %(m)s, %(q)s, %(k)s))"
        " ORDER BY q.time DESC, q.meter_id DESC, q.quantity DESC, q.kind DESC LIMIT %(limit)s",
        {
            "kind": kind,
            "code": enterprise,
            "district": district,
            "since": since,
            "after": True if after else None,
            "t": after[0] if after else None,
            "m": after[1] if after else None,
            "q": after[2] if after else None,
            "k": after[3] if after else None,
            "limit": limit + 1,
        },
    )
    items = [QualityAlert.model_validate(r) for r in await cur.fetchall()]
    return page(items, limit, lambda a: (a.time.isoformat(), a.meter_id, a.quantity, a.kind))


class SilentMeter(BaseModel):
    meter_id: str
    enterprise_code: str
    last_reading: datetime | None


class DeadLetterReason(BaseModel):
    reason: str
    messages: int


class IngestHealth(BaseModel):
    as_of: datetime
    readings_last_5min: int
    readings_per_s: Decimal
    last_received_at: datetime | None
    meters: int
    silent_meters: int
    """meters with no reading for longer than aggregate.offline_after_s"""
    silent_sample: list[SilentMeter]
    dead_letters_last_hour: int
    dead_letters_last_day: int
    dead_letter_reasons: list[DeadLetterReason]
    aggregator_watermark_at: datetime | None
    aggregator_backlog: int
    """reading_changes rows past the oldest aggregator watermark"""


@router.get("/ingest-health", response_model=IngestHealth, summary="is data arriving?")
async def ingest_health(access: DbAccessDep) -> IngestHealth:
    await access.role("bureau.ingest_health", *BUREAU)
    offline_s = access.state.settings.aggregate.offline_after_s
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT count(*) AS n, max(received_at) AS last FROM readings"
        " WHERE time > now() - interval '5 minutes'"
    )
    recent = await cur.fetchone()
    assert recent is not None  # noqa: S101 - an aggregate has one row
    await cur.execute(
        "SELECT meter_id, trim(enterprise_code) AS enterprise_code, last_reading"
        " FROM meter_last_readings() ORDER BY last_reading NULLS FIRST, meter_id"
    )
    meters = await cur.fetchall()
    limit = utcnow() - timedelta(seconds=offline_s)
    silent = [SilentMeter.model_validate(m) for m in meters
              if m["last_reading"] is None or m["last_reading"] < limit]  # fmt: skip
    await cur.execute(
        "SELECT count(*) FILTER (WHERE received_at > now() - interval '1 hour') AS hour,"
        " count(*) AS day FROM dead_letters WHERE received_at > now() - interval '1 day'"
    )
    dead = await cur.fetchone()
    assert dead is not None  # noqa: S101
    await cur.execute(
        "SELECT left(reason, 120) AS reason, count(*) AS messages FROM dead_letters"
        " WHERE received_at > now() - interval '1 day' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
    )
    reasons = [DeadLetterReason.model_validate(r) for r in await cur.fetchall()]
    await cur.execute("SELECT min(updated_at) AS at, min(txid) AS txid FROM aggregator_watermarks")
    mark = await cur.fetchone()
    assert mark is not None  # noqa: S101
    backlog = 0
    if mark["txid"] is not None:
        await cur.execute(
            "SELECT count(*) AS n FROM reading_changes WHERE txid >= %s", (mark["txid"],)
        )
        row = await cur.fetchone()
        backlog = int(row["n"]) if row else 0
    return IngestHealth(
        as_of=utcnow(),
        readings_last_5min=recent["n"],
        readings_per_s=(Decimal(recent["n"]) / 300).quantize(Decimal("0.01")),
        last_received_at=recent["last"],
        meters=len(meters),
        silent_meters=len(silent),
        silent_sample=silent[:20],
        dead_letters_last_hour=dead["hour"],
        dead_letters_last_day=dead["day"],
        dead_letter_reasons=reasons,
        aggregator_watermark_at=mark["at"],
        aggregator_backlog=backlog,
    )
