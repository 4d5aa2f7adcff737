"""The ecology bureau's live city cockpit (可视化驾驶舱): the city by district and industry."""

from __future__ import annotations

from dashboards._model import Dashboard, Format, Kind, Panel, Sql
from dashboards._sql import BOOKED, CITY_FILTER, DISTRICT, INDUSTRY, LOCAL_DAY_START


def _today(carrier: str, title: str, unit: str) -> Panel:
    return Panel(
        title,
        Kind.STAT,
        (
            Sql(f"""
                SELECT coalesce(sum(r.activity), 0) AS "{carrier}"
                FROM {BOOKED}
                WHERE r.bucket >= {LOCAL_DAY_START} AND r.bucket < $__timeTo()
                  AND m.carrier = '{carrier}' AND {CITY_FILTER}
            """),
        ),
        description="Booked activity since local midnight (Asia/Shanghai) of the range's end day.",
        unit=unit,
        decimals=0,
        width=4,
        height=4,
    )


_REPORTING = Panel(
    "Enterprises reporting",
    Kind.STAT,
    (
        Sql(f"""
            SELECT count(DISTINCT r.enterprise_code) AS "reporting",
                   (SELECT count(*) FROM enterprises e WHERE {CITY_FILTER}) AS "registered"
            FROM rollups_15m r JOIN enterprises e ON e.code = r.enterprise_code
            WHERE r.bucket >= $__timeTo()::timestamptz - interval '30 minutes'
              AND r.bucket < $__timeTo() AND r.covered_ms > 0 AND {CITY_FILTER}
        """),
    ),
    description="Enterprises with any metered time in the last 30 minutes of the range.",
    width=8,
    height=4,
)

_ELECTRICITY_BY_DISTRICT = Panel(
    "Electricity by district",
    Kind.TIMESERIES,
    (
        Sql(
            f"""
            SELECT $__timeGroupAlias(r.bucket, $__interval), e.district AS metric,
                   sum(r.activity) AS "kWh"
            FROM {BOOKED}
            WHERE $__timeFilter(r.bucket) AND m.carrier = 'electricity' AND {CITY_FILTER}
            GROUP BY 1, 2
            ORDER BY 1
            """,
            Format.TIME_SERIES,
        ),
    ),
    description="Purchased electricity per interval (at least the 15-minute bucket).",
    unit="kwatth",
    min_interval="15m",
    stacked=True,
    width=16,
)

_ELECTRICITY_BY_INDUSTRY = Panel(
    "Electricity by industry",
    Kind.BARCHART,
    (
        Sql(f"""
            SELECT left(e.industry_code, 2) AS "division", sum(r.activity) AS "kWh"
            FROM {BOOKED}
            WHERE $__timeFilter(r.bucket) AND m.carrier = 'electricity' AND {CITY_FILTER}
            GROUP BY 1
            ORDER BY 2 DESC
        """),
    ),
    description="Purchased electricity in the range, by GB/T 4754 division.",
    unit="kwatth",
    width=8,
)

_ENERGY_BY_DISTRICT = Panel(
    "Energy by district and carrier",
    Kind.TABLE,
    (
        Sql(f"""
            SELECT e.district AS "district", m.carrier AS "carrier", r.unit AS "unit",
                   sum(r.activity) AS "activity", count(DISTINCT r.enterprise_code) AS "enterprises"
            FROM {BOOKED}
            WHERE $__timeFilter(r.bucket) AND {CITY_FILTER}
            GROUP BY 1, 2, 3
            ORDER BY 1, 2
        """),
    ),
    description="Booked activity in the range, each carrier in its metered unit.",
    width=12,
)

_TOP_ELECTRICITY = Panel(
    "Top electricity users",
    Kind.TABLE,
    (
        Sql(f"""
            SELECT e.name AS "enterprise", e.code AS "code", e.district AS "district",
                   e.industry_code AS "industry", sum(r.activity) AS "kWh"
            FROM {BOOKED}
            WHERE $__timeFilter(r.bucket) AND m.carrier = 'electricity' AND {CITY_FILTER}
            GROUP BY e.code
            ORDER BY 5 DESC, 2
            LIMIT 10
        """),
    ),
    width=12,
)

_CEMS_TODAY = Panel(
    "CEMS-measured CO₂ today",
    Kind.STAT,
    (
        Sql(f"""
            SELECT coalesce(sum(r.activity), 0) AS "tCO2 measured"
            FROM rollups_15m_activity r JOIN enterprises e ON e.code = r.enterprise_code
            WHERE r.bucket >= {LOCAL_DAY_START} AND r.bucket < $__timeTo()
              AND r.quantity = 'co2_mass' AND {CITY_FILTER}
        """),
    ),
    description="Stack CO₂ measured by CEMS (HJ 75-2017) since local midnight.",
    unit="masst",
    decimals=2,
    width=4,
    height=4,
)

CITY = Dashboard(
    uid="carbonledger-city",
    title="City cockpit",
    description="Live emissions and energy of the key enterprises, by district and industry.",
    variables=(DISTRICT, INDUSTRY),
    panels=(
        _today("electricity", "Electricity today", "kwatth"),
        _today("natural_gas", "Natural gas today (Nm³)", "none"),
        _today("steam", "Steam today (t)", "none"),
        _CEMS_TODAY,
        _REPORTING,
        _ELECTRICITY_BY_DISTRICT,
        _ELECTRICITY_BY_INDUSTRY,
        _ENERGY_BY_DISTRICT,
        _TOP_ELECTRICITY,
    ),
)
