"""Time series of an enterprise's energy and emissions by carrier (and booking role)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from accounts.api._common import EnterpriseCode, utcnow
from accounts.api._consent import Scope
from accounts.api._pagination import CursorQuery, Page, decode_cursor, page
from accounts.api._problems import Problem
from accounts.api._series import Granularity
from accounts.api.deps import DbAccessDep
from accounts.api.queries import timeseries as queries

router = APIRouter(tags=["time series"])

DEFAULT_SPAN = {
    Granularity.MIN15: timedelta(days=1),
    Granularity.HOUR: timedelta(days=7),
    Granularity.DAY: timedelta(days=92),
    Granularity.MONTH: timedelta(days=731),
}
Carrier = Annotated[str | None, Query(pattern=r"^[a-z_]{1,20}$", examples=["electricity"])]


class Point(BaseModel):
    bucket: str
    """start of the bucket, local time (Asia/Shanghai)"""
    carrier: str
    role: str
    unit: str
    activity: Decimal
    tco2: Decimal | None
    """factor emissions (negative for exports; none for own generation and CEMS rows)"""
    tco2_measured: Decimal | None
    tce_equivalent: Decimal | None


@router.get(
    "/enterprises/{code}/timeseries",
    response_model=Page[Point],
    summary="energy and emissions per bucket (15m, hour, local day or month) by carrier",
)
async def timeseries(
    access: DbAccessDep,
    code: EnterpriseCode,
    granularity: Granularity = Granularity.HOUR,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    carrier: Carrier = None,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 1_000,
    cursor: CursorQuery = None,
) -> Page[Point]:
    until: datetime = end or utcnow()
    since: datetime = start or until - DEFAULT_SPAN[granularity]
    if since >= until:
        raise Problem(422, "from: must be before to")
    after = decode_cursor(cursor, str, str, str)
    await access.enterprise(code, "timeseries.read", Scope.TIMESERIES)
    rows = await queries.points(
        access.conn,
        code,
        granularity,
        start=since,
        end=until,
        carrier=carrier,
        after=after,
        limit=limit + 1,
    )
    items = [Point.model_validate(r) for r in rows]
    return page(items, limit, lambda p: (p.bucket, p.carrier, p.role))
