"""One enterprise's drill-down: energy by carrier, its meters, data quality, CEMS measurements."""

from __future__ import annotations

from dashboards._model import Dashboard, Format, Kind, Panel, Sql
from dashboards._sql import BOOKED, ENTERPRISE, local

_ENERGY_IN_RANGE = Panel(
    "Energy in range",
    Kind.STAT,
    (
        Sql("""
            SELECT m.carrier || ' (' || r.unit || ')' AS "carrier", sum(r.activity) AS "activity"
            FROM rollups_15m_activity r
            JOIN meters m ON m.id = r.meter_id AND m.quantity = r.quantity
            WHERE r.enterprise_code = '$enterprise' AND $__timeFilter(r.bucket)
            GROUP BY 1
            ORDER BY 1
        """),
    ),
    description="Booked activity of each carrier in its metered unit.",
    decimals=1,
    width=24,
    height=4,
    options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}},
)

_ENERGY_SERIES = Panel(
    "Energy by carrier",
    Kind.TIMESERIES,
    (
        Sql(
            f"""
            SELECT $__timeGroupAlias(r.bucket, $__interval),
                   m.carrier || ' (' || r.unit || ')' AS metric, sum(r.activity) AS "activity"
            FROM {BOOKED}
            WHERE r.enterprise_code = '$enterprise' AND $__timeFilter(r.bucket)
            GROUP BY 1, 2
            ORDER BY 1
            """,
            Format.TIME_SERIES,
        ),
    ),
    description="Booked activity per interval (at least 15 minutes), each carrier in its unit.",
    min_interval="15m",
    width=12,
)

_ENERGY_DAILY = Panel(
    "Energy per local day",
    Kind.TIMESERIES,
    (
        Sql(
            f"""
            SELECT {local("day", "r.bucket")} AS "time",
                   m.carrier || ' (' || r.unit || ')' AS metric, sum(r.activity) AS "activity"
            FROM {BOOKED}
            WHERE r.enterprise_code = '$enterprise' AND $__timeFilter(r.bucket)
            GROUP BY 1, 2
            ORDER BY 1
            """,
            Format.TIME_SERIES,
        ),
    ),
    description="Days from 00:00 Asia/Shanghai (a partial day at either end of the range).",
    width=12,
    options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
)

_CEMS = Panel(
    "CEMS-measured CO₂",
    Kind.TIMESERIES,
    (
        Sql(
            """
            SELECT $__timeGroupAlias(r.bucket, $__interval), r.meter_id AS metric,
                   sum(r.activity) AS "tCO2"
            FROM rollups_15m_activity r
            WHERE r.enterprise_code = '$enterprise' AND r.quantity = 'co2_mass'
              AND $__timeFilter(r.bucket)
            GROUP BY 1, 2
            ORDER BY 1
            """,
            Format.TIME_SERIES,
        ),
    ),
    description="Stack CO₂ integrated from CEMS concentration and flow (HJ 75-2017).",
    unit="masst",
    min_interval="15m",
    width=12,
)

_METERS = Panel(
    "Meters",
    Kind.TABLE,
    (
        Sql("""
            SELECT m.id AS "meter", m.carrier AS "carrier", m.quantity AS "quantity",
                   coalesce(m.role, 'carrier default') AS "role",
                   coalesce(m.source, m.carrier) AS "source",
                   (SELECT max(x.time) FROM readings x WHERE x.meter_id = m.id
                      AND x.quantity = m.quantity AND x.time <= $__timeTo()) AS "last reading",
                   (SELECT sum(c.covered_ms)::numeric / nullif(900000 * count(*), 0)
                      FROM rollups_15m c WHERE c.meter_id = m.id
                      AND $__timeFilter(c.bucket)) AS "coverage"
            FROM meters m
            WHERE m.enterprise_code = '$enterprise'
            ORDER BY m.id
        """),
    ),
    description="Coverage: the share of the meter's 15-minute buckets in the range covered.",
    width=12,
)

_QUALITY = Panel(
    "Data-quality events",
    Kind.TABLE,
    (
        Sql("""
            SELECT q.time AS "time", q.meter_id AS "meter", q.kind AS "kind",
                   q.amount AS "amount", q.detail AS "detail"
            FROM quality_events q
            WHERE q.enterprise_code = '$enterprise' AND $__timeFilter(q.time)
            ORDER BY q.time DESC
            LIMIT 200
        """),
    ),
    description="Offline, stuck, spike, reset, negative delta and clock skew findings.",
    width=12,
)

ENTERPRISE_DASHBOARD = Dashboard(
    uid="carbonledger-enterprise",
    title="Enterprise drill-down",
    description="One enterprise's energy, emissions, grade and data quality.",
    variables=(ENTERPRISE,),
    time_from="now-7d/d",
    panels=(_ENERGY_IN_RANGE, _ENERGY_SERIES, _ENERGY_DAILY, _CEMS, _METERS, _QUALITY),
)
