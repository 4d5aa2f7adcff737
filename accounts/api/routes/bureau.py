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
from pydantic import AwareDatetime, BaseModel

from accounts.api._common import CODE_PATTERN, utcnow
from accounts.api._keys import Role
from accounts.api._pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from accounts.api._time import floor_15m
from accounts.api.deps import DbAccessDep
from accounts.api.queries import bureau as queries
from carbonledger.tz import SHANGHAI

router = APIRouter(prefix="/bureau", tags=["bureau"])

BUREAU = (Role.BUREAU, Role.ADMIN)


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


@router.get("/overview", response_model=Overview, summary="city, district and industry totals")
async def overview(access: DbAccessDep) -> Overview:
    await access.role("bureau.overview", *BUREAU)
    settings = access.state.settings.api
    policy = access.state.settings.accounts
    as_of = utcnow()
    t1 = floor_15m(as_of)
    local = as_of.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    t0 = t1 - timedelta(minutes=15)
    city: list[CarrierTotal] = []
    districts: dict[str, list[CarrierTotal]] = {}
    industries: dict[str, list[CarrierTotal]] = {}
    conn = access.conn
    for row in await queries.carrier_totals(conn, t0=t0, t1=t1, midnight=midnight, end=as_of):
        total = CarrierTotal.model_validate(row)
        if not row["by_district"]:
            districts.setdefault(row["district"], []).append(total)
        elif not row["by_industry"]:
            industries.setdefault(row["division"], []).append(total)
        else:
            city.append(total)
    emitters = await queries.top_emitters(
        conn, midnight=midnight, end=as_of, top=settings.top_emitters
    )
    top = [Emitter.model_validate(r) for r in emitters]
    candidates = await queries.two_high_candidates(conn, list(policy.two_high_divisions))
    two_high = [TwoHigh.model_validate(r) for r in candidates if r["tce"] > policy.two_high_tce]
    two_high.sort(key=lambda t: (-t.tce, t.enterprise_code))
    return Overview(
        as_of=as_of,
        now=Window(start=t0, end=t1),
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
    rows = await queries.quality_events(
        access.conn,
        kind=kind,
        code=enterprise,
        district=district,
        since=since,
        before=after,
        limit=limit + 1,
    )
    items = [QualityAlert.model_validate(r) for r in rows]
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
    conn = access.conn
    recent = await queries.ingest_recent(conn)
    meters = await queries.meter_last_readings(conn)
    limit = utcnow() - timedelta(seconds=offline_s)
    silent = [SilentMeter.model_validate(m) for m in meters
              if m["last_reading"] is None or m["last_reading"] < limit]  # fmt: skip
    reasons = [DeadLetterReason.model_validate(r) for r in await queries.dead_letter_reasons(conn)]
    backlog = await queries.aggregation_backlog(conn)
    return IngestHealth(
        as_of=utcnow(),
        readings_last_5min=recent["readings_5m"],
        readings_per_s=(Decimal(recent["readings_5m"]) / 300).quantize(Decimal("0.01")),
        last_received_at=recent["last_received"],
        meters=len(meters),
        silent_meters=len(silent),
        silent_sample=silent[:20],
        dead_letters_last_hour=recent["dead_letters_1h"],
        dead_letters_last_day=recent["dead_letters_1d"],
        dead_letter_reasons=reasons,
        aggregator_watermark_at=backlog["watermark_at"],
        aggregator_backlog=backlog["changes"],
    )
