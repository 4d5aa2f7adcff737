"""The ecology bureau's live city cockpit (可视化驾驶舱): the city by district and industry."""

from __future__ import annotations

from dashboards._model import Dashboard, Panel, barchart, piechart, stat, table, timeseries
from dashboards._sql import (
    BOOKED,
    CITY_FILTER,
    DISTRICT,
    EMISSIONS,
    GRADE_TEXT,
    INDUSTRY,
    LOCAL_DAY_START,
    TCE,
    TCO2,
    current,
)


def _today(carrier: str, title: str, unit: str) -> Panel:
    return stat(
        title,
        f"""
            SELECT coalesce(sum(r.activity), 0) AS "{carrier}"
            FROM {BOOKED}
            WHERE r.bucket >= {LOCAL_DAY_START} AND r.bucket < $__timeTo()
              AND m.carrier = '{carrier}' AND {CITY_FILTER}
        """,
        description="Booked activity since local midnight (Asia/Shanghai) of the range's end day.",
        unit=unit,
        decimals=0,
        width=8,
        height=4,
    )


_REPORTING = stat(
    "Enterprises reporting",
    f"""
        SELECT count(DISTINCT r.enterprise_code) AS "reporting",
               (SELECT count(*) FROM enterprises e WHERE {CITY_FILTER}) AS "registered"
        FROM booked_rollups r JOIN enterprises e ON e.code = r.enterprise_code
        WHERE r.bucket >= $__timeTo()::timestamptz - interval '30 minutes'
          AND r.bucket < $__timeTo() AND r.covered_ms > 0 AND {CITY_FILTER}
    """,
    description="Enterprises with any metered time in the last 30 minutes of the range.",
    width=8,
    height=4,
)

_ELECTRICITY_BY_DISTRICT = timeseries(
    "Electricity by district",
    f"""
        SELECT $__timeGroupAlias(r.bucket, $__interval), e.district AS metric,
               sum(r.activity) AS "kWh"
        FROM {BOOKED}
        WHERE $__timeFilter(r.bucket) AND m.carrier = 'electricity' AND {CITY_FILTER}
        GROUP BY 1, 2
        ORDER BY 1
    """,
    description="Purchased electricity per interval (at least the 15-minute bucket).",
    unit="kwatth",
    min_interval="15m",
    stacked=True,
    width=16,
)

_ELECTRICITY_BY_INDUSTRY = barchart(
    "Electricity by industry",
    f"""
        SELECT left(e.industry_code, 2) AS "division", sum(r.activity) AS "kWh"
        FROM {BOOKED}
        WHERE $__timeFilter(r.bucket) AND m.carrier = 'electricity' AND {CITY_FILTER}
        GROUP BY 1
        ORDER BY 2 DESC
    """,
    description="Purchased electricity in the range, by GB/T 4754 division.",
    unit="kwatth",
    width=8,
)

_ENERGY_BY_DISTRICT = table(
    "Energy by district and carrier",
    f"""
        SELECT e.district AS "district", m.carrier AS "carrier", r.unit AS "unit",
               sum(r.activity) AS "activity", count(DISTINCT r.enterprise_code) AS "enterprises"
        FROM {BOOKED}
        WHERE $__timeFilter(r.bucket) AND {CITY_FILTER}
        GROUP BY 1, 2, 3
        ORDER BY 1, 2
    """,
    description="Booked activity in the range, each carrier in its metered unit.",
    width=12,
)

_TOP_ELECTRICITY = table(
    "Top electricity users",
    f"""
        SELECT e.name AS "enterprise", e.code AS "code", e.district AS "district",
               e.industry_code AS "industry", sum(r.activity) AS "kWh"
        FROM {BOOKED}
        WHERE $__timeFilter(r.bucket) AND m.carrier = 'electricity' AND {CITY_FILTER}
        GROUP BY e.code
        ORDER BY 5 DESC, 2
        LIMIT 10
    """,
    width=12,
)


def _emissions_today(
    title: str, column: str, alias: str, description: str, unit: str, *, width: int
) -> Panel:
    return stat(
        title,
        f"""
            SELECT coalesce(sum(x.{column}), 0) AS "{alias}"
            FROM {EMISSIONS}
            WHERE x.bucket >= {LOCAL_DAY_START} AND x.bucket < $__timeTo() AND {CITY_FILTER}
        """,
        description=description,
        unit=unit,
        decimals=2,
        width=width,
        height=4,
    )


_CEMS_TODAY = _emissions_today(
    "CEMS-measured CO₂ today",
    "tco2_measured",
    "tCO2 measured",
    "Stack CO₂ measured by CEMS (HJ 75-2017) since local midnight.",
    TCO2,
    width=4,
)

_EMISSIONS_TODAY = _emissions_today(
    "Emissions today",
    "tco2",
    "tCO2",
    "Calculated scope 1 + 2 emissions (net of exports) since local midnight.",
    TCO2,
    width=6,
)

_ENERGY_TODAY = _emissions_today(
    "Energy today",
    "tce_equivalent",
    "tce",
    "Comprehensive energy consumption (GB/T 2589, electricity at equivalent value).",
    TCE,
    width=6,
)

