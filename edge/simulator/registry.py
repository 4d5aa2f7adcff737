"""Write the simulated city into the registry (enterprises, gateways, meters).

The only simulator module that imports psycopg: gateways and the publisher never need a database
driver (architecture.md, ``edge/``), so it is imported by ``carbonledger simulate register`` alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from carbonledger import uscc

from .city import City


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
