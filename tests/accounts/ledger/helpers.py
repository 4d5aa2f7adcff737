"""A small registry and rollups written straight into the tables, for hand-computed accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg

from accounts.ledger._inputs import EconomicRow, Enterprise, MonthActivity
from accounts.ledger._library import read_library
from accounts.ledger._model import EnterpriseInfo
from accounts.ledger._policy import Factor, FactorLibrary
from carbonledger.config import AccountsSettings
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


# --- the same as plain inputs (no database) --------------------------------------------------

# (carrier, quantity) -> role, scope, sign, unit, scale: what booked_rollups derives
_BOOKED = {
    ("electricity", "energy_import"): ("purchased", 2, 1, "kWh", 4),
    ("electricity", "energy_export"): ("exported", 2, -1, "kWh", 4),
    ("pv", "energy_generated"): ("own_generation", None, 1, "kWh", 4),
    ("natural_gas", "gas_volume"): ("combustion", 1, 1, "Nm3", 4),
    ("diesel", "diesel_mass"): ("combustion", 1, 1, "t", 4),
    ("steam", "steam_mass"): ("purchased", 2, 1, "t", 4),
    ("flue_gas", "co2_mass"): ("measured", None, 1, "t", 6),
}


def library(settings: AccountsSettings | None = None) -> FactorLibrary:
    """The packaged factor files as the ledger sees them once loaded (no database)."""
    factors = [
        Factor(
            e.id, e.version, e.kind, e.subject, e.series, e.value, e.unit, e.ncv, e.ncv_unit,
            e.carbon_content, e.oxidation, e.guideline, e.source, e.document, e.data_year,
            e.published, e.region, e.valid_from, e.valid_to, e.verify,
        )
        for e in (loaded.entry for loaded in read_library())
    ]  # fmt: skip
    return FactorLibrary(factors, settings or AccountsSettings())


def enterprise(code: str) -> Enterprise:
    name, industry, meters = ENTERPRISES[code]
    info = EnterpriseInfo(code=code, name=name, industry_code=industry, district="莲都区")
    booked = {m.id: "co2_mass" if m.carrier == "flue_gas" else m.quantity for m in meters}
    return Enterprise(info, booked)


def carrier_of(meter: str) -> str:
    return next(m.carrier for _, _, ms in ENTERPRISES.values() for m in ms if m.id == meter)


def month_activity(
    meter: str,
    quantity: str,
    buckets: Sequence[tuple[datetime, str]],
    *,
    covered_ms: int = 900_000,
    estimated_ms: int = 0,
) -> MonthActivity:
    """What ``rollup`` rows of one meter, quantity and local month sum to in booked_rollups."""
    carrier = carrier_of(meter)
    role, scope, sign, unit, scale = _BOOKED[(carrier, quantity)]
    months = {date(b.year, b.month, 1) for b, _ in buckets}
    assert len(months) == 1, "one local month"
    return MonthActivity(
        meter_id=meter,
        carrier=carrier,
        quantity=quantity,
        role=role,
        source=carrier,
        scope=scope,
        sign=sign,
        unit=unit,
        scale=scale,
        month=months.pop(),
        activity_fp=sum(int(Decimal(a).scaleb(scale)) for _, a in buckets),
        covered_ms=covered_ms * len(buckets),
        estimated_ms=estimated_ms * len(buckets),
        buckets=len(buckets),
        last_bucket=max(b for b, _ in buckets),
    )


def economic_row(start: str, value_added: str | None, revenue: str | None) -> EconomicRow:
    return EconomicRow(
        kind="month",
        start=date.fromisoformat(start),
        value_added=None if value_added is None else Decimal(value_added),
        revenue=None if revenue is None else Decimal(revenue),
        output_quantity=None,
        output_unit=None,
    )