_EMISSIONS_BY_DISTRICT = timeseries(
    "Emissions by district",
    f"""
        SELECT $__timeGroupAlias(x.bucket, $__interval), e.district AS metric,
               sum(x.tco2) AS "tCO2"
        FROM {EMISSIONS}
        WHERE $__timeFilter(x.bucket) AND x.tco2 IS NOT NULL AND {CITY_FILTER}
        GROUP BY 1, 2
        ORDER BY 1
    """,
    unit=TCO2,
    min_interval="15m",
    stacked=True,
    width=16,
)

_EMISSIONS_BY_INDUSTRY = barchart(
    "Emissions by industry",
    f"""
        SELECT left(e.industry_code, 2) AS "division", sum(x.tco2) AS "tCO2"
        FROM {EMISSIONS}
        WHERE $__timeFilter(x.bucket) AND x.tco2 IS NOT NULL AND {CITY_FILTER}
        GROUP BY 1
        ORDER BY 2 DESC
    """,
    description="Calculated emissions in the range by GB/T 4754 division.",
    unit=TCO2,
    width=8,
)

_EMISSIONS_BY_SCOPE = timeseries(
    "Emissions by scope",
    f"""
        SELECT $__timeGroupAlias(x.bucket, $__interval),
               coalesce(sum(x.tco2) FILTER (WHERE x.scope = 1), 0) AS "scope 1",
               coalesce(sum(x.tco2) FILTER (WHERE x.scope = 2), 0) AS "scope 2",
               coalesce(sum(x.tco2_measured), 0) AS "CEMS measured"
        FROM {EMISSIONS}
        WHERE $__timeFilter(x.bucket) AND {CITY_FILTER}
        GROUP BY 1
        ORDER BY 1
    """,
    description="Scope 1 (fuel combustion), scope 2 (purchased electricity, heat, steam), "
    "and what stack monitors measured.",
    unit=TCO2,
    min_interval="15m",
    width=12,
)

_TOP_EMITTERS = table(
    "Top emitters",
    f"""
        SELECT e.name AS "enterprise", e.code AS "code", e.district AS "district",
               e.industry_code AS "industry", sum(x.tco2) AS "tCO2",
               sum(x.tce_equivalent) AS "tce",
               coalesce((SELECT {GRADE_TEXT} FROM grades g WHERE g.enterprise_code = e.code
                  AND g.model = 'huzhou' AND g.period_kind = 'rolling12'
                ORDER BY g.period_start DESC LIMIT 1), 'not graded')
                   AS "grade (rolling 12 months)"
        FROM {EMISSIONS}
        WHERE $__timeFilter(x.bucket) AND {CITY_FILTER}
        GROUP BY e.code
        HAVING sum(x.tco2) IS NOT NULL
        ORDER BY 5 DESC, 2
        LIMIT 10
    """,
    description="Calculated emissions in the range; the grade is the live rolling-12-month code.",
    width=12,
)

_GRADES = piechart(
    "Grade distribution (rolling 12 months)",
    f"""
        SELECT coalesce({GRADE_TEXT}, 'not graded') AS "grade", count(*) AS "enterprises"
        FROM {current("grades", "rolling12", " AND t.model = 'huzhou'")} g
        JOIN enterprises e ON e.code = g.enterprise_code
        WHERE {CITY_FILTER}
        GROUP BY 1
        ORDER BY 1
    """,
    description="Carbon-efficiency codes (碳效码, Huzhou bands): live estimates, labelled so.",
    width=8,
)

_TWO_HIGH = table(
    "两高 enterprises",
    f"""
        SELECT e.name AS "enterprise", e.code AS "code", e.district AS "district",
               e.industry_code AS "industry", a.tce_equivalent AS "tce (rolling 12 months)",
               a.tco2_total AS "tCO2 (rolling 12 months)", a.as_of AS "as of"
        FROM {current("account_periods", "rolling12")} a
        JOIN enterprises e ON e.code = a.enterprise_code
        WHERE (a.detail ->> 'two_high')::boolean AND {CITY_FILTER}
        ORDER BY 5 DESC, 2
    """,
    description="Energy-intensive divisions above the annual tce threshold (domain.md §7, "
    "accounts.two_high_* settings), judged on the live rolling 12 months.",
    width=16,
)

CITY = Dashboard(
    uid="carbonledger-city",
    title="City cockpit",
    description="Live emissions and energy of the key enterprises, by district and industry.",
    variables=(DISTRICT, INDUSTRY),
    panels=(
        _EMISSIONS_TODAY,
        _ENERGY_TODAY,
        _REPORTING,
        _CEMS_TODAY,
        _EMISSIONS_BY_DISTRICT,
        _EMISSIONS_BY_INDUSTRY,
        _TOP_EMITTERS,
        _EMISSIONS_BY_SCOPE,
        _GRADES,
        _TWO_HIGH,
        _today("electricity", "Electricity today", "kwatth"),
        _today("natural_gas", "Natural gas today (Nm³)", "none"),
        _today("steam", "Steam today (t)", "none"),
        _ELECTRICITY_BY_DISTRICT,
        _ELECTRICITY_BY_INDUSTRY,
        _ENERGY_BY_DISTRICT,
        _TOP_ELECTRICITY,
    ),
)
