"""SQL pieces several dashboards share: variables, filters and the booked-activity join.

Queries are written the way Grafana's PostgreSQL data source takes them: ``$__timeFilter(col)``,
``$__timeGroupAlias(col, $__interval)``, ``$__timeFrom()``/``$__timeTo()`` and ``$variables``.
Days and months are cut at local midnight in Asia/Shanghai with ``date_trunc(unit, ts, zone)``,
never with ``$__timeGroup`` (whose buckets are UTC-aligned).
"""

from __future__ import annotations

from dashboards._model import QueryVariable, TextVariable

ZONE = "Asia/Shanghai"

DISTRICT = QueryVariable(
    "district",
    "District",
    "SELECT DISTINCT district FROM enterprises ORDER BY 1",
    multi=True,
    include_all=True,
)
INDUSTRY = QueryVariable(
    "industry",
    "Industry (GB/T 4754 division)",
    "SELECT DISTINCT left(industry_code, 2) FROM enterprises ORDER BY 1",
    multi=True,
    include_all=True,
)
ENTERPRISE = QueryVariable(
    "enterprise",
    "Enterprise",
    "SELECT name || ' ' || code AS __text, code AS __value FROM enterprises ORDER BY name",
)
OFFLINE_MINUTES = TextVariable("offline_minutes", "Offline after (minutes silent)", "15")

# enterprises e of the selected districts and industries
CITY_FILTER = "e.district IN ($district) AND left(e.industry_code, 2) IN ($industry)"

# The local day that contains the end of the dashboard's range, as timestamptz bounds.
LOCAL_DAY_START = f"date_trunc('day', $__timeTo()::timestamptz, '{ZONE}')"

# Booked activity: a meter's rollup of the quantity the registry books it by (meters.quantity),
# in that quantity's unit; a CEMS meter's co2_mass is measured emissions, not energy.
BOOKED = (
    "rollups_15m_activity r"
    " JOIN meters m ON m.id = r.meter_id AND m.quantity = r.quantity"
    " JOIN enterprises e ON e.code = r.enterprise_code"
)


def local(unit: str, column: str) -> str:
    """``column`` truncated to the local (Asia/Shanghai) ``unit`` ('day', 'month'), as time."""
    return f"date_trunc('{unit}', {column}, '{ZONE}')"


# Live emissions per meter and bucket from the accounts (emissions_15m, migration 0008): tco2 is
# the calculated scope 1/2 emission (signed: exports negative), tco2_measured the CEMS stack's.
EMISSIONS = "emissions_15m x JOIN enterprises e ON e.code = x.enterprise_code"

TCO2 = "suffix: tCO₂"
TCE = "suffix: tce"


def current(table: str, kind: str, where: str = "") -> str:
    """The newest non-superseded row of ``table`` per enterprise for period ``kind``."""
    status = " AND t.status <> 'superseded'" if table == "account_periods" else ""
    return (
        f"(SELECT DISTINCT ON (t.enterprise_code) t.* FROM {table} t"
        f" WHERE t.period_kind = '{kind}'{status}{where}"
        " ORDER BY t.enterprise_code, t.period_start DESC)"
    )


# A Huzhou grade as the accounts show it: 高碳3级, or 3级 on the revenue basis (no level).
GRADE_TEXT = "coalesce(g.level, '') || g.grade || '级'"
