"""Time series of an enterprise's energy and emissions by carrier (and booking role)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel

from accounts.api._common import EnterpriseCode, utcnow
from accounts.api._consent import Scope
from accounts.api._pagination import CursorQuery, Page, decode_cursor, page
from accounts.api._problems import Problem
from accounts.api._series import BUCKET, Granularity, local_text
from accounts.api.deps import DbAccessDep

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


_QUERY = """
SELECT * FROM (
    SELECT {text} AS bucket, x.carrier, x.role, x.unit,
           trim_scale(sum(x.activity)) AS activity, trim_scale(sum(x.tco2)) AS tco2,
           trim_scale(sum(x.tco2_measured)) AS tco2_measured,
           trim_scale(sum(x.tce_equivalent)) AS tce_equivalent
    FROM emissions_15m x
    WHERE x.enterprise_code = %(code)s AND x.bucket >= %(start)s AND x.bucket < %(end)s
      AND (%(carrier)s::text IS NULL OR x.carrier = %(carrier)s)
    GROUP BY 1, 2, 3, 4
) g
WHERE %(after)s::text IS NULL OR (g.bucket, g.carrier, g.role) > (%(after)s, %(c)s, %(r)s)
ORDER BY g.bucket, g.carrier, g.role LIMIT %(limit)s
"""


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
    bucket = BUCKET[granularity]
    query = sql.SQL(_QUERY).format(text=local_text(bucket))
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        query,
        {
            "code": code,
            "start": since,
            "end": until,
            "carrier": carrier,
            "after": after[0] if after else None,
            "c": after[1] if after else None,
            "r": after[2] if after else None,
            "limit": limit + 1,
        },
    )
    items = [Point.model_validate(r) for r in await cur.fetchall()]
    return page(items, limit, lambda p: (p.bucket, p.carrier, p.role))
