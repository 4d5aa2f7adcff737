"""A small registry and rollups written straight into the tables, for hand-computed accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

from carbonledger.tz import SHANGHAI

# codes pass the registry's pattern; the accounts do not check GB 32100 (the registry does)
DYEING = "91331102MA2A0DYE1X"  # 1713 印染: electricity, natural gas, diesel, purchased steam
PARTS = "91331181MA2B0PRT2Y"  # 3670 汽车部件: electricity with export, own PV
CEMENT = "91331123MA2C0CEM3Y"  # 3011 水泥: electricity, diesel, a CEMS stack


@dataclass(frozen=True)
class MeterSpec:
    id: str
    carrier: str
    quantity: str
    unit: str
    role: str | None = None


ENTERPRISES: dict[str, tuple[str, str, tuple[MeterSpec, ...]]] = {
    DYEING: (
        "丽水瓯江印染有限公司",
        "1713",
        (
            MeterSpec("dye-el1", "electricity", "energy_import", "kWh"),
            MeterSpec("dye-gas1", "natural_gas", "gas_volume", "Nm3"),
            MeterSpec("dye-dsl1", "diesel", "diesel_mass", "t"),
            MeterSpec("dye-stm1", "steam", "steam_mass", "t"),
        ),
    ),
    PARTS: (
        "龙泉括苍汽车部件有限公司",
        "3670",
        (
            MeterSpec("prt-el1", "electricity", "energy_import", "kWh"),
            MeterSpec("prt-pv1", "pv", "energy_generated", "kWh"),
        ),
    ),
    CEMENT: (
        "遂昌南明水泥有限公司",
        "3011",
        (
            MeterSpec("cem-el1", "electricity", "energy_import", "kWh"),
            MeterSpec("cem-dsl1", "diesel", "diesel_mass", "t"),
            MeterSpec("cem-cems1", "flue_gas", "co2_concentration", "mg/m3"),
        ),
    ),
}


def register(conn: psycopg.Connection, codes: Sequence[str] = tuple(ENTERPRISES)) -> None:
    for code in codes:
        name, industry, meters = ENTERPRISES[code]
        conn.execute(
            "INSERT INTO enterprises (code, name, industry_code, district) VALUES (%s, %s, %s, %s)",
            (code, name, industry, "莲都区"),
        )
        conn.execute(
            "INSERT INTO gateways (id, enterprise_code) VALUES (%s, %s)", (f"gw-{code[-6:]}", code)
        )
        for m in meters:
            conn.execute(
                "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit,"
                " role) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (m.id, code, f"gw-{code[-6:]}", m.carrier, m.quantity, m.unit, m.role),
            )


def local(text: str) -> datetime:
    """``2026-10-05 08:00`` in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def owner(meter: str) -> str:
    return next(code for code, (_, _, ms) in ENTERPRISES.items() if meter in {m.id for m in ms})


def rollup(
    conn: psycopg.Connection,
    meter: str,
    quantity: str,
    bucket: datetime,
    activity: str,
    *,
    covered_ms: int = 900_000,
    estimated_ms: int = 0,
) -> None:
    """One 15-minute rollup row with ``activity`` in the quantity's unit (exact)."""
    code = owner(meter)
    scale = 6 if quantity == "co2_mass" else 4
    fp = Decimal(activity).scaleb(scale)
    assert fp == fp.to_integral_value(), f"{activity} has more than {scale} decimals"
    conn.execute(
        "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
        " covered_ms, estimated_ms, readings_good) VALUES (%s, %s, %s, %s, %s, %s, %s, 60)",
        (bucket, code, meter, quantity, int(fp), covered_ms, estimated_ms),
    )


def economics(
    conn: psycopg.Connection,
    code: str,
    start: str,
    value_added: str | None,
    revenue: str | None,
    *,
    kind: str = "month",
) -> None:
    conn.execute(
        "INSERT INTO economic_data (enterprise_code, period_kind, period_start, value_added,"
        " revenue) VALUES (%s, %s, %s, %s, %s)",
        (code, kind, start, value_added, revenue),
    )


def every_bucket(start: datetime, end: datetime) -> list[datetime]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += timedelta(minutes=15)
    return out
