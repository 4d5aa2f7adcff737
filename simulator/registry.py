"""Write the simulated city into the registry (enterprises, gateways, meters, economic data).

The only simulator module that imports psycopg: gateways and the publisher never need a database
driver (architecture.md, ``edge/``), so it is imported by ``carbonledger simulate register`` alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import psycopg

from carbonledger import uscc

from .city import City
from .economics import economic_data


def register_city(conn: psycopg.Connection, city: City) -> tuple[int, int, int]:
    """Insert the city's enterprises, gateways and meters that are missing, in one transaction.

    Idempotent (``ON CONFLICT DO NOTHING``): running it again adds nothing and changes nothing
    already there. Every code is checked against GB 32100 first, so a generator bug can never put
    an invalid code in the registry. Returns how many (enterprises, gateways, meters) were added.
    """
    for enterprise in city.enterprises:
        uscc.validate(enterprise.code)
    enterprises = _columns((e.code, e.name, e.industry_code, e.district) for e in city.enterprises)
    gateways = _columns((g.id, g.enterprise_code) for g in city.gateways)
    meters = _columns(
        (
            m.id,
            m.enterprise_code,
            m.gateway_id,
            m.carrier,
            m.quantity,
            m.unit,
            m.multiplier,
            m.register_max,
        )
        for m in city.meters
    )
    # One INSERT ... SELECT FROM unnest per table: a single statement, so rowcount is exactly the
    # number of rows added.
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO enterprises (code, name, industry_code, district)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])"
            " ON CONFLICT DO NOTHING",
            enterprises,
        )
        added_enterprises = cur.rowcount
        cur.execute(  # enterprises registered before size classes were kept
            "UPDATE enterprises e SET size_class = c.size_class, updated_at = now()"
            " FROM unnest(%s::text[], %s::text[]) AS c(code, size_class)"
            " WHERE e.code = c.code AND e.size_class IS DISTINCT FROM c.size_class",
            _columns((e.code, e.size_class) for e in city.enterprises),
        )
        cur.execute(
            "INSERT INTO gateways (id, enterprise_code)"
            " SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING",
            gateways,
        )
        added_gateways = cur.rowcount
        cur.execute(
            "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit,"
            " multiplier, register_max) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[],"
            " %s::text[], %s::text[], %s::text[], %s::numeric[], %s::numeric[])"
            " ON CONFLICT DO NOTHING",
            meters,
        )
        added_meters = cur.rowcount
    return added_enterprises, added_gateways, added_meters


def _columns(rows: Iterable[tuple[object, ...]]) -> list[list[object]]:
    """Rows as one list per column: the arrays ``unnest`` turns back into rows."""
    return [list(column) for column in zip(*rows, strict=True)]


_ECONOMICS = """
INSERT INTO economic_data (enterprise_code, period_kind, period_start, value_added, revenue,
                           output_quantity, output_unit, source)
SELECT code, kind, start, va, revenue, output, unit, 'simulator'
FROM unnest(%s::text[], %s::text[], %s::date[], %s::numeric[], %s::numeric[], %s::numeric[],
            %s::text[]) AS t(code, kind, start, va, revenue, output, unit)
ON CONFLICT (enterprise_code, period_kind, period_start) DO UPDATE SET
    value_added = EXCLUDED.value_added, revenue = EXCLUDED.revenue,
    output_quantity = EXCLUDED.output_quantity, output_unit = EXCLUDED.output_unit,
    submitted_at = now()
WHERE economic_data.source = 'simulator'
  AND (economic_data.value_added, economic_data.revenue, economic_data.output_quantity,
       economic_data.output_unit)
      IS DISTINCT FROM (EXCLUDED.value_added, EXCLUDED.revenue, EXCLUDED.output_quantity,
                        EXCLUDED.output_unit)
"""


def register_economics(conn: psycopg.Connection, city: City, through: date) -> int:
    """Write monthly economic data from January of the year before ``through`` to its month.

    Complete years before ``through``'s year also get a year row (the sum of their months), as
    the statistics office reports annual value added. Idempotent; rows submitted by anyone but
    the simulator are never overwritten. Returns how many rows were added or changed.
    """
    first = date(through.year - 1, 1, 1)
    rows: list[tuple[str, str, date, Decimal, Decimal, Decimal, str]] = []
    years: dict[tuple[str, int], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    units: dict[str, str] = {}
    for m in economic_data(city, first, through):
        rows.append((m.enterprise_code, "month", m.month, m.value_added, m.revenue,
                     m.output_quantity, m.output_unit))  # fmt: skip
        if m.month.year < through.year:
            total = years[(m.enterprise_code, m.month.year)]
            for i, value in enumerate((m.value_added, m.revenue, m.output_quantity)):
                total[i] += value
            units[m.enterprise_code] = m.output_unit
    for (code, year), (va, revenue, output) in years.items():
        rows.append((code, "year", date(year, 1, 1), va, revenue, output, units[code]))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_ECONOMICS, _columns(rows))
        return cur.rowcount
