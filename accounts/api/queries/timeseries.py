"""An enterprise's energy and emissions per bucket, carrier and role, over ``emissions_15m``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from accounts.api._series import BUCKET, Granularity, local_text
from accounts.api.queries import Row, fetch_all

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


async def points(
    conn: psycopg.AsyncConnection,
    code: str,
    granularity: Granularity,
    *,
    start: datetime,
    end: datetime,
    carrier: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> list[Row]:
    """Sums per bucket (named by its local start), carrier and role in ``[start, end)``, after
    the key ``after`` (bucket, carrier, role) when given."""
    query = sql.SQL(_QUERY).format(text=local_text(BUCKET[granularity]))
    return await fetch_all(
        conn,
        query,
        {
            "code": code,
            "start": start,
            "end": end,
            "carrier": carrier,
            "after": after[0] if after else None,
            "c": after[1] if after else None,
            "r": after[2] if after else None,
            "limit": limit,
        },
    )
