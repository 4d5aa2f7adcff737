"""One enterprise's drill-down: energy by carrier, its meters, data quality, CEMS measurements."""

from __future__ import annotations

from dashboards._model import Dashboard, stat, table, timeseries
from dashboards._sql import BOOKED, ENTERPRISE, TCO2, current, local

_ENERGY_IN_RANGE = stat(
    "Energy in range",
    """
        SELECT m.carrier || ' (' || r.unit || ')' AS "carrier", sum(r.activity) AS "activity"
        FROM rollups_15m_activity r
        JOIN meters m ON m.id = r.meter_id AND m.quantity = r.quantity
        WHERE r.enterprise_code = '$enterprise' AND $__timeFilter(r.bucket)
        GROUP BY 1
        ORDER BY 1
    """,
    description="Booked activity of each carrier in its metered unit.",
    decimals=1,
    width=24,
    height=4,
    options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}},
)

_ENERGY_SERIES = timeseries(
    "Energy by carrier",
    f"""
        SELECT $__timeGroupAlias(r.bucket, $__interval),
               m.carrier || ' (' || r.unit || ')' AS metric, sum(r.activity) AS "activity"
        FROM {BOOKED}
        WHERE r.enterprise_code = '$enterprise' AND $__timeFilter(r.bucket)
        GROUP BY 1, 2
        ORDER BY 1
    """,
    description="Booked activity per interval (at least 15 minutes), each carrier in its unit.",
    min_interval="15m",
    width=12,
)

_ENERGY_DAILY = timeseries(
    "Energy per local day",
    f"""
        SELECT {local("day", "r.bucket")} AS "time",
               m.carrier || ' (' || r.unit || ')' AS metric, sum(r.activity) AS "activity"
        FROM {BOOKED}
        WHERE r.enterprise_code = '$enterprise' AND $__timeFilter(r.bucket)
        GROUP BY 1, 2
        ORDER BY 1
    """,
    description="Days from 00:00 Asia/Shanghai (a partial day at either end of the range).",
    width=12,
    options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
)

_METERS = table(
    "Meters",
    """
        SELECT m.id AS "meter", m.carrier AS "carrier", m.quantity AS "quantity",
               coalesce(m.role, 'carrier default') AS "role",
               coalesce(m.source, m.carrier) AS "source",
               l.last_reading AS "last reading",
               (SELECT sum(c.covered_ms)::numeric / nullif(900000 * count(*), 0)
                  FROM booked_rollups c WHERE c.meter_id = m.id
                  AND $__timeFilter(c.bucket)) AS "coverage"
        FROM meters m JOIN meter_last_readings($__timeTo()) l ON l.meter_id = m.id
        WHERE m.enterprise_code = '$enterprise'
        ORDER BY m.id
    """,
    description="Coverage: the share of the meter's 15-minute buckets in the range covered.",
    width=12,
)

_QUALITY = table(
    "Data-quality events",
    """
        SELECT q.time AS "time", q.meter_id AS "meter", q.kind AS "kind",
               q.amount AS "amount", q.detail AS "detail"
        FROM quality_events q
        WHERE q.enterprise_code = '$enterprise' AND $__timeFilter(q.time)
        ORDER BY q.time DESC
        LIMIT 200
    """,
    description="Offline, stuck, spike, reset, negative delta and clock skew findings.",
    width=12,
)

_ACCOUNT = stat(
    "Account (live)",
    f"""
        SELECT a.period_kind || ' ' || a.period_start AS "period", a.tco2_total AS "tCO2",
               a.tce_equivalent AS "tce", a.intensity_va AS "tCO2/万元 value added",
               a.coverage AS "coverage"
        FROM (SELECT * FROM {current("account_periods", "mtd")} m
              UNION ALL SELECT * FROM {current("account_periods", "rolling12")} r) a
        WHERE a.enterprise_code = '$enterprise'
        ORDER BY a.period_kind
    """,
    description="Month to date and rolling 12 months, as `accounts run` keeps them.",
    decimals=3,
    width=24,
    height=5,
    options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}},
)

_SCOPES = timeseries(
    "Emissions by scope",
    """
        SELECT $__timeGroupAlias(x.bucket, $__interval),
               coalesce(sum(x.tco2) FILTER (WHERE x.scope = 1), 0) AS "scope 1",
               coalesce(sum(x.tco2) FILTER (WHERE x.scope = 2), 0) AS "scope 2",
               coalesce(sum(x.tco2_avoided), 0) AS "avoided by own generation"
        FROM emissions_15m x
        WHERE x.enterprise_code = '$enterprise' AND $__timeFilter(x.bucket)
        GROUP BY 1
        ORDER BY 1
    """,
    unit=TCO2,
    min_interval="15m",
    width=12,
)

_MEASURED_VS_CALCULATED = timeseries(
    "CEMS-measured against calculated",
    """
        SELECT $__timeGroupAlias(x.bucket, $__interval),
               coalesce(sum(x.tco2_measured), 0) AS "measured (CEMS)",
               coalesce(sum(x.tco2) FILTER (WHERE x.scope = 1), 0) AS "calculated scope 1"
        FROM emissions_15m x
        WHERE x.enterprise_code = '$enterprise' AND $__timeFilter(x.bucket)
        GROUP BY 1
        ORDER BY 1
    """,
    description="Stack CO₂ (实测法, HJ 75-2017) beside the fuel-based calculation of scope 1.",
    unit=TCO2,
    min_interval="15m",
    width=12,
)

_GRADE_HISTORY = table(
    "Grade history",
    """
        SELECT g.period_kind AS "period", g.period_start AS "from", g.model AS "model",
               coalesce(g.colour, g.level || g.grade || '级', g.grade || '级', 'not graded')
                   AS "code",
               g.k_value AS "K", g.l_value AS "L (tCO2/万元)", g.industry_l AS "industry L",
               g.label AS "label", g.computed_at AS "computed"
        FROM grades g
        WHERE g.enterprise_code = '$enterprise'
        ORDER BY g.period_start DESC, g.period_kind, g.model
    """,
    description="Every graded period (annual codes, and live estimates labelled as such).",
    width=24,
)

ENTERPRISE_DASHBOARD = Dashboard(
    uid="carbonledger-enterprise",
    title="Enterprise drill-down",
    description="One enterprise's energy, emissions, grade and data quality.",
    variables=(ENTERPRISE,),
    time_from="now-7d/d",
    panels=(
        _ACCOUNT,
        _SCOPES,
        _MEASURED_VS_CALCULATED,
        _GRADE_HISTORY,
        _ENERGY_IN_RANGE,
        _ENERGY_SERIES,
        _ENERGY_DAILY,
        _METERS,
        _QUALITY,
    ),
)
