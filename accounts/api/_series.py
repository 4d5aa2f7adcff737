"""SQL for time series of energy and emissions over ``emissions_15m``, by fixed fragments.

Buckets are 15 minutes, hours, or Asia/Shanghai days and months; a bucket is named by its start
as local time (``2026-05-01T00:00:00+08:00``). Only these fragments are ever put into SQL.
"""

from __future__ import annotations

from enum import StrEnum

from psycopg import sql


class Granularity(StrEnum):
    MIN15 = "15m"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


BUCKET = {
    Granularity.MIN15: sql.SQL("x.bucket"),
    Granularity.HOUR: sql.SQL("date_trunc('hour', x.bucket)"),
    Granularity.DAY: sql.SQL(
        "(date_trunc('day', x.bucket AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai')"
    ),
    Granularity.MONTH: sql.SQL(
        "(date_trunc('month', x.bucket AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai')"
    ),
}

LOCAL_TEXT = "to_char({} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"')"


def local_text(expression: sql.Composable) -> sql.Composed:
    """An ISO 8601 text of a timestamptz in Asia/Shanghai."""
    return sql.SQL(LOCAL_TEXT).format(expression)


EXPORT_COLUMNS = ("enterprise_code", "period_start", "meter_id", "carrier", "role", "unit",
                  "activity", "tco2", "tco2_measured", "tce_equivalent")  # fmt: skip


def export_query(granularity: Granularity, carrier: bool) -> sql.Composed:
    """Export rows (``EXPORT_COLUMNS``, as text); parameters codes, start, end[, carrier].

    15-minute rows are the view's own rows; coarser ones are sums per meter, carrier and role.
    Ordered by enterprise and time, so a client can resume from the last bucket it has.
    """
    where: sql.Composable = sql.SQL(
        "x.enterprise_code = ANY (%(codes)s) AND x.bucket >= %(start)s AND x.bucket < %(end)s"
    )
    if carrier:
        where = sql.SQL("{} AND x.carrier = %(carrier)s").format(where)
    if granularity is Granularity.MIN15:
        return sql.SQL(
            "SELECT trim(x.enterprise_code), {start}, x.meter_id, x.carrier, x.role, x.unit,"
            " trim_scale(x.activity)::text, trim_scale(x.tco2)::text,"
            " trim_scale(x.tco2_measured)::text, trim_scale(x.tce_equivalent)::text"
            " FROM emissions_15m x WHERE {where} ORDER BY x.enterprise_code, x.bucket, x.meter_id"
        ).format(start=local_text(sql.SQL("x.bucket")), where=where)
    bucket = BUCKET[granularity]
    return sql.SQL(
        "SELECT trim(x.enterprise_code), {start}, x.meter_id, x.carrier, x.role, x.unit,"
        " trim_scale(sum(x.activity))::text, trim_scale(sum(x.tco2))::text,"
        " trim_scale(sum(x.tco2_measured))::text, trim_scale(sum(x.tce_equivalent))::text"
        " FROM emissions_15m x WHERE {where}"
        " GROUP BY x.enterprise_code, {bucket}, x.meter_id, x.carrier, x.role, x.unit"
        " ORDER BY x.enterprise_code, {bucket}, x.meter_id, x.role"
    ).format(start=local_text(bucket), where=where, bucket=bucket)
