"""Seed the registry with the simulated city, through the registry's own rules and writer.

The simulator is a client of the registry like a clerk with a file: its enterprises, gateways and
meters pass :func:`accounts.registry.parse_registry` and :func:`~accounts.registry.apply_registry`,
its economic data :func:`~accounts.registry.validate_economics` and
:func:`~accounts.registry.apply_economics`. So the one writer of those tables stays the registry,
and a generator bug cannot put a record in that an import would refuse.

The only simulator module that imports psycopg (through the registry): gateways and the publisher
never need a database driver, so it is imported by ``carbonledger simulate register`` alone.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from accounts.registry import (
    Problems,
    apply_economics,
    apply_registry,
    parse_registry,
    validate_economics,
)

from .city import City
from .economics import economic_data

SOURCE = "simulator"
_LABEL = Path("<simulated city>")


def register_city(conn: psycopg.Connection, city: City) -> tuple[int, int, int]:
    """Register the city's enterprises, gateways and meters in one transaction.

    Idempotent: running it again changes nothing already there. Returns how many (enterprises,
    gateways, meters) were added.
    """
    parsed = parse_registry(city_document(city), _LABEL)
    report = apply_registry(conn, parsed)
    return tuple(report.count(kind, "added") for kind in ("enterprise", "gateway", "meter"))  # type: ignore[return-value]


def city_document(city: City) -> dict[str, list[dict[str, Any]]]:
    """The city as a registry document: the tables a registry file would hold."""
    return {
        "enterprise": [
            {
                "code": e.code,
                "name": e.name,
                "industry_code": e.industry_code,
                "district": e.district,
                "size_class": e.size_class,
            }
            for e in city.enterprises
        ],
        "gateway": [{"id": g.id, "enterprise": g.enterprise_code} for g in city.gateways],
        "meter": [
            {
                "id": m.id,
                "enterprise": m.enterprise_code,
                "gateway": m.gateway_id,
                "carrier": m.carrier,
                "quantity": m.quantity,
                "unit": m.unit,
                "multiplier": Decimal(m.multiplier),
                **({"register_max": m.register_max} if m.register_max is not None else {}),
            }
            for m in city.meters
        ],
    }


def register_economics(conn: psycopg.Connection, city: City, through: date) -> int:
    """Write monthly economic data from January of the year before ``through`` to its month.

    Complete years before ``through``'s year also get a year row (the sum of their months), as
    the statistics office reports annual value added. Idempotent; rows submitted by anyone but
    the simulator are never overwritten. Returns how many rows were added or changed.
    """
    first = date(through.year - 1, 1, 1)
    rows: list[dict[str, str]] = []
    years: dict[tuple[str, int], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    units: dict[str, str] = {}
    for m in economic_data(city, first, through):
        rows.append(_row(m.enterprise_code, f"{m.month:%Y-%m}",
                         (m.value_added, m.revenue, m.output_quantity), m.output_unit))  # fmt: skip
        if m.month.year < through.year:
            total = years[(m.enterprise_code, m.month.year)]
            for i, value in enumerate((m.value_added, m.revenue, m.output_quantity)):
                total[i] += value
            units[m.enterprise_code] = m.output_unit
    for (code, year), (va, revenue, output) in years.items():
        row = _row(code, str(year), (va, revenue, output), units[code])
        rows.append(row | balance_sheet(city.seed, code, revenue))
    problems = Problems(_LABEL)
    records = validate_economics(enumerate(rows, start=1), problems, through)
    problems.raise_if_any()
    report = apply_economics(conn, _LABEL, records, source=SOURCE, keep_others=True)
    return sum(report.count("economic record", action) for action in ("added", "updated"))


def balance_sheet(seed: int, code: str, revenue: Decimal) -> dict[str, str]:
    """A year-end balance sheet (万元) in proportion to the year's revenue: most enterprises
    report equity and debt, some only total assets, some nothing (finance's fallbacks)."""
    rng = random.Random(f"{seed}:balance:{code}")
    kind = rng.random()
    equity = (revenue * Decimal(rng.randrange(60, 160)) / 100).quantize(Decimal(1))
    debt = (revenue * Decimal(rng.randrange(30, 120)) / 100).quantize(Decimal(1))
    if kind < 0.10:
        return {}
    if kind < 0.15:
        return {"total_assets": str(equity + debt + revenue // 10)}
    return {"total_equity": str(equity), "total_debt": str(debt)}


def _row(
    code: str, period: str, amounts: tuple[Decimal, Decimal, Decimal], unit: str
) -> dict[str, str]:
    va, revenue, output = amounts
    return {
        "enterprise_code": code,
        "period": period,
        "value_added": str(va),
        "revenue": str(revenue),
        "output_quantity": str(output),
        "output_unit": unit,
    }
